package io.denoise.messaging;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.time.Instant;
import java.util.UUID;

/**
 * An event on {@code denoise.events}, keyed by job id. {@code seq} increases with every event of a job, across
 * attempts ({@code attempt << 20 | n}), so a consumer can order them and resume after the last one it saw.
 * Fields that do not apply to a type are absent.
 *
 * @param type       {@code started}, {@code progress}, {@code image}, {@code succeeded}, {@code failed}, {@code cancelled}
 * @param elapsedMs  progress: since the denoising loop started; succeeded: the whole generation's time in the
 *                   pipeline (encode, denoise, decode), so the service's own overhead can be told apart
 * @param preview    progress: a small base64 PNG of image 0, when previews were asked for
 * @param index      image: its position; seed, key likewise
 * @param code       failed: a machine-readable reason; message: a human-readable one
 * @param timing     succeeded: where the attempt's time went, so the worker's own overhead shows apart
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobEvent(
        UUID jobId,
        int attempt,
        long seq,
        String type,
        Instant at,
        Integer step,
        Integer totalSteps,
        Double timestep,
        Long elapsedMs,
        Long etaMs,
        String preview,
        Integer index,
        String seed,
        String key,
        String code,
        String message,
        Timing timing) {

    /**
     * Where a successful attempt's time went.
     *
     * @param loopMs          the denoising loop's wall time, first step to last
     * @param loopInferenceMs of which inside ONNX Runtime
     * @param attemptMs       the attempt's wall time in the worker, from its claim to its finish write
     * @param generateMs      of which the generation (prompt, loop, decoding), as the pipeline measured it
     * @param uploadWaitMs    then the wait for the image uploads still running (each starts as its image is decoded)
     * @param finishMs        then the finish write
     */
    public record Timing(double loopMs, double loopInferenceMs, double attemptMs, double generateMs, double uploadWaitMs,
                         double finishMs) {
    }

    /**
     * The seq of a terminal event written for a job by someone other than a running attempt (a queued job
     * cancelled, a record rejected): nothing can follow it.
     */
    public static final long FINAL_SEQ = Long.MAX_VALUE;

    public static final String STARTED = "started";
    public static final String PROGRESS = "progress";
    public static final String IMAGE = "image";
    public static final String SUCCEEDED = "succeeded";
    public static final String FAILED = "failed";
    public static final String CANCELLED = "cancelled";

    /** Whether this event ends the job. */
    @JsonIgnore
    public boolean isTerminal() {
        return type.equals(SUCCEEDED) || type.equals(FAILED) || type.equals(CANCELLED);
    }

    public static JobEvent of(UUID jobId, int attempt, long seq, String type) {
        return new JobEvent(jobId, attempt, seq, type, Instant.now(), null, null, null, null, null, null, null, null, null,
                null, null, null);
    }

    public static JobEvent progress(UUID jobId, int attempt, long seq, int step, int totalSteps, double timestep,
                                    long elapsedMs, long etaMs, String preview) {
        return new JobEvent(jobId, attempt, seq, PROGRESS, Instant.now(), step, totalSteps, timestep, elapsedMs, etaMs,
                preview, null, null, null, null, null, null);
    }

    public static JobEvent succeeded(UUID jobId, int attempt, long seq, long pipelineMs, Timing timing) {
        return new JobEvent(jobId, attempt, seq, SUCCEEDED, Instant.now(), null, null, null, pipelineMs, null, null,
                null, null, null, null, null, timing);
    }

    public static JobEvent image(UUID jobId, int attempt, long seq, int index, String seed, String key) {
        return new JobEvent(jobId, attempt, seq, IMAGE, Instant.now(), null, null, null, null, null, null, index, seed,
                key, null, null, null);
    }

    public static JobEvent failed(UUID jobId, int attempt, long seq, String code, String message) {
        return new JobEvent(jobId, attempt, seq, FAILED, Instant.now(), null, null, null, null, null, null, null, null,
                null, code, message, null);
    }
}
