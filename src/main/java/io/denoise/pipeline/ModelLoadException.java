package io.denoise.pipeline;

/** A model directory that cannot be used: a missing file, or a tensor that does not match the contract. */
public class ModelLoadException extends RuntimeException {

    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
