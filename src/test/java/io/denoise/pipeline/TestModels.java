package io.denoise.pipeline;

import java.nio.file.Path;

/** The bundled models, from the repository root (where Maven runs the tests). */
final class TestModels {

    static final Path TINY = Path.of("models", "tiny-random");
    static final Path SHAPES = Path.of("models", "shapes");
    static final Path SHAPES_FP16 = Path.of("models", "shapes-fp16");
    /** A model from diffusers' own ONNX exporter (v0.19.3): VAE scale factor 2, no config.json, no denoise.json. */
    static final Path TINY_SD = Path.of("src", "test", "resources", "real-export", "tiny-sd");
    /** What diffusers' PyTorch pipeline computed, stage by stage, on {@link #TINY_SD}'s weights. */
    static final Path TINY_SD_REFERENCE = Path.of("src", "test", "resources", "real-export", "tiny-sd-reference");

    private TestModels() {
    }
}
