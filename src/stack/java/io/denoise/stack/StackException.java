package io.denoise.stack;

/** A stack component could not be prepared, started or stopped; the message says which and why. */
public class StackException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed, usually with the tail of the component's log
     */
    public StackException(String message) {
        super(message);
    }

    /**
     * @param message what failed
     * @param cause the underlying error
     */
    public StackException(String message, Throwable cause) {
        super(message, cause);
    }
}
