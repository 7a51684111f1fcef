package io.denoise.worker;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.nio.file.Path;
import java.util.List;

/** The models a worker serves and how ONNX Runtime runs them. */
@ConfigMapping(prefix = "denoise.models")
public interface ModelsConfig {

    /** Directory holding one sub-directory per model (default {@code models}). */
    @WithDefault("models")
    Path dir();

    /** Models this worker loads and serves (default {@code shapes}). */
    @WithDefault("shapes")
    List<String> serve();

    /** {@code cpu}, {@code cuda} or {@code auto} (default {@code auto}: CUDA when it initialises, else CPU). */
    @WithDefault("auto")
    String device();

    /** CUDA device ordinal (default 0). */
    @WithDefault("0")
    int cudaDeviceId();

    /** ONNX Runtime intra-op threads; 0 = one per core (default 0). */
    @WithDefault("0")
    int intraOpThreads();

    /**
     * Whether ONNX Runtime's threads spin while they wait for work: {@code on}, {@code off}, or {@code auto}
     * (default): off when this process also runs the API role, whose requests need the cores the spinning would
     * take, on for a worker alone.
     */
    @WithDefault("auto")
    String spin();
}
