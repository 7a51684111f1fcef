package io.denoise.pipeline;

/** A request the model cannot serve; {@link #field()} names the offending request field. */
public final class InvalidRequestException extends IllegalArgumentException {

    private final String field;

    public InvalidRequestException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
