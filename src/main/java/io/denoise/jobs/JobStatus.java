package io.denoise.jobs;

import java.util.EnumSet;
import java.util.Set;

/**
 * A job's lifecycle: {@code QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED}. A RUNNING job whose lease
 * expired may be claimed again (RUNNING → RUNNING, attempt + 1); a QUEUED job may be cancelled or failed
 * (a record that cannot be delivered) without running. Terminal states never change.
 */
public enum JobStatus {
    QUEUED,
    RUNNING,
    SUCCEEDED,
    FAILED,
    CANCELLED;

    /** Whether the job has ended. */
    public boolean isTerminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }

    /** The states a job may move to {@code target} from. */
    public static Set<JobStatus> sourcesOf(JobStatus target) {
        return switch (target) {
            case QUEUED -> EnumSet.noneOf(JobStatus.class);
            case RUNNING -> EnumSet.of(QUEUED, RUNNING);
            case SUCCEEDED -> EnumSet.of(RUNNING);
            case FAILED, CANCELLED -> EnumSet.of(QUEUED, RUNNING);
        };
    }

    /** Whether {@code this → target} is a legal transition. */
    public boolean canMoveTo(JobStatus target) {
        return sourcesOf(target).contains(this);
    }
}
