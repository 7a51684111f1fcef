package io.denoise.pipeline;

/** Thrown by a generation that was cancelled; {@link #stepsDone()} steps had finished. */
public final class GenerationCancelledException extends RuntimeException {

    private final int stepsDone;

    public GenerationCancelledException(int stepsDone) {
        super("generation cancelled after " + stepsDone + " steps");
        this.stepsDone = stepsDone;
    }

    public int stepsDone() {
        return stepsDone;
    }
}
