package io.denoise.api;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * Every error response: a machine-readable {@code error}, the offending {@code field} for validation errors,
 * and a human-readable {@code message}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ErrorBody(String error, String field, String message) {

    static ErrorBody invalid(String field, String message) {
        return new ErrorBody("invalid_request", field, field + " " + message);
    }

    static ErrorBody of(String error, String message) {
        return new ErrorBody(error, null, message);
    }
}
