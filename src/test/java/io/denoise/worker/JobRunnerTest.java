package io.denoise.worker;

import io.denoise.jobs.Job;
import io.denoise.jobs.JobAttempts;
import io.denoise.jobs.JobImage;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.JobsConfig;
import io.denoise.messaging.JobEvent;
import io.denoise.messaging.JobEvents;
import io.denoise.recipe.GenerationRequest;
import io.denoise.storage.ImageBucket;
import io.denoise.storage.ImageStore;
import jakarta.persistence.PersistenceException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The worker's job runner against in-memory fakes of the job store, the bucket and the event sink, with the real
 * pipeline on the tiny random model: what it writes and answers when the database or the store is down, when a
 * record is a duplicate, and when a job has used up its attempts. No Kafka, PostgreSQL or S3.
 */
class JobRunnerTest {

    private static final Duration LEASE = Duration.ofMillis(600);
    private static final Duration PROGRESS_INTERVAL = Duration.ofMillis(50);
    private static ModelHost models;

    @BeforeAll
    static void loadModel() {
        models = new ModelHost();
        models.modelsConfig = new TestModelsConfig();
        models.config = workerConfig();
        models.roles = io.denoise.Roles.of(io.denoise.Roles.WORKER);
        models.requestLimits = new io.denoise.jobs.LimitsConfig() {
            public int maxPromptLength() {
                return 2000;
            }

            public int maxInitImageBytes() {
                return 1 << 20;
            }

            public long maxInitImagePixels() {
                return 1 << 20;
            }
        };
        models.load();
    }

    @AfterAll
    static void closeModel() {
        models.close();
    }

    private final FakeAttempts store = new FakeAttempts();
    private final InferenceLoop inference = new InferenceLoop();

    {
        inference.config = workerConfig();
    }

    @AfterEach
    void stopInference() {
        inference.stop();
    }

    private final FakeBucket bucket = new FakeBucket();
    private final RecordingEvents events = new RecordingEvents();

    private JobRunner runner() {
        JobRunner runner = new JobRunner();
        runner.store = store;
        runner.images = bucket;
        runner.events = events;
        runner.cancels = new CancelRegistry();
        runner.config = workerConfig();
        runner.jobsConfig = new TestJobsConfig();
        runner.models = models;
        runner.inference = inference;
        return runner;
    }

    @Test
    void aJobRunsToSucceededWithItsImagesStoredAndEventsInOrder() throws Exception {
        Job job = store.queued(2);
        assertEquals(JobRunner.Outcome.ACCEPT, runner().run(job.id, "w1", 1));
        assertEquals(JobStatus.SUCCEEDED, job.status);
        assertEquals(List.of(ImageStore.imageKey("local", job.id, 0), ImageStore.imageKey("local", job.id, 1)), List.copyOf(bucket.objects.keySet()).stream().sorted().toList());
        List<String> types = events.typesEndingWith(job.id, JobEvent.SUCCEEDED);
        assertEquals(JobEvent.STARTED, types.get(0));
        assertEquals(JobEvent.SUCCEEDED, types.get(types.size() - 1));
        assertEquals(3, types.stream().filter(JobEvent.PROGRESS::equals).count());
        assertEquals(3, job.totalSteps, "the finish records the steps run");
    }

    @Test
    void aClaimWhileTheDatabaseIsDownIsRetriedUntilItAnswersInsteadOfReleasingTheRecord() {
        Job job = store.queued(1);
        store.outage("claim", 3);
        assertEquals(JobRunner.Outcome.ACCEPT, runner().run(job.id, "w1", 1));
        assertEquals(4, store.calls("claim"));
        assertEquals(JobStatus.SUCCEEDED, job.status);
    }

    @Test
    void anUploadWhileTheStoreIsDownAndAFinishWhileTheDatabaseIsDownAreRetriedWithinTheAttempt() {
        Job job = store.queued(1);
        bucket.outages.set(2);
        store.outage("succeed", 2);
        assertEquals(JobRunner.Outcome.ACCEPT, runner().run(job.id, "w1", 1));
        assertEquals(JobStatus.SUCCEEDED, job.status);
        assertEquals(1, job.attempt, "the outage cost no second attempt");
        assertEquals(3, bucket.puts.get());
        assertEquals(3, store.calls("succeed"));
    }

