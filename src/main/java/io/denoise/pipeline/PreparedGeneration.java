package io.denoise.pipeline;

import io.denoise.recipe.GenerationRequest;

/**
 * A generation made ready to be denoised, alone ({@link TextToImagePipeline#generate}) or in a {@link BatchedLoop}: its request checked, its prompt encoded, its timesteps set
 * and its latents prepared (the init image encoded, for image-to-image) — the work that is the generation's alone,
 * done on the caller's thread so that a loop's shared steps do not wait for it. Made by
 * {@link TextToImagePipeline#prepare}; owns native memory until a loop takes it ({@link BatchedLoop#add(PreparedGeneration)}),
 * after which {@link #close()} does nothing. Not thread-safe: handed from one thread to another, not shared.
 */
public final class PreparedGeneration implements AutoCloseable {

    final Generation generation;
    final GenerationListener listener;
    final Cancellation cancel;
    /** When preparing began, for the generation's wall time. */
    final long start;
    private boolean taken;
    private boolean closed;

    PreparedGeneration(Generation generation, GenerationListener listener, Cancellation cancel, long start) {
        this.generation = generation;
        this.listener = listener;
        this.cancel = cancel;
        this.start = start;
    }

    public GenerationRequest request() {
        return generation.request();
    }

    /** Hands the generation to a loop, which frees it from then on. */
    Generation take() {
        if (taken || closed) {
            throw new IllegalStateException("the prepared generation was already " + (taken ? "taken" : "closed"));
        }
        taken = true;
        return generation;
    }

    /** Frees the generation unless a loop took it; once. */
    @Override
    public void close() {
        if (taken || closed) {
            return;
        }
        closed = true;
        try {
            cancel.detach();
        } finally {
            generation.close();
        }
    }
}
