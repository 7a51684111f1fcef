package io.denoise.worker;

import io.denoise.jobs.Job;
import io.denoise.jobs.JobImage;
import io.denoise.jobs.JobParameters;
import io.denoise.jobs.JobStore;
import io.denoise.messaging.EventPublisher;
import io.denoise.messaging.JobEvent;
import io.denoise.pipeline.Cancellation;
import io.denoise.pipeline.GeneratedImage;
import io.denoise.pipeline.GenerationCancelledException;
import io.denoise.pipeline.GenerationListener;
import io.denoise.pipeline.GenerationRequest;
import io.denoise.pipeline.GenerationResult;
import io.denoise.pipeline.InvalidRequestException;
import io.denoise.pipeline.StepProgress;
import io.denoise.pipeline.TextToImagePipeline;
import io.denoise.storage.ImageStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.sql.SQLException;
import jakarta.persistence.PersistenceException;
import java.io.IOException;

/**
 * Runs one job: claim (lease + attempt fencing) → pipeline, with a progress event and a database heartbeat per
 * step → images to S3 at deterministic keys → finish guarded by the attempt. It answers how the job's Kafka record
 * should be acknowledged: ACCEPT once the job's outcome is written (or it was a duplicate), RELEASE when a
 * transient failure (S3 or the database briefly down) or a shutdown interrupted it, after giving the lease back so
 * the next worker can take over at once.
 */
@ApplicationScoped
public class JobRunner {

    private static final Logger LOG = Logger.getLogger(JobRunner.class);

    /** How the job's record is to be acknowledged. */
    public enum Outcome { ACCEPT, RELEASE, REJECT }

    @Inject
    JobStore store;

    @Inject
    ImageStore images;

    @Inject
    EventPublisher events;

    @Inject
    CancelRegistry cancels;

    @Inject
    WorkerConfig config;

    @Inject
    ModelHost models;

