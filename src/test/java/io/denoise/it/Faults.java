package io.denoise.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.denoise.stack.LocalStack;
import io.minio.ListObjectsArgs;
import io.minio.MinioClient;
import io.minio.Result;
import io.minio.messages.Item;

import javax.imageio.ImageIO;
import java.io.ByteArrayInputStream;
import java.awt.image.BufferedImage;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntFunction;

/**
 * What the fault tests and {@link FaultCampaign} share: a steady flow of submissions that records each answer
 * with the phase it was sent in, the rule a submission during an outage must follow, and the audit of every
 * accepted job (ended SUCCEEDED, with exactly its images, in the API and in S3, each one a PNG that decodes).
 */
final class Faults {

    /** The longest a submit may take, even during an outage, before it counts as a hang. */
    static final Duration SUBMIT_LIMIT = Duration.ofSeconds(10);
    /** How long a submitter waits for an answer before giving up on it (past {@link #SUBMIT_LIMIT}, to see hangs). */
    static final Duration SUBMIT_TIMEOUT = Duration.ofSeconds(15);
    static final String BUCKET = "denoise";

    private Faults() {
    }

    /**
     * @param name the test's name
     * @return a stack with fresh data under {@code target/stack-it/} whose broker locks a share-group record for
     *     8 s, as {@link #quickRecovery} tells the workers
     */
    static LocalStack.Builder stack(String name) {
        return LocalStack.builder().dataDir(java.nio.file.Path.of("target", "stack-it", name + "-" + System.currentTimeMillis()))
                .kafkaRecordLockDuration(Duration.ofSeconds(8));
    }

    /**
     * Test-scoped settings that make a fault's recovery quick: a 4 s lease (renewed every 1.3 s), an 8 s broker
     * lock, a 2 s shutdown grace, and a recovery loop that looks every second at jobs stale for 5 s.
     */
    static Map<String, String> quickRecovery() {
        return Map.of("denoise.worker.lease", "4s", "denoise.worker.lock-duration", "8s",
                "denoise.worker.shutdown-grace", "2s", "denoise.jobs.recovery-interval", "1s",
                "denoise.jobs.stale-after", "5s");
    }

    /** @return {@code base} with {@code key} set to {@code value} */
    static Map<String, String> with(Map<String, String> base, String key, String value) {
        Map<String, String> m = new LinkedHashMap<>(base);
        m.put(key, value);
        return m;
    }

    /** A job request body: tiny-random at 64×64, {@code steps} steps, {@code images} images, seed {@code seed}. */
    static String job(int steps, int images, long seed) {
        return "{\"prompt\":\"a red circle on a white background\",\"numInferenceSteps\":" + steps
                + ",\"numImages\":" + images + ",\"seed\":" + seed + "}";
    }

    /** A job that runs a couple of seconds on tiny-random (256×256, 40 steps, 2 images), so a backlog lasts. */
    static String longJob(long seed) {
        return "{\"prompt\":\"a blue square\",\"numInferenceSteps\":40,\"width\":256,\"height\":256,"
                + "\"numImages\":2,\"seed\":" + seed + "}";
    }

