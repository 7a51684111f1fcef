package io.denoise.recipe;

/**
 * A request field that breaks a rule: {@link #field()} names it, {@link #rule()} says what it must be. The API
 * answers it with a 400; the worker fails the job with it.
 */
public final class InvalidRequestException extends IllegalArgumentException {

    private final String field;
    private final String rule;

    public InvalidRequestException(String field, String rule) {
        super(field + ": " + rule);
        this.field = field;
        this.rule = rule;
    }

    public String field() {
        return field;
    }

    public String rule() {
        return rule;
    }
}
