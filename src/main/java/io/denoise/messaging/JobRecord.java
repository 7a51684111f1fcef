package io.denoise.messaging;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.UUID;

/**
 * The value of a record on {@code denoise.jobs.<model>}: which job to run. Everything else is read from the job's
 * row when a worker claims it, so the record stays small and a job's parameters live in one place.
 */
public record JobRecord(UUID jobId, String model) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The record's value as the topic carries it. */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