    private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "job-heartbeat");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean shuttingDown = new AtomicBoolean();

    /** Stops the running job for a shutdown: it is released, not cancelled, so another worker runs it. */
    void shutdown() {
        shuttingDown.set(true);
        cancels.cancelAll();
    }

    /** Claims and runs a job; never throws. */
    public Outcome run(UUID jobId, String workerId) {
        try {
            JobStore.Claim claim = claimWaitingForStaleLease(jobId, workerId);
            return switch (claim.outcome()) {
                case CLAIMED -> execute(claim.job(), workerId);
                case FINISHED, HELD -> Outcome.ACCEPT;
                case CANCELLED -> {
                    publish(JobEvent.of(jobId, claim.job().attempt, JobEvent.FINAL_SEQ, JobEvent.CANCELLED));
                    yield Outcome.ACCEPT;
                }
                case MISSING -> {
                    LOG.warnf("record for unknown job %s", jobId);
                    yield Outcome.REJECT;
                }
            };
        } catch (RuntimeException e) {
            LOG.warnf("job %s: cannot claim now (%s); releasing it", jobId, e.toString());
            return Outcome.RELEASE;
        }
    }

    /**
     * A job held by another worker whose lease has not expired yet may be one whose worker just died (its Kafka
     * record came back at once): wait for the lease to run out, then claim. A lease that keeps being renewed
     * belongs to a live worker, and this record is a duplicate.
     */
    private JobStore.Claim claimWaitingForStaleLease(UUID jobId, String workerId) {
        Duration lease = config.lease();
        long deadline = System.nanoTime() + lease.multipliedBy(2).toNanos();
        JobStore.Claim claim = store.claim(jobId, workerId, lease);
        while (claim.outcome() == JobStore.ClaimOutcome.HELD && System.nanoTime() < deadline && !shuttingDown.get()) {
            Instant until = claim.job().leaseUntil;
            long waitMs = until == null ? 100 : Math.max(50, Duration.between(Instant.now(), until).toMillis() + 50);
            sleep(Math.min(waitMs, 1000));
            claim = store.claim(jobId, workerId, lease);
        }
        return claim;
    }

    private Outcome execute(Job job, String workerId) {
        UUID id = job.id;
        int attempt = job.attempt;
        JobParameters params = store.parameters(job);
        TextToImagePipeline pipeline = models.pipeline(job.model);
        AtomicLong seq = new AtomicLong((long) attempt << 20);
        Cancellation cancellation = new Cancellation();
        AtomicBoolean lost = new AtomicBoolean();
        cancels.register(id, cancellation);
        Duration lease = config.lease();
        ScheduledFuture<?> heartbeat = heartbeats.scheduleAtFixedRate(() -> {
            try {
                react(store.renewLease(id, attempt, lease), cancellation, lost);
            } catch (RuntimeException e) {
                LOG.warnf("job %s: lease renewal failed: %s", id, e.toString());
            }
        }, lease.toMillis() / 3, lease.toMillis() / 3, TimeUnit.MILLISECONDS);
        LOG.infof("job %s attempt %d: %s, %d steps", id, attempt, job.model, params.numInferenceSteps());
        publish(JobEvent.of(id, attempt, seq.incrementAndGet(), JobEvent.STARTED));
        List<JobImage> stored = new ArrayList<>();
        try {
            if (pipeline == null) {
                return failed(id, attempt, seq, "MODEL_NOT_SERVED", "this worker does not serve model " + job.model);
            }
            byte[] initImage = null;
            if (params.initImageKey() != null) {
                initImage = images.get(params.initImageKey())
                        .orElseThrow(() -> new TransientFailure("init image " + params.initImageKey() + " is missing"));
            }
            GenerationRequest request = request(params, initImage);
            GenerationResult result = pipeline.generate(request, new GenerationListener() {
                @Override
                public void onStep(StepProgress p) {
                    react(store.progress(id, attempt, p.step(), p.totalSteps()), cancellation, lost);
                    String preview = p.preview() == null ? null : Base64.getEncoder().encodeToString(p.preview());
                    publish(JobEvent.progress(id, attempt, seq.incrementAndGet(), p.step(), p.totalSteps(), p.timestep(),
                            p.elapsedMs(), p.etaMs(), preview));
                }

                @Override
                public void onImage(GeneratedImage image) {
                    String key = ImageStore.imageKey(id, image.index());
                    try {
                        images.put(key, image.png(), "image/png");
                    } catch (ImageStore.StorageException e) {
                        throw new TransientFailure(e.getMessage(), e);
                    }
                    String seed = Long.toUnsignedString(image.seed());
                    stored.add(new JobImage(image.index(), seed, key));
                    publish(JobEvent.image(id, attempt, seq.incrementAndGet(), image.index(), seed, key));
                }
            }, cancellation);
            if (!store.succeed(id, attempt, stored)) {
                LOG.infof("job %s attempt %d finished but no longer holds the job; its result is discarded", id, attempt);
                return Outcome.ACCEPT;
            }
            publish(JobEvent.succeeded(id, attempt, seq.incrementAndGet(), result.wallNanos() / 1_000_000));
            LOG.infof("job %s attempt %d: succeeded", id, attempt);
            return Outcome.ACCEPT;
        } catch (GenerationCancelledException e) {
            if (lost.get()) {
                return Outcome.ACCEPT;
            }
            if (shuttingDown.get()) {
                return release(id, attempt);
            }
            LOG.infof("job %s attempt %d: cancelled", id, attempt);
            if (store.cancelled(id, attempt)) {
                publish(JobEvent.of(id, attempt, seq.incrementAndGet(), JobEvent.CANCELLED));
            }
            return Outcome.ACCEPT;
        } catch (InvalidRequestException e) {
            return failed(id, attempt, seq, "INVALID_REQUEST", e.getMessage());
        } catch (Exception e) {
            if (isTransient(e)) {
                LOG.warnf("job %s attempt %d: transient failure, releasing: %s", id, attempt, e.toString());
                return release(id, attempt);
            }
            LOG.errorf(e, "job %s attempt %d failed", id, attempt);
            return failed(id, attempt, seq, "PIPELINE_ERROR", String.valueOf(e.getMessage()));
        } finally {
            heartbeat.cancel(false);
            cancels.unregister(id);
        }
    }

    private Outcome failed(UUID id, int attempt, AtomicLong seq, String code, String message) {
        try {
            if (store.fail(id, attempt, code, message)) {
                publish(JobEvent.failed(id, attempt, seq.incrementAndGet(), code, message));
            }
            return Outcome.ACCEPT;
        } catch (RuntimeException e) {
            return release(id, attempt);
        }
    }

    private Outcome release(UUID id, int attempt) {
        try {
            store.releaseLease(id, attempt);
        } catch (RuntimeException e) {
            LOG.warnf("job %s: cannot give the lease back (%s); it expires on its own", id, e.toString());
        }
        return Outcome.RELEASE;
    }

    private static void react(JobStore.Heartbeat heartbeat, Cancellation cancellation, AtomicBoolean lost) {
        if (heartbeat == JobStore.Heartbeat.LOST) {
            lost.set(true);
            cancellation.cancel();
        } else if (heartbeat == JobStore.Heartbeat.CANCEL_REQUESTED) {
            cancellation.cancel();
        }
    }

    private void publish(JobEvent event) {
        events.publish(event).exceptionally(e -> {
            LOG.warnf("event %s of job %s not published: %s", event.type(), event.jobId(), e.toString());
            return null;
        });
    }

    static GenerationRequest request(JobParameters p, byte[] initImage) {
        return new GenerationRequest(p.prompt(), p.negativePrompt(), p.width(), p.height(), p.numInferenceSteps(),
                p.guidanceScale(), p.scheduler(), p.seed().longValue(), p.numImages(), initImage,
                p.strength() == null ? 1.0 : p.strength(), p.eta(),
                GenerationRequest.PreviewMode.valueOf(p.preview().toUpperCase(Locale.ROOT)), p.previewEvery());
    }

    /** Whether a failure is worth a retry elsewhere: storage or database trouble rather than a bad job. */
    static boolean isTransient(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof TransientFailure || t instanceof ImageStore.StorageException
                    || t instanceof SQLException || t instanceof jakarta.persistence.PersistenceException
                    || t instanceof IOException) {
                return true;
            }
        }
        return false;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A failure that another attempt may not meet. */
    static final class TransientFailure extends RuntimeException {
        TransientFailure(String message) {
            super(message);
        }

        TransientFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