    @Test
    void progressThatCannotBeRecordedDoesNotStopTheJob() {
        Job job = store.queued(1);
        store.outage("progress", 100);
        assertEquals(JobRunner.Outcome.ACCEPT, runner().run(job.id, "w1", 1));
        assertEquals(JobStatus.SUCCEEDED, job.status);
    }

    @Test
    void aDuplicateRecordForAJobThatALiveWorkerRenewsIsAnsweredWithinAHeartbeat() {
        Job job = store.queued(1);
        job.status = JobStatus.RUNNING;
        job.attempt = 1;
        job.workerId = "w2";
        job.leaseUntil = Instant.now().plus(LEASE);
        store.renewOnEveryRead = true;
        long start = System.nanoTime();
        assertEquals(JobRunner.Outcome.ACCEPT, runner().run(job.id, "w1", 2));
        long tookMs = (System.nanoTime() - start) / 1_000_000;
        assertTrue(tookMs < LEASE.toMillis(), "waited " + tookMs + " ms for a lease that was being renewed");
        assertEquals(1, job.attempt, "the duplicate must not take the job over");
    }

    @Test
    void aRecordWhoseWorkerDiedIsTakenOverOnceTheLeaseLapses() {
        Job job = store.queued(1);
        job.status = JobStatus.RUNNING;
        job.attempt = 1;
        job.workerId = "dead";
        job.leaseUntil = Instant.now().plus(LEASE);
        assertEquals(JobRunner.Outcome.ACCEPT, runner().run(job.id, "w1", 2));
        assertEquals(2, job.attempt);
        assertEquals(JobStatus.SUCCEEDED, job.status);
    }

    @Test
    void aJobThatUsedUpItsAttemptsFailsWithThatCodeAndAFailedEvent() throws Exception {
        Job job = store.queued(1);
        job.attempt = new TestJobsConfig().maxAttempts();
        assertEquals(JobRunner.Outcome.ACCEPT, runner().run(job.id, "w1", 1));
        assertEquals(JobStatus.FAILED, job.status);
        assertEquals("ATTEMPTS_EXHAUSTED", job.errorCode);
        assertEquals(List.of(JobEvent.FAILED), events.typesEndingWith(job.id, JobEvent.FAILED));
    }

    @Test
    void theFailureOfAnUnreadableRecordIsWrittenBeforeItIsRejectedEvenWhileTheDatabaseIsDown() throws Exception {
        Job job = store.queued(1);
        store.outage("failUnclaimed", 2);
        assertEquals(JobRunner.Outcome.REJECT, runner().failUnclaimed(job.id, "MALFORMED_RECORD", "unreadable"));
        assertEquals(JobStatus.FAILED, job.status);
        assertEquals("MALFORMED_RECORD", job.errorCode);
        assertEquals(List.of(JobEvent.FAILED), events.typesEndingWith(job.id, JobEvent.FAILED));
    }

    @Test
    void aShutdownWhileTheDatabaseIsDownReleasesTheRecordInsteadOfRejectingIt() {
        Job job = store.queued(1);
        store.outage("failUnclaimed", Integer.MAX_VALUE);
        JobRunner runner = runner();
        runner.shutdown();
        assertEquals(JobRunner.Outcome.RELEASE, runner.failUnclaimed(job.id, "MALFORMED_RECORD", "unreadable"));
        assertEquals(JobStatus.QUEUED, job.status);
    }

    @Test
    void eventsThatCannotBeSentNeitherStopTheJobNorKeepItsLeaseAlive() throws Exception {
        Job job = store.queued(1);
        events.failAll = true;
        assertEquals(JobRunner.Outcome.ACCEPT, runner().run(job.id, "w1", 1));
        assertEquals(JobStatus.SUCCEEDED, job.status);
        Thread.sleep(LEASE.toMillis());
        int renewals = store.calls("renewLease");
        Thread.sleep(LEASE.toMillis() * 2);
        assertEquals(renewals, store.calls("renewLease"), "the lease is still being renewed after the attempt ended");
    }

