package io.denoise.api;

/** A request field that breaks a rule; answered with 400 naming the field and the rule. */
public final class InvalidFieldException extends RuntimeException {

    private final String field;

    public InvalidFieldException(String field, String rule) {
        super(rule);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
