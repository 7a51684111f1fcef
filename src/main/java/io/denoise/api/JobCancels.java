package io.denoise.api;

import io.denoise.jobs.JobStore;
import io.denoise.messaging.EventPublisher;
import io.denoise.messaging.JobEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.UUID;

/**
 * Cancels a job, for {@code DELETE /v1/jobs/{id}} and for every cell of a cancelled sweep: a queued job ends at
 * once (with its terminal event), a running one is asked to stop through the cancel broadcast.
 */
@ApplicationScoped
public class JobCancels {

    @Inject
    JobStore store;

    @Inject
    EventPublisher events;

    public JobStore.CancelOutcome cancel(UUID jobId) {
        JobStore.CancelOutcome outcome = store.requestCancel(jobId);
        switch (outcome) {
            case CANCELLED -> events.publish(JobEvent.of(jobId, 0, JobEvent.FINAL_SEQ, JobEvent.CANCELLED));
            case REQUESTED -> events.broadcastCancel(jobId);
            default -> { }
        }
        return outcome;
    }
}