    @Test
    void nothingButThePipelineRunsOnTheInferenceThread() throws Exception {
        Job job = store.queued(2);
        store.params.put(job.id, new GenerationRequest("a red circle", "", 32, 32, 40, 4.0, "pndm", BigInteger.ONE, 2,
                null, null, 0.0, "none", 1));
        long start = System.nanoTime();
        // the job's own thread, which runs the generation when batching is off, and the batch's
        Set<String> inferenceThreads = Set.of(Thread.currentThread().getName(), "inference");
        assertEquals(JobRunner.Outcome.ACCEPT, runner().run(job.id, "w1", 1));
        long tookMs = (System.nanoTime() - start) / 1_000_000;
        assertEquals(JobStatus.SUCCEEDED, job.status);
        assertTrue(store.threads("progress").stream().noneMatch(inferenceThreads::contains), "progress written on the inference thread");
        assertTrue(store.calls("progress") <= tookMs / PROGRESS_INTERVAL.toMillis() + 1,
                store.calls("progress") + " progress writes in " + tookMs + " ms: not coalesced");
        assertEquals(List.of("job-uploads", "job-uploads"), bucket.threads);
        assertTrue(events.threads.stream().allMatch("job-events"::equals), "events sent from " + events.threads);
        events.typesEndingWith(job.id, JobEvent.SUCCEEDED);
        List<Long> seqs = events.sent.stream().filter(e -> e.jobId().equals(job.id)).map(JobEvent::seq).toList();
        assertEquals(seqs.stream().sorted().toList(), seqs, "events out of order");
        assertEquals(40, events.types(job.id).stream().filter(JobEvent.PROGRESS::equals).count());
    }

