package io.denoise.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.api.ApiConfig;
import io.denoise.stack.LocalStack;
import io.minio.ListObjectsArgs;
import io.minio.MinioClient;
import io.minio.Result;
import io.minio.messages.Item;
import io.smallrye.config.WithDefault;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The service's performance targets, measured on a local stack with the packaged service as separate processes:
 * <ol>
 *   <li>submit → first progress event, with an idle worker (p50, p90);</li>
 *   <li>submit → succeeded event, minus the pipeline's own time (the cost of API, outbox, Kafka, DB, S3);</li>
 *   <li>{@code POST /v1/jobs} throughput and latency on an API process while jobs queue;</li>
 *   <li>4 × 4 sweeps: the time from the last cell's end to the stored grid;</li>
 *   <li>100 jobs over two workers, one of them killed with SIGKILL twice: every job must succeed once.</li>
 * </ol>
 * Run: {@code ./mvnw -q -Pbench-service} (see README). Arguments: {@code --model NAME} (default shapes),
 * {@code --latency-jobs N} (50), {@code --latency-warmup N} (20: jobs run before the measured ones, and as many
 * warm-up generations for {@code generate --bench}, so both are compared warm), {@code --post-seconds N} (20),
 * {@code --post-rates R[,R...]} (500, requests/s offered), {@code --post-warmup-seconds N} (20: a new API process
 * measured from its first request after ready, at half the first rate), {@code --chaos-jobs N} (100),
 * {@code --sweeps N} (3: 4 × 4 sweeps, each timed from its last cell's end to its grid), {@code --intra-op-threads N}
 * (0: one per core; the worker's and {@code generate --bench}'s alike), {@code --max-batch-jobs N} (8),
 * {@code --post-tenants N} (1: the POST run's submits go round-robin over the keys of N tenants),
 * {@code --post-connections N} (64: the POST run's keep-alive connections, the most requests in flight),
 * {@code --warm-up-requests N} (the API's default: the submits a new API process rehearses before it is ready).
 */
public final class ServiceBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();

    private ServiceBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>(Map.of("model", "shapes", "latency-jobs", "50", "post-seconds", "20",
                "chaos-jobs", "100", "post-rates", "500", "post-warmup-seconds", "20", "sweeps", "3", "post-tenants", "1",
                "intra-op-threads", "0", "max-batch-jobs", "8"));
        opts.put("post-connections", "64");
        opts.put("latency-warmup", "20");
        // the production warm-up, not the tests' short one
        opts.put("warm-up-requests", ApiConfig.class.getMethod("warmUpRequests").getAnnotation(WithDefault.class).value());
        for (int i = 0; i + 1 < args.length; i += 2) {
            opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        String model = opts.get("model");
        // JVM options of the service processes and of generate --bench instead of the production ones
        AppProcess.useJvmOptions(opts.get("app-jvm"));
        // quotas stay on, set above what the benchmark offers; admission by capacity is off, as the POST run's API
        // has no worker and its queue only grows
        Map<String, String> modelConfig = Map.of("denoise.models.serve", model, "denoise.api.default-model", model,
                "denoise.models.intra-op-threads", opts.get("intra-op-threads"),
                "denoise.worker.max-batch-jobs", opts.get("max-batch-jobs"),
                "denoise.quotas.submit-rate", "100000", "denoise.quotas.submit-burst", "100000",
                "denoise.quotas.max-active-jobs", "1000000", "denoise.admission.max-queue-wait", "0s",
                "denoise.api.warm-up-requests", opts.get("warm-up-requests"));
        Path data = Path.of("target", "stack-bench", "run-" + System.currentTimeMillis());
        try (LocalStack stack = LocalStack.builder().dataDir(data).build().start()) {
            try (AppProcess app = AppProcess.start("bench-app", stack, "api,worker", modelConfig, true)) {
                Api api = new Api(app);
                String body = "{\"prompt\":\"a red circle on a white background\",\"numInferenceSteps\":20}";
                if (Integer.parseInt(opts.get("latency-jobs")) > 0) {
                    latency(stack, api, body, model, Integer.parseInt(opts.get("latency-warmup")),
                            Integer.parseInt(opts.get("latency-jobs")), opts.get("intra-op-threads"));
                }
                if (Integer.parseInt(opts.get("sweeps")) > 0) {
                    sweepGrids(api, Integer.parseInt(opts.get("sweeps")));
                }
            }
            if (Integer.parseInt(opts.get("post-seconds")) > 0) {
                // an API process of its own: submits are measured while the queue grows, not while a worker
                // in the same process competes for the two cores
                try (AppProcess api = AppProcess.start("bench-api", stack, "api", modelConfig, true)) {
                    String[] rates = opts.get("post-rates").split(",");
                    List<String> keys = tenantKeys(api, Integer.parseInt(opts.get("post-tenants")));
                    int warmup = Integer.parseInt(opts.get("post-warmup-seconds"));
                    int connections = Integer.parseInt(opts.get("post-connections"));
                    if (warmup > 0) {
                        // a new process, measured from the first request after it reported ready: what a client
                        // sees from a replica a load balancer has just added; it also warms the process up for
                        // the rates that follow
                        coldStart(api, keys, warmup, Integer.parseInt(rates[0].trim()) / 2, connections);
                    }
                    for (String rate : rates) {
                        throughput(api, keys, Integer.parseInt(opts.get("post-seconds")), Integer.parseInt(rate.trim()),
                                connections);
                    }
                }
            }
        }
        if (Integer.parseInt(opts.get("chaos-jobs")) > 0) {
            // a stack of its own, so the jobs queued by the throughput run do not take the workers' time
            try (LocalStack stack = LocalStack.builder().dataDir(data.resolveSibling(data.getFileName() + "-chaos")).build().start()) {
                chaos(stack, modelConfig, Integer.parseInt(opts.get("chaos-jobs")));
            }
        }
    }

    /**
     * Submits jobs one at a time to an idle worker and times the events a client would see, after {@code warmup}
     * jobs that are not measured.
     */
    static void latency(LocalStack stack, Api api, String body, String model, int warmup, int jobs, String threads)
            throws Exception {
        List<Double> started = new ArrayList<>();
        List<Double> firstProgress = new ArrayList<>();
        List<Double> overhead = new ArrayList<>();
        List<Double> total = new ArrayList<>();
        List<Double> loopOutside = new ArrayList<>();
        List<Double> attempt = new ArrayList<>();
        List<Double> loop = new ArrayList<>();
        List<Double> beforeGeneration = new ArrayList<>();
        List<Double> generation = new ArrayList<>();
        List<Double> uploadWait = new ArrayList<>();
        List<Double> finish = new ArrayList<>();
        double[] loopsTogether = new double[2]; // wall, of which inside ONNX Runtime, summed over the measured jobs
        // the pipeline alone before, halfway through and after the measured jobs: the node's speed drifts within a run
        List<Double> alone = new ArrayList<>();
        try (KafkaConsumer<String, String> events = tail(stack)) {
            for (int i = 0; i < jobs + warmup; i++) {
                if (i == warmup || (jobs > 1 && i == warmup + jobs / 2)) {
                    alone.add(pipelineAlone(model, body, threads, warmup));
                }
                long t0 = System.nanoTime();
                String id = api.submit(body);
                double progressMs = -1;
                double startedMs = -1;
                while (true) {
                    // returns as soon as an event arrives; a longer wait only spares the client's wake-ups
                    for (ConsumerRecord<String, String> r : events.poll(Duration.ofMillis(100))) {
                        if (!r.key().equals(id)) {
                            continue;
                        }
                        JsonNode e = JSON.readTree(r.value());
                        double at = (System.nanoTime() - t0) / 1e6;
                        if (e.path("type").asText().equals("started")) {
                            startedMs = at;
                        }
                        if (e.path("type").asText().equals("progress") && progressMs < 0) {
                            progressMs = at;
                        }
                        if (e.path("type").asText().equals("succeeded")) {
                            if (i >= warmup) {
                                started.add(startedMs);
                                firstProgress.add(progressMs);
                                total.add(at);
                                overhead.add(at - e.path("elapsedMs").asDouble());
                                JsonNode timing = e.path("timing");
                                double loopMs = timing.path("loopMs").asDouble();
                                double inferenceMs = timing.path("loopInferenceMs").asDouble();
                                loop.add(loopMs);
                                loopsTogether[0] += loopMs;
                                loopsTogether[1] += inferenceMs;
                                loopOutside.add(100 * (loopMs - inferenceMs) / loopMs);
                                double attemptMs = timing.path("attemptMs").asDouble();
                                double generateMs = timing.path("generateMs").asDouble();
                                double uploadWaitMs = timing.path("uploadWaitMs").asDouble();
                                double finishMs = timing.path("finishMs").asDouble();
                                attempt.add(attemptMs);
                                generation.add(generateMs);
                                uploadWait.add(uploadWaitMs);
                                finish.add(finishMs);
                                beforeGeneration.add(attemptMs - generateMs - uploadWaitMs - finishMs);
                            }
                            progressMs = Double.NaN;
                        }
                    }
                    if (Double.isNaN(progressMs)) {
                        break;
                    }
                }
            }
        }
        System.out.printf(Locale.ROOT, "%nlatency over %d jobs (20 steps, one idle worker, after %d warm-up jobs)%n",
                jobs, warmup);
        print("submit -> started event (claimed)", started);
        print("submit -> first progress event", firstProgress);
        print("submit -> succeeded event", total);
        print("submit -> succeeded minus pipeline time", overhead);
        print("denoising loop wall time (first step to last)", loop);
        List<Double> outside = sortedCopy(loopOutside);
        System.out.printf(Locale.ROOT, "  %-44s p50 %8.2f %%    p90 %8.2f %%    max %8.2f %%   (n=%d)%n",
                "of which outside ONNX Runtime", pct(outside, 50), pct(outside, 90), outside.get(outside.size() - 1),
                outside.size());
        // the figure generate --bench reports: the share of all the time, not of each job
        System.out.printf(Locale.ROOT, "  %-44s %8.2f %%%n", "outside ONNX Runtime, all loops together",
                100 * (loopsTogether[0] - loopsTogether[1]) / loopsTogether[0]);
        print("attempt wall time in the worker (claim -> finish)", attempt);
        print("  of it: claim to the generation's start", beforeGeneration);
        print("  of it: the generation (prompt, loop, decoding)", generation);
        print("  of it: then waiting for the upload", uploadWait);
        print("  of it: then the finish write", finish);
        alone.add(pipelineAlone(model, body, threads, warmup));
        double aloneMs = sortedCopy(alone).get(alone.size() / 2);
        double median = sortedCopy(attempt).get(attempt.size() / 2);
        double mean = attempt.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        System.out.printf(Locale.ROOT, "the same generation alone (generate --bench 30 --warmup %d, same process settings) before,"
                + " halfway and after: mean wall %s ms, median %.1f ms; attempt median / alone = %.2f,"
                + " attempt mean / alone = %.2f%n", warmup,
                String.join(" / ", alone.stream().map(a -> String.format(Locale.ROOT, "%.1f", a)).toList()), aloneMs,
                median / aloneMs, mean / aloneMs);
    }

    /**
     * Runs 4 × 4 sweeps (guidance × seed, 10 steps) one after another and times, by polling the sweep every 20 ms,
     * the gap between the poll that first sees every cell ended and the one that first sees the grid stored.
     */
    static void sweepGrids(Api api, int sweeps) throws Exception {
        List<Double> gaps = new ArrayList<>();
        List<Double> totals = new ArrayList<>();
        for (int i = 0; i < sweeps; i++) {
            long t0 = System.nanoTime();
            String id = api.post("/v1/sweeps", "{\"base\":{\"prompt\":\"a red circle on a white background\","
                    + "\"numInferenceSteps\":10},\"x\":{\"field\":\"guidanceScale\",\"values\":[1,3,6,9]},"
                    + "\"y\":{\"field\":\"seed\",\"values\":[1,2,3,4]}}").path("id").asText();
            long allEnded = -1;
            while (true) {
                JsonNode sweep = api.get("/v1/sweeps/" + id);
                long now = System.nanoTime();
                if (allEnded < 0 && sweep.path("progress").path("cellsDone").asInt() == 16) {
                    allEnded = now;
                }
                if (sweep.path("grid").path("status").asText().equals("ready")) {
                    gaps.add((now - (allEnded < 0 ? now : allEnded)) / 1e6);
                    totals.add((now - t0) / 1e6);
                    break;
                }
                if (sweep.path("grid").path("status").asText().equals("failed")) {
                    throw new AssertionError("sweep " + id + ": grid failed: " + sweep);
                }
                Thread.sleep(20);
            }
        }
        System.out.printf(Locale.ROOT, "%nsweeps: %d of 4 x 4 cells (10 steps each)%n", sweeps);
        print("last cell ended -> grid stored", gaps);
        print("submit -> grid stored", totals);
    }

    /**
     * Runs {@code generate --bench 30} on the model in a process of its own, after {@code warmup} generations, and
     * returns its mean wall per generation.
     */
    static double pipelineAlone(String model, String body, String threads, int warmup) throws Exception {
        JsonNode request = JSON.readTree(body);
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java")));
        command.addAll(AppProcess.jvmOptions());
        command.addAll(List.of("-jar",
                System.getProperty("denoise.app.jar", "target/quarkus-app/quarkus-run.jar"), "generate",
                "--model", "models/" + model, "--prompt", request.path("prompt").asText(),
                "--steps", request.path("numInferenceSteps").asText(), "--seed", "1", "--device", "cpu",
                "--spin", "off", "--threads", threads, "--bench", "30", "--warmup", Integer.toString(warmup)));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("generate --bench failed: " + output);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("mean wall per generation: ([0-9.]+) ms").matcher(output);
        if (!m.find()) {
            throw new IllegalStateException("no mean wall in: " + output);
        }
        return Double.parseDouble(m.group(1));
    }

    static List<Double> sortedCopy(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted;
    }

    /**
     * Offers POST /v1/jobs at a fixed rate (open loop: a request is sent when it is due, whether or not earlier
     * ones have returned) while the queue grows, and times each request from the moment it was due, so a stalled
     * server shows in the percentiles instead of slowing the client down. HTTP/1.1 with pooled keep-alive
     * connections, as a load balancer in front of the API would use.
     */
    /** The local tenant's key, and keys of {@code tenants - 1} more tenants made with it (an admin key). */
    static List<String> tenantKeys(AppProcess app, int tenants) throws Exception {
        List<String> keys = new ArrayList<>(List.of(app.apiKey()));
        HttpClient http = HttpClient.newHttpClient();
        for (int i = 1; i < tenants; i++) {
            HttpResponse<String> made = http.send(app.request("/v1/admin/keys").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"tenant\":\"bench-" + i + "\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            keys.add(JSON.readTree(made.body()).path("key").asText());
        }
        return keys;
    }

    static void throughput(AppProcess app, List<String> keys, int seconds, int rate, int connections) throws Exception {
        OpenLoopLoad load = submits(app, keys, connections);
        int warmup = 3 * rate;
        OpenLoopLoad.Result result = load.run(rate, warmup + seconds * rate, warmup);
        int measured = result.latenciesMs().size();
        double window = (result.lastDoneNanos() - result.firstDueNanos()) / 1e9;
        Map<String, Integer> errors = new TreeMap<>(result.answers());
        errors.remove("202");
        System.out.printf(Locale.ROOT, "%nPOST /v1/jobs offered at %d requests/s (%d tenants, %d connections) for %d s "
                        + "(after 3 s warm-up): %d completed in %.2f s = %.0f requests/s, %d errors%n",
                rate, keys.size(), connections, seconds, measured, window, measured / window,
                measured - result.count("202"));
        if (!errors.isEmpty()) {
            System.out.println("  errors by answer: " + errors);
        }
        print("POST /v1/jobs latency (from when it was due)", result.latenciesMs());
    }

    /** One-step submits, taking the keys in turn. */
    private static OpenLoopLoad submits(AppProcess app, List<String> keys, int connections) {
        return new OpenLoopLoad(app.uri("/v1/jobs"), keys.stream().map(k -> "Bearer " + k).toList(),
                "{\"prompt\":\"a blue square\",\"numInferenceSteps\":1}", connections);
    }

    /**
     * Offers load to a process that has just reported ready, measuring every request from the first: the overall
     * percentiles and the p99 of each second, so a slow first second shows instead of being averaged away.
     */
    static void coldStart(AppProcess app, List<String> keys, int seconds, int rate, int connections) throws Exception {
        // the client's own code warmed first, on the management port's liveness (no part of the submit path), so
        // that what is measured is the new server, not a cold client
        new OpenLoopLoad(app.managementUri("/q/health/live"), List.of("Bearer none"), "{}", connections)
                .run(2 * rate, 4 * rate, 0);
        OpenLoopLoad load = submits(app, keys, connections);
        OpenLoopLoad.Result result = load.run(rate, seconds * rate, 0);
        List<Double> latencies = result.latenciesMs();
        StringBuilder perSecond = new StringBuilder();
        double worst = 0;
        for (int from = 0; from < latencies.size(); from += rate) {
            List<Double> second = new ArrayList<>(latencies.subList(from, Math.min(latencies.size(), from + rate)));
            Collections.sort(second);
            double p99 = pct(second, 99);
            worst = Math.max(worst, p99);
            perSecond.append(String.format(Locale.ROOT, " %.0f", p99));
        }
        System.out.printf(Locale.ROOT, "%nPOST /v1/jobs on a new API process, from the first request after it reported "
                + "ready, %d requests/s for %d s: %d of %d answered 202; worst second's p99 %.1f ms%n",
                rate, seconds, result.count("202"), latencies.size(), worst);
        System.out.println("  p99 of each second (ms):" + perSecond);
        print("POST /v1/jobs latency, new process (from when it was due)", latencies);
    }

    /** 100 jobs over two workers; one worker is killed with SIGKILL twice (and restarted) while they run. */
    static void chaos(LocalStack stack, Map<String, String> modelConfig, int jobs) throws Exception {
        long start = System.nanoTime();
        try (AppProcess api = AppProcess.start("chaos-api", stack, "api", modelConfig, true)) {
            AppProcess[] workers = {
                    AppProcess.start("chaos-worker-1", stack, "worker", with(modelConfig, "denoise.worker.id", "chaos-1"), true),
                    AppProcess.start("chaos-worker-2", stack, "worker", with(modelConfig, "denoise.worker.id", "chaos-2"), true)};
            Api client = new Api(api);
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                ids.add(client.submit("{\"prompt\":\"a green triangle on a gray background\",\"numInferenceSteps\":20,\"numImages\":2,\"seed\":" + i + "}"));
            }
            int kills = 0;
            for (String killAfter : List.of(ids.get(jobs / 4), ids.get(jobs / 2))) {
                client.awaitStatus(killAfter, "SUCCEEDED", Duration.ofMinutes(10));
                workers[0].kill();
                kills++;
                System.out.printf("killed worker chaos-1 with SIGKILL (%d)%n", kills);
                workers[0] = AppProcess.start("chaos-worker-1-" + kills, stack, "worker",
                        with(modelConfig, "denoise.worker.id", "chaos-1"), true);
            }
            int succeeded = 0;
            int retried = 0;
            int wrongImageSets = 0;
            MinioClient s3 = MinioClient.builder().endpoint(stack.s3Endpoint())
                    .credentials(stack.s3AccessKey(), stack.s3SecretKey()).build();
            for (String id : ids) {
                JsonNode job = client.await(id, j -> j.path("status").asText().matches("SUCCEEDED|FAILED|CANCELLED"),
                        Duration.ofMinutes(10), "finished");
                if (job.path("status").asText().equals("SUCCEEDED")) {
                    succeeded++;
                }
                if (job.path("attempt").asInt() > 1) {
                    retried++;
                }
                int objects = 0;
                for (Result<Item> item : s3.listObjects(ListObjectsArgs.builder().bucket("denoise").prefix("tenants/local/jobs/" + id + "/").build())) {
                    item.get();
                    objects++;
                }
                if (objects != 2 || job.path("images").size() != 2) {
                    wrongImageSets++;
                }
            }
            for (AppProcess w : workers) {
                w.close();
            }
            System.out.printf(Locale.ROOT, "%nchaos: %d jobs (20 steps, 2 images each) over 2 workers, worker killed %d times: "
                            + "%d succeeded, %d needed a second attempt, %d without exactly one set of 2 images, %.0f s%n",
                    jobs, kills, succeeded, retried, wrongImageSets, (System.nanoTime() - start) / 1e9);
        }
    }

    static Map<String, String> with(Map<String, String> base, String key, String value) {
        Map<String, String> m = new HashMap<>(base);
        m.put(key, value);
        return m;
    }

    /**
     * A consumer of the events topic from its end. Its fetches wait up to 100 ms for data (an answer comes as soon
     * as an event arrives), so the measuring client does not poll the broker hundreds of times a second on the
     * cores the service is being measured on.
     */
    static KafkaConsumer<String, String> tail(LocalStack stack) {
        KafkaConsumer<String, String> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                stack.kafkaBootstrap(), ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false, ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100),
                new StringDeserializer(), new StringDeserializer());
        TopicPartition p = new TopicPartition("denoise.events", 0);
        c.assign(List.of(p));
        c.seekToEnd(List.of(p));
        c.position(p);
        return c;
    }

    static void print(String what, List<Double> values) {
        List<Double> v = new ArrayList<>(values);
        Collections.sort(v);
        if (v.isEmpty()) {
            System.out.println(what + ": no samples");
            return;
        }
        System.out.printf(Locale.ROOT, "  %-44s p50 %8.1f ms   p90 %8.1f ms   p99 %8.1f ms   max %8.1f ms   (n=%d)%n", what,
                pct(v, 50), pct(v, 90), pct(v, 99), v.get(v.size() - 1), v.size());
    }

    private static double pct(List<Double> sorted, int p) {
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }
}
