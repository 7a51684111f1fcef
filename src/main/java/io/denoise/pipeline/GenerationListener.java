package io.denoise.pipeline;

/**
 * Receives a generation's progress on the generating thread; implementations should return quickly.
 * An exception thrown here aborts the generation.
 */
public interface GenerationListener {

    /** Called after every denoising step. */
    default void onStep(StepProgress progress) {
    }

    /** Called as each image is decoded, before the generation returns. */
    default void onImage(GeneratedImage image) {
    }

    /** A listener that ignores everything. */
    GenerationListener NONE = new GenerationListener() {
    };
}
