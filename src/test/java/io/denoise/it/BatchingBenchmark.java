package io.denoise.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.stack.LocalStack;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

/**
 * Continuous batching, measured on a local stack with one packaged service process (API and worker, shapes model):
 * <ol>
 *   <li>{@code --jobs} single-image 20-step jobs submitted at once: images per second with
 *       {@code denoise.worker.max-batch-jobs=1} and with batching ({@code --max-batch-jobs}), over {@code --rounds}
 *       rounds each;</li>
 *   <li>a job submitted while a batch of long jobs runs: submit → its first progress event, against the batched
 *       step time;</li>
 *   <li>mixed load — 4, 20 and 50 steps × pndm and euler-ancestral × guidance 1 and 2.5 — all at once with
 *       batching, each job against the same job run alone: its wall time against alone + 2 × its steps × the
 *       batched step time, and its PNG bytes against alone's.</li>
 * </ol>
 * Run: {@code ./mvnw -Pbench-batching} (see README); arguments {@code --jobs N} (16), {@code --max-batch-jobs N}
 * (8), {@code --rounds N} (3), {@code --model NAME} (shapes), {@code --sections} (throughput,latecomers,mixed),
 * {@code --intra-op-threads N} (0: one per core), {@code --latecomer-warmup N} (2: latecomer rounds run first and not
 * counted, one per scheduler, as the throughput section warms its own way).
 */