    @Test
    void jobsRunOnThreadsOfTheirOwnShareTheBatchAndEachEndsOnItsOwn() throws Exception {
        JobRunner runner = runner();
        Job first = store.queued(1);
        Job cancelled = store.queued(2);
        store.params.put(cancelled.id, new GenerationRequest("a blue square", "", 32, 32, 100, 4.0, "pndm",
                BigInteger.TWO, 2, null, null, 0.0, "none", 1));
        Job third = store.queued(2);
        List<CompletableFuture<JobRunner.Outcome>> outcomes = new ArrayList<>();
        for (Job job : List.of(first, cancelled, third)) {
            outcomes.add(CompletableFuture.supplyAsync(() -> runner.run(job.id, "w1", 1),
                    r -> new Thread(r, "job-runner-" + job.id).start()));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!events.types(cancelled.id).contains(JobEvent.PROGRESS) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(runner.cancels.cancel(cancelled.id), "the long job runs here");
        for (CompletableFuture<JobRunner.Outcome> outcome : outcomes) {
            assertEquals(JobRunner.Outcome.ACCEPT, outcome.get(60, TimeUnit.SECONDS));
        }
        assertEquals(JobStatus.SUCCEEDED, first.status);
        assertEquals(JobStatus.CANCELLED, cancelled.status);
        assertEquals(JobStatus.SUCCEEDED, third.status);
        assertTrue(cancelled.totalSteps < 100, "the cancel stopped the long job at step " + cancelled.totalSteps);
        assertEquals(3, bucket.objects.size(), "images of the two finished jobs only: " + bucket.objects.keySet());
        assertEquals(0, inference.held());
    }

    static WorkerConfig workerConfig() {
        return workerConfig(4, Duration.ofHours(1));
    }

    static WorkerConfig workerConfig(int maxBatchJobs, Duration batchStepBudget) {
        return new WorkerConfig() {
            public Optional<String> id() { return Optional.of("test-worker"); }
            public Duration lease() { return LEASE; }
            public Duration lockDuration() { return Duration.ofSeconds(30); }
            public String shareGroup() { return "denoise-workers"; }
            public Duration shutdownGrace() { return Duration.ofSeconds(1); }
            public int maxBatchImages() { return 8; }
            public Duration retryFor() { return Duration.ofSeconds(20); }
            public Duration progressInterval() { return PROGRESS_INTERVAL; }
            public int maxBatchJobs() { return maxBatchJobs; }
            public Duration batchStepBudget() { return batchStepBudget; }
        };
    }

    static final class TestJobsConfig implements JobsConfig {
        public int maxAttempts() { return 3; }
        public Duration recoveryInterval() { return Duration.ofSeconds(10); }
        public Duration staleAfter() { return Duration.ofSeconds(60); }
        public int maxRedrives() { return 5; }
        public int submitBatch() { return 64; }
        public int submitCommitters() { return 4; }
        public int submitQueue() { return 1024; }
    }

    static final class TestModelsConfig implements ModelsConfig {
        public Path dir() { return Path.of("models"); }
        public List<String> serve() { return List.of("tiny-random"); }
        public String device() { return "cpu"; }
        public int cudaDeviceId() { return 0; }
        public int intraOpThreads() { return 1; }
        public String spin() { return "auto"; }
    }

    /** Jobs in memory with the store's transitions; {@link #outage} makes the next calls of an operation fail. */
    static final class FakeAttempts implements JobAttempts {
        final Map<UUID, Job> jobs = new ConcurrentHashMap<>();
        final Map<UUID, GenerationRequest> params = new ConcurrentHashMap<>();
        private final Map<String, AtomicInteger> outages = new ConcurrentHashMap<>();
        private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        private final Map<String, List<String>> threads = new ConcurrentHashMap<>();
        volatile boolean renewOnEveryRead;

        Job queued(int numImages) {
            Job job = new Job();
            job.id = UUID.randomUUID();
            job.tenant = "local";
            job.model = "tiny-random";
            job.status = JobStatus.QUEUED;
            job.createdAt = Instant.now();
            jobs.put(job.id, job);
            params.put(job.id, new GenerationRequest("a red circle", "", 32, 32, 3, 4.0, "pndm", BigInteger.ONE, numImages,
                    null, null, 0.0, "none", 1));
            return job;
        }

        void outage(String operation, int failures) {
            outages.put(operation, new AtomicInteger(failures));
        }

        int calls(String operation) {
            return calls.getOrDefault(operation, new AtomicInteger()).get();
        }

        List<String> threads(String operation) {
            return threads.getOrDefault(operation, List.of());
        }

        private void call(String operation) {
            calls.computeIfAbsent(operation, o -> new AtomicInteger()).incrementAndGet();
            threads.computeIfAbsent(operation, o -> new CopyOnWriteArrayList<>()).add(Thread.currentThread().getName());
            AtomicInteger left = outages.get(operation);
            if (left != null && left.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throw new PersistenceException("connection refused (" + operation + ")");
            }
        }

        private boolean holds(Job job, int attempt) {
            return job.status == JobStatus.RUNNING && job.attempt == attempt;
        }

        @Override
        public synchronized Claim claim(UUID id, String workerId, Duration lease, int deliveries, int maxAttempts) {
            call("claim");
            Job job = jobs.get(id);
            if (job == null) {
                return new Claim(ClaimOutcome.MISSING, null);
            }
            if (renewOnEveryRead && job.leaseUntil != null) {
                job.leaseUntil = Instant.now().plus(lease);
            }
            boolean free = job.status == JobStatus.QUEUED
                    || (job.status == JobStatus.RUNNING && job.leaseUntil.isBefore(Instant.now()));
            if (job.status.isTerminal()) {
                return new Claim(ClaimOutcome.FINISHED, job);
            }
            if (!free) {
                return new Claim(ClaimOutcome.HELD, job);
            }
            if (job.attempt >= maxAttempts) {
                job.status = JobStatus.FAILED;
                job.errorCode = "ATTEMPTS_EXHAUSTED";
                job.errorMessage = "used up";
                return new Claim(ClaimOutcome.EXHAUSTED, job);
            }
            job.status = JobStatus.RUNNING;
            job.attempt++;
            job.workerId = workerId;
            job.deliveries = deliveries;
            job.leaseUntil = Instant.now().plus(lease);
            return new Claim(ClaimOutcome.CLAIMED, job);
        }

        @Override
        public synchronized Heartbeat progress(UUID id, int attempt, int step, int totalSteps) {
            call("progress");
            Job job = jobs.get(id);
            job.step = step;
            return holds(job, attempt) ? Heartbeat.CONTINUE : Heartbeat.LOST;
        }

        @Override
        public synchronized Heartbeat renewLease(UUID id, int attempt, Duration lease) {
            call("renewLease");
            Job job = jobs.get(id);
            if (!holds(job, attempt)) {
                return Heartbeat.LOST;
            }
            job.leaseUntil = Instant.now().plus(lease);
            return Heartbeat.CONTINUE;
        }

        @Override
        public synchronized boolean releaseLease(UUID id, int attempt) {
            call("releaseLease");
            Job job = jobs.get(id);
            if (!holds(job, attempt)) {
                return false;
            }
            job.leaseUntil = Instant.now();
            return true;
        }

        @Override
        public synchronized boolean succeed(UUID id, int attempt, int totalSteps, List<JobImage> images) {
            call("succeed");
            jobs.get(id).totalSteps = totalSteps;
            return end(jobs.get(id), attempt, JobStatus.SUCCEEDED, null);
        }

        @Override
        public synchronized boolean fail(UUID id, int attempt, String code, String message) {
            call("fail");
            return end(jobs.get(id), attempt, JobStatus.FAILED, code);
        }

        @Override
        public synchronized boolean failUnclaimed(UUID id, String code, String message) {
            call("failUnclaimed");
            Job job = jobs.get(id);
            if (job.status != JobStatus.QUEUED) {
                return false;
            }
            job.status = JobStatus.FAILED;
            job.errorCode = code;
            return true;
        }

        @Override
        public synchronized boolean cancelled(UUID id, int attempt) {
            call("cancelled");
            return end(jobs.get(id), attempt, JobStatus.CANCELLED, null);
        }

        @Override
        public GenerationRequest parameters(Job job) {
            return params.get(job.id);
        }

        private boolean end(Job job, int attempt, JobStatus status, String code) {
            if (!holds(job, attempt)) {
                return false;
            }
            job.status = status;
            job.errorCode = code;
            job.leaseUntil = null;
            return true;
        }
    }

    /** Objects in memory; the next {@code outages} puts fail. */
    static final class FakeBucket implements ImageBucket {
        final Map<String, byte[]> objects = new ConcurrentHashMap<>();
        final AtomicInteger outages = new AtomicInteger();
        final AtomicInteger puts = new AtomicInteger();
        final List<String> threads = new CopyOnWriteArrayList<>();

        @Override
        public void put(String key, byte[] bytes, String contentType) throws ImageStore.StorageException {
            puts.incrementAndGet();
            threads.add(Thread.currentThread().getName());
            if (outages.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throw new ImageStore.StorageException("S3 is down", null);
            }
            objects.put(key, bytes);
        }

        @Override
        public Optional<byte[]> get(String key) {
            return Optional.ofNullable(objects.get(key));
        }
    }

    /** Every event, in order, and the thread that sent it; optionally none can be sent. */
    static final class RecordingEvents implements JobEvents {
        final List<JobEvent> sent = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();
        volatile boolean failAll;

        @Override
        public CompletionStage<Void> publish(JobEvent event) {
            if (failAll) {
                return CompletableFuture.failedFuture(new IllegalStateException("the broker is down"));
            }
            threads.add(Thread.currentThread().getName());
            sent.add(event);
            return CompletableFuture.completedFuture(null);
        }

        /** The job's event types once its last one is {@code last} (events go out on a thread of their own). */
        List<String> typesEndingWith(UUID jobId, String last) throws InterruptedException {
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            List<String> types = types(jobId);
            while ((types.isEmpty() || !types.get(types.size() - 1).equals(last)) && System.nanoTime() < deadline) {
                Thread.sleep(10);
                types = types(jobId);
            }
            return types;
        }

        List<String> types(UUID jobId) {
            List<String> types = new ArrayList<>();
            sent.stream().filter(e -> e.jobId().equals(jobId)).forEach(e -> types.add(e.type()));
            return types;
        }
    }
}
