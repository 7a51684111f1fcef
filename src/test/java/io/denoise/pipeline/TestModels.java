package io.denoise.pipeline;

import java.nio.file.Path;

/** The bundled models, from the repository root (where Maven runs the tests). */
final class TestModels {

    static final Path TINY = Path.of("models", "tiny-random");
    static final Path SHAPES = Path.of("models", "shapes");
    static final Path SHAPES_FP16 = Path.of("models", "shapes-fp16");

    private TestModels() {
    }
}