    /**
     * Submits {@code count} {@linkplain #longJob long jobs} and waits until the first one runs, so that when a fault
     * strikes one job is running and the others are queued.
     *
     * @return their ids
     */
    static List<String> backlog(Api api, int count) throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ids.add(api.submit(longJob(500 + i)));
        }
        api.await(ids.get(0), j -> j.path("progress").path("step").asInt() >= 1 || isTerminal(j), Duration.ofSeconds(60),
                "started");
        return ids;
    }

    /** One submission: the phase it was sent in and what came back. */
    record Sample(String phase, Api.Submitted answer) {
        @Override
        public String toString() {
            return phase + " @" + answer.at() + ": " + answer;
        }
    }

    /**
     * Submits a job every {@code period} on a thread of its own (one request at a time; a slow answer delays
     * the next), until closed.
     */
    static final class Load implements AutoCloseable {
        private final Api api;
        private final IntFunction<String> body;
        private final Duration period;
        private final List<Sample> samples = new CopyOnWriteArrayList<>();
        private final Thread thread;
        private volatile String phase = "before";
        private volatile boolean running = true;

        Load(Api api, IntFunction<String> body, Duration period) {
            this.api = api;
            this.body = body;
            this.period = period;
            this.thread = new Thread(this::loop, "fault-load");
            this.thread.setDaemon(true);
            this.thread.start();
        }

        /** Labels the submissions sent from now on. */
        void phase(String name) {
            this.phase = name;
        }

        /** @return every submission so far */
        List<Sample> samples() {
            return List.copyOf(samples);
        }

        /** @return the ids of the jobs that got a 202 so far */
        List<String> accepted() {
            return samples.stream().filter(s -> s.answer().accepted()).map(s -> s.answer().id()).toList();
        }

        private void loop() {
            int i = 0;
            long next = System.nanoTime();
            while (running) {
                String label = phase;
                samples.add(new Sample(label, api.trySubmit(body.apply(i++), SUBMIT_TIMEOUT)));
                next += period.toNanos();
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    sleep(Duration.ofNanos(wait));
                } else {
                    next = System.nanoTime();
                }
            }
        }

        /** Stops submitting and waits for the request in flight. */
        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join(SUBMIT_TIMEOUT.plusSeconds(5).toMillis());
        }
    }

    /**
     * @param samples submissions
     * @param apiDown whether the API process itself was down: then nothing listens that could answer 503, and a
     *     connection refused (or cut by the kill) counts as a fast answer, as long as it came within 10 s
     * @return the submissions that broke the rule: neither a 202 nor a 503 with Retry-After, or slower than 10 s
     */
    static List<Sample> brokenAnswers(Collection<Sample> samples, boolean apiDown) {
        List<Sample> broken = new ArrayList<>();
        for (Sample s : samples) {
            Api.Submitted a = s.answer();
            boolean fast = a.took().compareTo(SUBMIT_LIMIT) <= 0;
            boolean allowed = a.accepted() || a.rejectedWithRetryAfter()
                    || (apiDown && a.status() == -1 && !a.timedOut());
            if (!fast || !allowed) {
                broken.add(s);
            }
        }
        return broken;
    }

    /** An action on the stack or a process that may throw, such as killing or restarting a component. */
    @FunctionalInterface
    interface Step {
        void run() throws Exception;
    }

    /**
     * One outage under load: the submissions sent while the component was down (until it answered again) and
     * all of them, when it was back, and the ids of every job that got a 202 (the backlog's too).
     */
    record Outage(List<Sample> during, List<Sample> all, Instant returnedAt, List<String> accepted) {
    }

    /**
     * Runs {@code down}, keeps submitting for {@code length}, runs {@code up} (which returns once the component
     * answers), and keeps submitting a few seconds more, one submission every {@code period}.
     *
     * @param backlog jobs accepted before, to count among the accepted
     */
    static Outage outage(Api api, List<String> backlog, Duration length, Duration period, Step down, Step up) throws Exception {
        Load load = new Load(api, i -> job(4, 2, 10_000 + i), period);
        Instant returnedAt;
        try {
            sleep(Duration.ofSeconds(2));
            load.phase("down");
            down.run();
            System.out.printf("[fault] down at %s%n", Instant.now());
            sleep(length);
            up.run();
            returnedAt = Instant.now();
            load.phase("after");
            System.out.printf("[fault] back at %s%n", returnedAt);
            sleep(Duration.ofSeconds(5));
        } finally {
            load.close();
        }
        List<Sample> all = load.samples();
        List<String> accepted = new ArrayList<>(backlog);
        accepted.addAll(load.accepted());
        return new Outage(all.stream().filter(s -> s.phase().equals("down")).toList(), all, returnedAt, accepted);
    }

    /**
     * Everything a fault test asserts, as one list of broken promises: each submission while the component was
     * down got a 202 or a 503 with Retry-After within 10 s; each accepted job ended SUCCEEDED with exactly
     * {@code numImages} good images (waiting up to 60 s after the component's return, plus {@code grace}); the
     * last one ended within 60 s of the return.
     */
    static List<String> verdict(Api api, LocalStack stack, Outage outage, int numImages, boolean apiDown, Duration grace)
            throws Exception {
        List<String> broken = new ArrayList<>();
        brokenAnswers(outage.during(), apiDown).forEach(s -> broken.add("submit while down: " + s));
        Duration wait = Duration.ofSeconds(60).plus(grace).minus(Duration.between(outage.returnedAt(), Instant.now()));
        Map<String, JsonNode> ended = awaitEnded(api, outage.accepted(), wait.isNegative() ? Duration.ofSeconds(1) : wait);
        broken.addAll(auditEnded(api, stack, outage.accepted(), ended, numImages));
        Optional<Instant> last = ended.values().stream().map(Faults::finishedAt).flatMap(Optional::stream).max(Instant::compareTo);
        last.map(at -> Duration.between(outage.returnedAt(), at)).filter(d -> d.compareTo(Duration.ofSeconds(60)) > 0)
                .ifPresent(d -> broken.add("the last job ended " + d.toSeconds() + " s after the component's return (limit 60 s)"));
        long during = outage.during().size();
        System.out.printf("[fault] %d submissions while down: %d accepted, %d 503 with Retry-After, %d other; slowest %d ms;"
                        + " %d accepted jobs in all; last ended %s after the return%n", during,
                outage.during().stream().filter(s -> s.answer().accepted()).count(),
                outage.during().stream().filter(s -> s.answer().rejectedWithRetryAfter()).count(),
                outage.during().stream().filter(s -> !s.answer().accepted() && !s.answer().rejectedWithRetryAfter()).count(),
                outage.all().stream().mapToLong(s -> s.answer().took().toMillis()).max().orElse(0),
                outage.accepted().size(),
                last.map(at -> Duration.between(outage.returnedAt(), at).toMillis() + " ms").orElse("(none ended)"));
        broken.forEach(b -> System.out.println("[fault] BROKEN " + b));
        return broken;
    }

    /**
     * Polls every job through the API until each has ended (SUCCEEDED, FAILED or CANCELLED) or {@code timeout}
     * passes; the API may be down or failing meanwhile.
     *
     * @return per job, the last view the API gave (absent when it never answered)
     */
    static Map<String, JsonNode> awaitEnded(Api api, Collection<String> ids, Duration timeout) throws InterruptedException {
        Map<String, JsonNode> last = new LinkedHashMap<>();
        Set<String> open = new TreeSet<>(ids);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!open.isEmpty() && System.nanoTime() < deadline) {
            for (String id : List.copyOf(open)) {
                Optional<JsonNode> job = api.tryJob(id);
                job.ifPresent(j -> last.put(id, j));
                if (job.isPresent() && isTerminal(job.get())) {
                    open.remove(id);
                }
            }
            if (!open.isEmpty()) {
                sleep(Duration.ofMillis(250));
            }
        }
        return last;
    }

    static boolean isTerminal(JsonNode job) {
        return job.path("status").asText().matches("SUCCEEDED|FAILED|CANCELLED");
    }

    /** @return the job's status, {@code STUCK <status>} when it has not ended, {@code UNKNOWN} when never seen */
    static String outcome(JsonNode job) {
        if (job == null) {
            return "UNKNOWN";
        }
        String status = job.path("status").asText();
        return isTerminal(job) ? status : "STUCK " + status;
    }

    /** @return when the job ended, by its own timings (empty while it has not) */
    static Optional<Instant> finishedAt(JsonNode job) {
        String at = job == null ? "" : job.path("timings").path("finishedAt").asText("");
        return at.isEmpty() || at.equals("null") ? Optional.empty() : Optional.of(Instant.parse(at));
    }

    /**
     * Checks a SUCCEEDED job's images: the API lists exactly {@code numImages} with indices 0…n-1, S3 holds
     * exactly {@code jobs/{id}/0.png…(n-1).png} under the job's prefix (nothing more: no second set, no stray
     * object), and each image fetched through the API is a PNG of the requested size that decodes.
     *
     * @return what is wrong, empty when nothing is
     */
    static List<String> imageProblems(Api api, MinioClient s3, String id, JsonNode job, int numImages) throws Exception {
        List<String> problems = new ArrayList<>();
        List<Integer> indices = new ArrayList<>();
        job.path("images").forEach(i -> indices.add(i.path("index").asInt()));
        List<Integer> expected = java.util.stream.IntStream.range(0, numImages).boxed().toList();
        if (!indices.stream().sorted().toList().equals(expected)) {
            problems.add("API lists images " + indices + ", expected " + expected);
        }
        List<String> keys = objects(s3, "tenants/local/jobs/" + id + "/");
        List<String> expectedKeys = expected.stream().map(n -> "tenants/local/jobs/" + id + "/" + n + ".png").toList();
        if (!keys.equals(expectedKeys)) {
            problems.add("S3 holds " + keys + ", expected " + expectedKeys);
        }
        int width = job.path("parameters").path("width").asInt();
        int height = job.path("parameters").path("height").asInt();
        for (int n : expected) {
            HttpResponse<byte[]> r = api.image(id, n);
            if (r.statusCode() != 200) {
                problems.add("image " + n + " answered " + r.statusCode());
                continue;
            }
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(r.body()));
            if (image == null) {
                problems.add("image " + n + " does not decode (" + r.body().length + " bytes)");
            } else if (image.getWidth() != width || image.getHeight() != height) {
                problems.add("image " + n + " is " + image.getWidth() + "x" + image.getHeight() + ", expected " + width + "x" + height);
            }
        }
        return problems;
    }

    /** @return the keys under {@code prefix} in the service's bucket, sorted */
    static List<String> objects(MinioClient s3, String prefix) throws Exception {
        List<String> keys = new ArrayList<>();
        for (Result<Item> item : s3.listObjects(ListObjectsArgs.builder().bucket(BUCKET).prefix(prefix).recursive(true).build())) {
            keys.add(item.get().objectName());
        }
        keys.sort(String::compareTo);
        return keys;
    }

    static MinioClient s3(LocalStack stack) {
        return MinioClient.builder().endpoint(stack.s3Endpoint()).credentials(stack.s3AccessKey(), stack.s3SecretKey())
                .region("us-east-1").build();
    }

    /**
     * @param ended the last view of each job, see {@link #awaitEnded}
     * @return one line per job that did not end SUCCEEDED with exactly {@code numImages} good images
     */
    static List<String> auditEnded(Api api, LocalStack stack, Collection<String> ids, Map<String, JsonNode> ended,
            int numImages) throws Exception {
        MinioClient s3 = s3(stack);
        List<String> wrong = new ArrayList<>();
        for (String id : ids) {
            JsonNode job = ended.get(id);
            String outcome = outcome(job);
            if (!outcome.equals("SUCCEEDED")) {
                wrong.add("job " + id + ": " + outcome + describe(job));
                continue;
            }
            List<String> problems = imageProblems(api, s3, id, job, numImages);
            if (!problems.isEmpty()) {
                wrong.add("job " + id + ": SUCCEEDED but " + String.join("; ", problems));
            }
        }
        return wrong;
    }

    /** @return attempt, worker, step and error of a job, for a failure message */
    static String describe(JsonNode job) {
        if (job == null) {
            return " (the API never showed it)";
        }
        return " (attempt " + job.path("attempt").asInt() + ", worker " + job.path("worker").asText("-") + ", step "
                + job.path("progress").path("step").asInt() + "/" + job.path("progress").path("totalSteps").asInt()
                + (job.has("error") && !job.path("error").isNull() ? ", error " + job.path("error") : "") + ")";
    }

    static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
