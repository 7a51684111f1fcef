package io.denoise.pipeline;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.file.Path;

/**
 * The VAE encoder used by image-to-image: {@code sample [batch, 3, h, w]} in [-1, 1] →
 * {@code latent_sample [batch, channels, h/s, w/s] (s: the VAE scale factor)} (unscaled). The bundled models export the latent
 * distribution's mean, so encoding is deterministic; the standard diffusers export samples from the distribution
 * inside the graph, with ONNX Runtime's own random numbers, which the seed does not control. Thread-safe.
 */
public final class VaeEncoder extends ModelPart {

    static final String SAMPLE = "sample";

    private final ElementType floatType;
    private final String outputName;

    public VaeEncoder(Path dir, SessionFactory sessions) {
        super("vae_encoder", dir, sessions);
        try {
            TensorInfo in = input(SAMPLE);
            this.floatType = floatType(in, SAMPLE);
            shape(in, SAMPLE, 4);
            this.outputName = outputNamed("latent_sample");
            shape(output(outputName), outputName, 4);
            floatType(output(outputName), outputName);
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    /**
     * Encodes images.
     *
     * @param pixels [batch, 3, h, w] in [-1, 1]
     * @return the unscaled latents [batch, channels, h/s, w/s] (s: the VAE scale factor)
     */
    public float[] encode(OrtEnvironment env, float[] pixels, long[] shape, OrtSession.RunOptions runOptions,
                          InferenceStats stats) throws OrtException {
        return runFloat(env, SAMPLE, floatType, pixels, shape, outputName, runOptions, stats);
    }
}
