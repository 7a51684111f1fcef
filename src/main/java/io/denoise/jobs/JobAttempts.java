package io.denoise.jobs;

import io.denoise.recipe.GenerationRequest;

import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * What a worker writes to a job it runs, and nothing else: claim, heartbeats, the finish, and failing a job
 * whose record cannot be processed. Every write after the claim is fenced by the attempt number, so a worker
 * that lost its claim cannot overwrite the job. {@link JobStore} is the implementation; worker tests use fakes.
 */
public interface JobAttempts {

    /** How a claim went. */
    enum ClaimOutcome {
        /** This worker holds the job now. */
        CLAIMED,
        /** The job has ended already: the record is a duplicate. */
        FINISHED,
        /** Another worker holds an unexpired lease. */
        HELD,
        /** Cancellation was requested before it ran; the job is now CANCELLED. */
        CANCELLED,
        /** The job had used up its attempts (earlier ones died without finishing); it is now FAILED. */
        EXHAUSTED,
        /** No such job. */
        MISSING
    }

    /** A claim attempt's result; {@code job} is the job as it is after the claim (null when missing). */
    record Claim(ClaimOutcome outcome, Job job) {
    }

    /** What a running job's worker learns when it reports progress or renews its lease. */
    enum Heartbeat {
        /** Carry on. */
        CONTINUE,
        /** A user asked to cancel. */
        CANCEL_REQUESTED,
        /** The claim was lost (lease expired and another worker took over, or the job ended). */
        LOST
    }

    /**
     * Claims a job: QUEUED, or RUNNING with an expired lease → RUNNING, attempt + 1, lease until now +
     * {@code lease}, remembering the record's delivery count; a job that asked to be cancelled becomes
     * CANCELLED and one that used up {@code maxAttempts} becomes FAILED instead.
     */
    Claim claim(UUID id, String workerId, Duration lease, int deliveries, int maxAttempts);

    /** Records progress of a running attempt. */
    Heartbeat progress(UUID id, int attempt, int step, int totalSteps);

    /** Extends a running attempt's lease to now + {@code lease}. */
    Heartbeat renewLease(UUID id, int attempt, Duration lease);

    /** Ends a running attempt's lease now, so another worker may take the job over at once. */
    boolean releaseLease(UUID id, int attempt);

    /**
     * RUNNING → SUCCEEDED with its images, if {@code attempt} still holds the job; its progress becomes
     * {@code totalSteps} of {@code totalSteps} (the steps the pipeline ran: fewer than asked for image-to-image).
     */
    boolean succeed(UUID id, int attempt, int totalSteps, List<JobImage> images);

    /** → FAILED with a reason, if {@code attempt} still holds the job. */
    boolean fail(UUID id, int attempt, String code, String message);

    /** → FAILED for a job no worker holds: its record could not be processed. */
    boolean failUnclaimed(UUID id, String code, String message);

    /** RUNNING → CANCELLED, if {@code attempt} still holds the job. */
    boolean cancelled(UUID id, int attempt);

    /** The parameters of a job. */
    GenerationRequest parameters(Job job);
}
