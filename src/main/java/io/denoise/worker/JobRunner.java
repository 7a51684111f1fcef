package io.denoise.worker;

import io.denoise.Threads;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobAttempts;
import io.denoise.jobs.JobImage;
import io.denoise.jobs.JobsConfig;
import io.denoise.messaging.JobEvent;
import io.denoise.messaging.JobEvents;
import io.denoise.pipeline.Cancellation;
import io.denoise.pipeline.GeneratedImage;
import io.denoise.pipeline.GenerationCancelledException;
import io.denoise.pipeline.GenerationListener;
import io.denoise.pipeline.GenerationResult;
import io.denoise.pipeline.StepProgress;
import io.denoise.pipeline.TextToImagePipeline;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.storage.ImageBucket;
import io.denoise.storage.ImageStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.PersistenceException;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Runs one job on its own thread (one per job the worker holds): claim (lease + attempt fencing) → the pipeline,
 * batched with the worker's other jobs by the {@link InferenceLoop}, with a progress event per step and coalesced
 * database heartbeats → images to S3 at deterministic keys → finish guarded by the attempt. It answers how the job's Kafka record
 * should be acknowledged: ACCEPT once the job's outcome is written (or it was a duplicate), RELEASE when a
 * shutdown interrupted it or a store stayed down past {@link WorkerConfig#retryFor()}, after giving the lease back
 * so the next worker can take over at once. A store that is down is retried with backoff rather than answered
 * with RELEASE straight away: the record stays locked to this worker (the consumer renews it), so an outage
 * does not spend the record's deliveries.
 */
@ApplicationScoped
public class JobRunner {

    private static final Logger LOG = Logger.getLogger(JobRunner.class);
    private static final Duration FIRST_RETRY = Duration.ofMillis(250);
    private static final Duration LONGEST_RETRY = Duration.ofSeconds(5);

    /** How the job's record is to be acknowledged. */
    public enum Outcome { ACCEPT, RELEASE, REJECT }

    @Inject
    JobAttempts store;

    @Inject
    ImageBucket images;

    @Inject
    JobEvents events;

    @Inject
    CancelRegistry cancels;

    @Inject
    WorkerConfig config;

    @Inject
    JobsConfig jobsConfig;

    @Inject
    ModelHost models;

    @Inject
    InferenceLoop inference;

    private final ScheduledExecutorService heartbeats = Threads.scheduled("job-heartbeat");
    /** Sends events in the order they were made, off the inference thread. */
    private final ExecutorService eventThread = Executors.newSingleThreadExecutor(Threads.daemon("job-events"));
    /** Uploads images in order, while the inference thread decodes the next one. */
    private final ExecutorService uploadThread = Executors.newSingleThreadExecutor(Threads.daemon("job-uploads"));
    private final AtomicBoolean shuttingDown = new AtomicBoolean();

    /** Stops the running job for a shutdown: it is released, not cancelled, so another worker runs it. */
    void shutdown() {
        shuttingDown.set(true);
        cancels.cancelAll();
    }

    /**
     * Claims and runs a job whose record was delivered {@code deliveries} times; never throws. While the
     * database is down the claim is retried (with backoff) until it answers or the worker shuts down.
     */
    public Outcome run(UUID jobId, String workerId, int deliveries) {
        JobAttempts.Claim claim;
        try {
            claim = retrying("claim", jobId, null, () -> claimWaitingForStaleLease(jobId, workerId, deliveries));
        } catch (RuntimeException e) {
            LOG.warnf("job %s: cannot claim (%s); releasing it", jobId, e.toString());
            return Outcome.RELEASE;
        }
        return switch (claim.outcome()) {
            case CLAIMED -> execute(claim.job(), workerId);
            case FINISHED, HELD -> Outcome.ACCEPT;
            case CANCELLED -> {
                publish(JobEvent.of(jobId, claim.job().attempt, JobEvent.FINAL_SEQ, JobEvent.CANCELLED));
                yield Outcome.ACCEPT;
            }
            case EXHAUSTED -> {
                LOG.warnf("job %s: %s", jobId, claim.job().errorMessage);
                publish(JobEvent.failed(jobId, claim.job().attempt, JobEvent.FINAL_SEQ, claim.job().errorCode,
                        claim.job().errorMessage));
                yield Outcome.ACCEPT;
            }
            case MISSING -> {
                LOG.warnf("record for unknown job %s", jobId);
                yield Outcome.REJECT;
            }
        };
    }

    /**
     * Fails a job that no worker holds because its record cannot be processed (malformed, or delivered too
     * often), then answers REJECT. While the database is down the write is retried, so the job is never left
     * without a reason; a shutdown meanwhile answers RELEASE.
     */
    public Outcome failUnclaimed(UUID jobId, String code, String message) {
        try {
            if (retrying("fail", jobId, null, () -> store.failUnclaimed(jobId, code, message))) {
                publish(JobEvent.failed(jobId, 0, JobEvent.FINAL_SEQ, code, message));
            }
            return Outcome.REJECT;
        } catch (RuntimeException e) {
            LOG.warnf("job %s: cannot record failure %s (%s); releasing its record", jobId, code, e.toString());
            return Outcome.RELEASE;
        }
    }

    /**
     * A job held by another worker whose lease has not expired yet may be one whose worker just died (its Kafka
     * record came back at once): wait for the lease to run out, then claim. A lease that is renewed meanwhile
     * belongs to a live worker, and this record is a duplicate: it is answered at once (ACCEPT), and if that
     * worker dies later, recovery publishes a new record.
     */
    private JobAttempts.Claim claimWaitingForStaleLease(UUID jobId, String workerId, int deliveries) {
        Duration lease = config.lease();
        int maxAttempts = jobsConfig.maxAttempts();
        JobAttempts.Claim claim = store.claim(jobId, workerId, lease, deliveries, maxAttempts);
        Instant seen = claim.outcome() == JobAttempts.ClaimOutcome.HELD ? claim.job().leaseUntil : null;
        long deadline = System.nanoTime() + lease.plusSeconds(1).toNanos();
        while (claim.outcome() == JobAttempts.ClaimOutcome.HELD && System.nanoTime() < deadline && !shuttingDown.get()) {
            Instant until = claim.job().leaseUntil;
            if (seen != null && until != null && until.isAfter(seen)) {
                LOG.infof("job %s is held by live worker %s; this record is a duplicate", jobId, claim.job().workerId);
                return claim;
            }
            long waitMs = until == null ? 100 : Math.max(50, Duration.between(Instant.now(), until).toMillis() + 50);
            sleep(Math.min(waitMs, 500));
            claim = store.claim(jobId, workerId, lease, deliveries, maxAttempts);
        }
        return claim;
    }

    private Outcome execute(Job job, String workerId) {
        GenerationRequest params = store.parameters(job);
        TextToImagePipeline pipeline = models.pipeline(job.model);
        try (Attempt attempt = new Attempt(job.id, job.tenant, job.attempt)) {
            LOG.infof("job %s attempt %d on %s: %s, %d steps", job.id, job.attempt, workerId, job.model,
                    params.numInferenceSteps());
            attempt.started();
            if (pipeline == null) {
                return attempt.fail("MODEL_NOT_SERVED", "this worker does not serve model " + job.model);
            }
            try {
                byte[] initImage = params.initImage() == null ? null
                        : attempt.retrying("read the init image", () -> readImage(params.initImage()))
                            .orElseThrow(() -> new InvalidRequestException("initImage",
                                    "init image " + params.initImage() + " is missing from the store"));
                GenerationResult result = inference.generate(pipeline, params, initImage, attempt, attempt.cancellation);
                return attempt.succeed(result);
            } catch (GenerationCancelledException e) {
                return attempt.cancelled();
            } catch (InvalidRequestException e) {
                return attempt.fail("INVALID_REQUEST", e.getMessage());
            } catch (Exception e) {
                if (isTransient(e)) {
                    LOG.warnf("job %s attempt %d: a store stayed down, releasing: %s", job.id, job.attempt, e.toString());
                    return attempt.release();
                }
                LOG.errorf(e, "job %s attempt %d failed", job.id, job.attempt);
                return attempt.fail("PIPELINE_ERROR", String.valueOf(e.getMessage()));
            }
        }
    }

    /**
     * One attempt at a job: owns its id, attempt number, event sequence, lease heartbeat and cancellation, and
     * pairs each status write with its event. Listens to the pipeline, and does nothing on the inference thread
     * but note what happened: progress is written to the database by a tick every
     * {@link WorkerConfig#progressInterval()} (which also reads the cancel flag), events go out from the events
     * thread, and each image is uploaded on the upload thread while the next one is decoded; the finish is
     * written once every upload is confirmed. Not reusable.
     */
    private final class Attempt implements GenerationListener, AutoCloseable {

        private final UUID id;
        private final String tenant;
        private final int number;
        private final long claimedAt = System.nanoTime();
        private final AtomicLong seq;
        private final Cancellation cancellation = new Cancellation();
        /** Set when the claim was lost (lease taken over, job ended elsewhere): nothing more is written. */
        private final AtomicBoolean lost = new AtomicBoolean();
        private final List<CompletableFuture<JobImage>> uploads = new ArrayList<>();
        private final AtomicInteger latestStep = new AtomicInteger();
        private volatile int totalSteps;
        /** The step last written to the database; read and written by the heartbeat thread only. */
        private int writtenStep;
        private final ScheduledFuture<?> leaseTicks;
        private final ScheduledFuture<?> progressTicks;

        Attempt(UUID id, String tenant, int number) {
            this.id = id;
            this.tenant = tenant;
            this.number = number;
            this.seq = new AtomicLong((long) number << 20);
            cancels.register(id, cancellation);
            long every = config.lease().toMillis() / 3;
            this.leaseTicks = heartbeats.scheduleAtFixedRate(this::renewLease, every, every, TimeUnit.MILLISECONDS);
            long progressEvery = Math.max(10, config.progressInterval().toMillis());
            this.progressTicks = heartbeats.scheduleAtFixedRate(this::writeProgress, progressEvery, progressEvery,
                    TimeUnit.MILLISECONDS);
        }

        void started() {
            publish(JobEvent.of(id, number, seq.incrementAndGet(), JobEvent.STARTED));
        }

        private void renewLease() {
            try {
                react(store.renewLease(id, number, config.lease()));
            } catch (RuntimeException e) {
                LOG.warnf("job %s: lease renewal failed: %s", id, e.toString());
            }
        }

        /** Writes the latest step if it moved since the last write; also learns of a cancel request. */
        private void writeProgress() {
            int step = latestStep.get();
            if (step == writtenStep) {
                return;
            }
            try {
                react(store.progress(id, number, step, totalSteps));
                writtenStep = step;
            } catch (RuntimeException e) {
                // the database is down: the job goes on; the next tick, the lease heartbeat and the finish retry
                LOG.debugf("job %s: progress not recorded: %s", id, e.toString());
            }
        }

        private void react(JobAttempts.Heartbeat beat) {
            if (beat == JobAttempts.Heartbeat.LOST) {
                lost.set(true);
                cancellation.cancel();
            } else if (beat == JobAttempts.Heartbeat.CANCEL_REQUESTED) {
                cancellation.cancel();
            }
        }

        @Override
        public void onStep(StepProgress p) {
            totalSteps = p.totalSteps();
            latestStep.set(p.step());
            // made here, so its time is the step's; sent from the events thread
            JobEvent event = JobEvent.progress(id, number, seq.incrementAndGet(), p.step(), p.totalSteps(), p.timestep(),
                    p.elapsedMs(), p.etaMs(), p.preview() == null ? null : Base64.getEncoder().encodeToString(p.preview()));
            publish(event);
        }

        @Override
        public void onImage(GeneratedImage image) {
            String key = ImageStore.imageKey(tenant, id, image.index());
            uploads.add(CompletableFuture.supplyAsync(() -> {
                retrying("store image " + image.index(), () -> {
                    try {
                        images.put(key, image.png(), "image/png");
                        return key;
                    } catch (ImageStore.StorageException e) {
                        throw new TransientFailure(e.getMessage(), e);
                    }
                });
                String seed = Long.toUnsignedString(image.seed());
                publish(JobEvent.image(id, number, seq.incrementAndGet(), image.index(), seed, key));
                return new JobImage(image.index(), seed, key);
            }, uploadThread));
        }

        /** Waits for every upload; the first that failed is thrown (its cause, as the upload threw it). */
        private List<JobImage> uploaded() {
            List<JobImage> stored = new ArrayList<>(uploads.size());
            for (CompletableFuture<JobImage> upload : uploads) {
                try {
                    stored.add(upload.join());
                } catch (CompletionException e) {
                    throw e.getCause() instanceof RuntimeException cause ? cause : e;
                }
            }
            return stored;
        }

        Outcome succeed(GenerationResult result) {
            long generated = System.nanoTime();
            List<JobImage> stored = uploaded();
            long uploadedAt = System.nanoTime();
            if (!retrying("finish", () -> store.succeed(id, number, totalSteps, stored))) {
                LOG.infof("job %s attempt %d finished but no longer holds the job; its result is discarded", id, number);
                return Outcome.ACCEPT;
            }
            long finished = System.nanoTime();
            GenerationResult.LoopTiming loop = result.loop();
            publish(JobEvent.succeeded(id, number, seq.incrementAndGet(), result.wallNanos() / 1_000_000,
                    new JobEvent.Timing(loop.wallNanos() / 1e6, loop.inferenceNanos() / 1e6, (finished - claimedAt) / 1e6,
                            result.wallNanos() / 1e6, (uploadedAt - generated) / 1e6, (finished - uploadedAt) / 1e6)));
            LOG.infof("job %s attempt %d: succeeded", id, number);
            return Outcome.ACCEPT;
        }

        Outcome cancelled() {
            if (lost.get()) {
                return Outcome.ACCEPT;
            }
            if (shuttingDown.get()) {
                return release();
            }
            LOG.infof("job %s attempt %d: cancelled", id, number);
            if (retrying("cancel", () -> store.cancelled(id, number))) {
                publish(JobEvent.of(id, number, seq.incrementAndGet(), JobEvent.CANCELLED));
            }
            return Outcome.ACCEPT;
        }

        Outcome fail(String code, String message) {
            try {
                if (retrying("fail", () -> store.fail(id, number, code, message))) {
                    publish(JobEvent.failed(id, number, seq.incrementAndGet(), code, message));
                }
                return Outcome.ACCEPT;
            } catch (RuntimeException e) {
                return release();
            }
        }

        /** Gives the lease back so another worker may take the job over at once. */
        Outcome release() {
            try {
                store.releaseLease(id, number);
            } catch (RuntimeException e) {
                LOG.warnf("job %s: cannot give the lease back (%s); it expires on its own", id, e.toString());
            }
            return Outcome.RELEASE;
        }

        <T> T retrying(String what, Supplier<T> action) {
            return JobRunner.this.retrying(what, id, System.nanoTime() + config.retryFor().toNanos(), action);
        }

        /** Stops the ticks and lets uploads still in flight settle, so nothing of this attempt runs on. */
        @Override
        public void close() {
            leaseTicks.cancel(false);
            progressTicks.cancel(false);
            cancels.unregister(id);
            for (CompletableFuture<JobImage> upload : uploads) {
                try {
                    upload.get(config.retryFor().toMillis(), TimeUnit.MILLISECONDS);
                } catch (Exception e) {
                    // already reported to the attempt's outcome, or given up
                }
            }
        }
    }

    /**
     * Runs {@code action}, retrying a transient failure (a store or the database down) with backoff until it
     * succeeds, the deadline passes ({@code null}: no deadline) or the worker shuts down; then the failure is
     * thrown.
     */
    private <T> T retrying(String what, UUID jobId, Long deadlineNanos, Supplier<T> action) {
        Backoff backoff = new Backoff(FIRST_RETRY, LONGEST_RETRY);
        while (true) {
            try {
                return action.get();
            } catch (RuntimeException e) {
                long delay = backoff.nextDelayMs();
                boolean pastDeadline = deadlineNanos != null && System.nanoTime() + delay * 1_000_000 > deadlineNanos;
                if (!isTransient(e) || pastDeadline || shuttingDown.get() || Thread.currentThread().isInterrupted()) {
                    throw e;
                }
                LOG.warnf("job %s: cannot %s yet (%s); retrying in %d ms", jobId, what, rootMessage(e), delay);
                sleep(delay);
            }
        }
    }

    private Optional<byte[]> readImage(String key) {
        try {
            return images.get(key);
        } catch (ImageStore.StorageException e) {
            throw new TransientFailure(e.getMessage(), e);
        }
    }

    /** Hands an event to the events thread; it goes out in order, and one that cannot be sent never stops a job. */
    private void publish(JobEvent event) {
        eventThread.execute(() -> send(event));
    }

    private void send(JobEvent event) {
        events.publish(event).exceptionally(e -> {
            LOG.debugf("event %s of job %s not published: %s", event.type(), event.jobId(), e.toString());
            return null;
        });
    }

    /** Whether a failure is worth a retry: storage or database trouble rather than a bad job. */
    static boolean isTransient(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof TransientFailure || t instanceof ImageStore.StorageException
                    || t instanceof SQLException || t instanceof PersistenceException
                    || t instanceof IOException) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
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
        TransientFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
