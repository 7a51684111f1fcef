package io.denoise.messaging;

import java.util.UUID;

/**
 * The value of a record on {@code denoise.jobs.<model>}: which job to run. Everything else is read from the job's
 * row when a worker claims it, so the record stays small and a job's parameters live in one place.
 */
public record JobRecord(UUID jobId, String model) {
}