public final class BatchingBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Each job's first progress event: from when the worker made it to when this client read it. */
    private static final List<Double> DELIVERY_MS = new CopyOnWriteArrayList<>();
    /** By job: when its started and first progress events were made (the worker's clock), and that one's delivery. */
    private static final Map<String, FirstEvents> FIRST_EVENTS = new ConcurrentHashMap<>();

    private static final class FirstEvents {
        Instant startedMade;
        Instant progressMade;
        double progressDeliveryMs;
    }

    private BatchingBenchmark() {
    }

    /** What the event stream showed of one job: when it was submitted, first progressed and ended. */
    record Seen(long submitted, long started, long firstProgress, long ended, JsonNode terminal) {

        double wallMs() {
            return (ended - submitted) / 1e6;
        }

        double loopMs() {
            return terminal.path("timing").path("loopMs").asDouble();
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>(Map.of("jobs", "16", "max-batch-jobs", "8", "rounds", "3",
                "model", "shapes", "sections", "throughput,latecomers,mixed", "intra-op-threads", "0", "latecomer-warmup", "2"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        AppProcess.useJvmOptions(opts.get("app-jvm"));
        int jobs = Integer.parseInt(opts.get("jobs"));
        int rounds = Integer.parseInt(opts.get("rounds"));
        String batch = opts.get("max-batch-jobs");
        String model = opts.get("model");
        Map<String, String> config = new HashMap<>(Map.of("denoise.models.serve", model, "denoise.api.default-model", model,
                "denoise.models.intra-op-threads", opts.get("intra-op-threads")));
        if (opts.containsKey("log-level")) {
            config.put("quarkus.log.category.\"io.denoise.worker\".level", opts.get("log-level"));
        }
        Path data = Path.of("target", "stack-bench", "batching-" + System.currentTimeMillis());
        List<String> sections = List.of(opts.get("sections").split(","));
        List<String> mixed = sections.contains("mixed") ? mixedLoad() : List.of();
        try (LocalStack stack = LocalStack.builder().dataDir(data).build().start();
             KafkaConsumer<String, String> events = ServiceBenchmark.tail(stack)) {
            double[] alone;
            Map<String, Seen> mixedAlone = new LinkedHashMap<>();
            Map<String, List<byte[]>> imagesAlone = new LinkedHashMap<>();
            try (AppProcess app = AppProcess.start("batch-off", stack, "api,worker",
                    ServiceBenchmark.with(config, "denoise.worker.max-batch-jobs", "1"), true)) {
                Api api = new Api(app);
                alone = sections.contains("throughput") ? throughput(api, events, jobs, rounds) : new double[] {0};
                for (String body : mixed) {
                    Seen seen = runAll(api, events, List.of(body)).values().iterator().next();
                    mixedAlone.put(body, seen);
                    imagesAlone.put(body, images(api, seen));
                }
            }
            try (AppProcess app = AppProcess.start("batch-on", stack, "api,worker",
                    ServiceBenchmark.with(config, "denoise.worker.max-batch-jobs", batch), true)) {
                Api api = new Api(app);
                if (sections.contains("throughput")) {
                    double[] batched = throughput(api, events, jobs, rounds);
                    System.out.printf(Locale.ROOT, "%n%d single-image 20-step jobs submitted at once, %d rounds (median):%n"
                                    + "  max-batch-jobs=1: %.2f images/s    max-batch-jobs=%s: %.2f images/s    ratio %.2f%n",
                            jobs, rounds, median(alone), batch, median(batched), median(batched) / median(alone));
                    System.out.printf(Locale.ROOT, "  rounds: alone %s, batched %s images/s%n", Arrays.toString(alone),
                            Arrays.toString(batched));
                }
                if (sections.contains("latecomers")) {
                    if (!sections.contains("throughput")) {
                        runAll(api, events, bodies(jobs, 1));
                    }
                    latecomers(api, events, Integer.parseInt(batch), rounds, Integer.parseInt(opts.get("latecomer-warmup")));
                }
                if (sections.contains("mixed")) {
                    mixed(api, events, mixed, mixedAlone, imagesAlone);
                }
            }
        }
    }

    /** 4, 20 and 50 steps × two schedulers × guidance 1 and 2.5, distinct seeds. */
    static List<String> mixedLoad() {
        List<String> bodies = new ArrayList<>();
        int seed = 100;
        for (int steps : new int[] {4, 20, 50}) {
            for (String scheduler : List.of("pndm", "euler-ancestral")) {
                for (double guidance : new double[] {1.0, 2.5}) {
                    bodies.add(String.format(Locale.ROOT, "{\"prompt\":\"a red circle on a white background\","
                                    + "\"numInferenceSteps\":%d,\"scheduler\":\"%s\",\"guidanceScale\":%.1f,\"seed\":%d}",
                            steps, scheduler, guidance, seed++));
                }
            }
        }
        return bodies;
    }

    /** A warm-up batch, then {@code rounds} times: {@code jobs} jobs at once, first submit to last end. */
    static double[] throughput(Api api, KafkaConsumer<String, String> events, int jobs, int rounds) throws Exception {
        runAll(api, events, bodies(jobs, 1));
        double[] imagesPerSecond = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            Map<String, Seen> seen = runAll(api, events, bodies(jobs, 1000 * (r + 1)));
            long first = seen.values().stream().mapToLong(Seen::submitted).min().orElseThrow();
            long last = seen.values().stream().mapToLong(Seen::ended).max().orElseThrow();
            imagesPerSecond[r] = Math.round(jobs / ((last - first) / 1e9) * 100) / 100.0;
        }
        return imagesPerSecond;
    }

    private static List<String> bodies(int jobs, int firstSeed) {
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < jobs; i++) {
            bodies.add("{\"prompt\":\"a red circle on a white background\",\"numInferenceSteps\":20,\"seed\":"
                    + (firstSeed + i) + "}");
        }
        return bodies;
    }

    /**
     * Fills the batch but one with 50-step jobs, waits until each has progressed, submits one 20-step job and times
     * it to its first progress event, after {@code warmUp} rounds not counted; rounds alternate the latecomer's scheduler between PNDM and Euler. The batched
     * UNet call's time is the long jobs' loop time over their 51 calls. A job's first step is one call with Euler
     * and two with PNDM (its PLMS warm-up evaluates the first timestep twice, as diffusers' does, and the progress
     * event comes once the step is done), so each scheduler's bound is its first step in batched calls + 100 ms.
     */
    static void latecomers(Api api, KafkaConsumer<String, String> events, int batch, int rounds, int warmUp) throws Exception {
        List<String> schedulers = List.of("pndm", "euler");
        Map<String, Integer> firstStepCalls = Map.of("pndm", 2, "euler", 1);
        Map<String, List<Double>> firstProgress = new LinkedHashMap<>();
        List<Double> claimed = new ArrayList<>();
        List<Double> callMs = new ArrayList<>();
        List<Double> lateDelivery = new ArrayList<>();
        List<Double> answered = new ArrayList<>();
        for (int r = -warmUp; r < rounds; r++) {
            String scheduler = schedulers.get(Math.floorMod(r, schedulers.size()));
            Map<String, long[]> submitted = new LinkedHashMap<>();
            Map<String, Seen> seen = new HashMap<>();
            for (int i = 0; i < batch - 1; i++) {
                submitted.put(api.submit("{\"prompt\":\"a blue square on a black background\",\"numInferenceSteps\":50,"
                        + "\"seed\":" + (5000 + 100 * r + i) + "}"), new long[] {System.nanoTime(), -1, -1});
            }
            follow(events, submitted, seen, () -> submitted.values().stream().allMatch(t -> t[1] > 0));
            long t0 = System.nanoTime();
            Instant submittedAt = Instant.now();
            String late = api.submit("{\"prompt\":\"a red circle on a white background\",\"numInferenceSteps\":20,"
                    + "\"scheduler\":\"" + scheduler + "\",\"seed\":" + (6000 + r) + "}");
            double answeredMs = (System.nanoTime() - t0) / 1e6;
            submitted.put(late, new long[] {t0, -1, -1});
            follow(events, submitted, seen, () -> submitted.get(late)[1] > 0);
            double progressMs = (submitted.get(late)[1] - t0) / 1e6;
            FirstEvents first = FIRST_EVENTS.get(late);
            System.out.printf(Locale.ROOT, "  %s (%s): 202 after %.1f ms; started event made at +%.1f ms, first progress"
                            + " made at +%.1f ms, read at +%.1f ms%n", r < 0 ? "warm-up round" : "round " + r, scheduler,
                    answeredMs, Duration.between(submittedAt, first.startedMade).toNanos() / 1e6,
                    Duration.between(submittedAt, first.progressMade).toNanos() / 1e6, progressMs);
            follow(events, submitted, seen, () -> seen.size() == submitted.size());
            if (r < 0) {
                continue;
            }
            answered.add(answeredMs);
            firstProgress.computeIfAbsent(scheduler, k -> new ArrayList<>()).add(progressMs);
            claimed.add((submitted.get(late)[2] - t0) / 1e6);
            lateDelivery.add(first.progressDeliveryMs);
            seen.entrySet().stream().filter(e -> !e.getKey().equals(late))
                    .forEach(e -> callMs.add(e.getValue().loopMs() / 51));
        }
        System.out.printf(Locale.ROOT, "%na 20-step job submitted while %d 50-step jobs run (%d rounds):%n", batch - 1, rounds);
        ServiceBenchmark.print("submit -> 202 answered", answered);
        ServiceBenchmark.print("submit -> its started event (claimed)", claimed);
        ServiceBenchmark.print("its first progress event, made -> read", lateDelivery);
        ServiceBenchmark.print("first progress events, made -> read (all jobs)", DELIVERY_MS);
        ServiceBenchmark.print("batched UNet call (long jobs' loop / 51 calls)", callMs);
        double call = ServiceBenchmark.sortedCopy(callMs).get(callMs.size() / 2);
        firstProgress.forEach((scheduler, times) -> {
            double bound = firstStepCalls.get(scheduler) * call + 100;
            ServiceBenchmark.print("submit -> its first progress event, " + scheduler, times);
            System.out.printf(Locale.ROOT, "    bound: first step (%d batched calls) + 100 ms = %.1f ms; %d of %d rounds within%n",
                    firstStepCalls.get(scheduler), bound, times.stream().filter(t -> t <= bound).count(), times.size());
        });
    }

    /** Runs the mixed load at once and holds each job against its run alone. */
    static void mixed(Api api, KafkaConsumer<String, String> events, List<String> bodies, Map<String, Seen> alone,
                      Map<String, List<byte[]>> imagesAlone) throws Exception {
        Map<String, Seen> batched = runAll(api, events, bodies);
        System.out.printf(Locale.ROOT, "%nmixed load, %d jobs at once, against each alone:%n", bodies.size());
        System.out.printf(Locale.ROOT, "  %-44s %9s %9s %9s %9s  %s%n", "job", "alone ms", "batch ms", "step ms",
                "bound ms", "images");
        int overBound = 0;
        int differing = 0;
        for (String body : bodies) {
            Seen b = batched.get(body);
            Seen a = alone.get(body);
            JsonNode request = JSON.readTree(body);
            int steps = request.path("numInferenceSteps").asInt();
            double step = b.loopMs() / steps;
            double bound = a.wallMs() + 2 * steps * step;
            boolean same = sameImages(imagesAlone.get(body), images(api, b));
            overBound += b.wallMs() > bound ? 1 : 0;
            differing += same ? 0 : 1;
            System.out.printf(Locale.ROOT, "  %-44s %9.1f %9.1f %9.1f %9.1f  %s%n",
                    steps + " steps, " + request.path("scheduler").asText() + ", guidance " + request.path("guidanceScale").asText(),
                    a.wallMs(), b.wallMs(), step, bound, same ? "equal" : "DIFFERENT");
        }
        System.out.printf(Locale.ROOT, "  %d of %d over the bound, %d of %d with images unlike alone%n", overBound,
                bodies.size(), differing, bodies.size());
    }

    private static boolean sameImages(List<byte[]> a, List<byte[]> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!Arrays.equals(a.get(i), b.get(i))) {
                return false;
            }
        }
        return true;
    }

    private static List<byte[]> images(Api api, Seen seen) throws Exception {
        String id = seen.terminal().path("jobId").asText();
        List<byte[]> images = new ArrayList<>();
        for (int i = 0; i < api.job(id).path("images").size(); i++) {
            HttpResponse<byte[]> r = api.image(id, i);
            if (r.statusCode() != 200) {
                throw new AssertionError("image " + i + " of " + id + ": " + r.statusCode());
            }
            images.add(r.body());
        }
        return images;
    }

    /** Submits every body at once and follows the events until each job ended; keyed by body. */
    static Map<String, Seen> runAll(Api api, KafkaConsumer<String, String> events, List<String> bodies) throws Exception {
        Map<String, long[]> submitted = new LinkedHashMap<>();
        Map<String, String> bodyOf = new HashMap<>();
        for (String body : bodies) {
            long t = System.nanoTime();
            String id = api.submit(body);
            submitted.put(id, new long[] {t, -1, -1});
            bodyOf.put(id, body);
        }
        Map<String, Seen> seen = new HashMap<>();
        follow(events, submitted, seen, () -> seen.size() == submitted.size());
        Map<String, Seen> byBody = new LinkedHashMap<>();
        submitted.keySet().forEach(id -> byBody.put(bodyOf.get(id), seen.get(id)));
        return byBody;
    }

    /**
     * Reads events until {@code done}: notes each submitted job's first progress and started events ({@code [1]}
     * and {@code [2]} of its times, after the submit) and its end; a job that did not succeed fails the benchmark.
     */
    private static void follow(KafkaConsumer<String, String> events, Map<String, long[]> submitted,
                               Map<String, Seen> seen, BooleanSupplier done) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("jobs did not end within 10 minutes");
            }
            // returns as soon as an event arrives; a longer wait only spares the client's wake-ups
            for (ConsumerRecord<String, String> r : events.poll(Duration.ofMillis(100))) {
                long[] times = submitted.get(r.key());
                if (times == null) {
                    continue;
                }
                long now = System.nanoTime();
                JsonNode e = JSON.readTree(r.value());
                String type = e.path("type").asText();
                FirstEvents first = FIRST_EVENTS.computeIfAbsent(r.key(), k -> new FirstEvents());
                if (type.equals("progress") && times[1] < 0) {
                    times[1] = now;
                    first.progressMade = Instant.parse(e.path("at").asText());
                    first.progressDeliveryMs = Duration.between(first.progressMade, Instant.now()).toNanos() / 1e6;
                    DELIVERY_MS.add(first.progressDeliveryMs);
                }
                if (type.equals("started") && times[2] < 0) {
                    times[2] = now;
                    first.startedMade = Instant.parse(e.path("at").asText());
                }
                if (type.equals("failed") || type.equals("cancelled")) {
                    throw new AssertionError("job " + r.key() + " ended " + type + ": " + e);
                }
                if (type.equals("succeeded")) {
                    seen.put(r.key(), new Seen(times[0], times[2], times[1], now, e));
                }
            }
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
