package io.denoise.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.stack.LocalStack;
import io.denoise.stack.LocalStack.Component;
import io.minio.MinioClient;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The fault campaign: a local stack, an API process and two worker processes under a steady flow of jobs, while in
 * turn PostgreSQL, Kafka and the S3 server are killed with SIGKILL and restarted on their data, a worker is killed
 * and restarted, and the API process is killed and restarted, each down for the same time. Then every accepted job
 * must have ended SUCCEEDED with exactly its images (listed by the API, stored once in S3, each a PNG that
 * decodes), and the jobs that were waiting on each component must have finished within 60 s of its return.
 *
 * <p>Run: {@code ./mvnw -q -Pfault-campaign} (see README), arguments in {@code -Dbench.args="..."}:
 * {@code --jobs N} (200: submissions in all, at least), {@code --outage-seconds N} (30), {@code --period-ms N}
 * (1000: one submission per period), {@code --steps N} (4), {@code --images N} (2), {@code --recovery-limit-seconds N}
 * (60), {@code --drain-seconds N} (300: how long accepted jobs may take to end after the last fault),
 * {@code --faults LIST} (postgres,kafka,s3,worker,api), {@code --config k=v,...} (more service configuration,
 * e.g. {@code denoise.worker.lease=5s}). Exits 1 when a target is missed.
 */
public final class FaultCampaign {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, String> opts;
    private final LocalStack stack;
    private final int images;
    private final Duration outageLength;
    private final Duration recoveryLimit;
    private final Map<String, String> config;
    private final List<Fault> faults = new ArrayList<>();
    private AppProcess api;
    private final AppProcess[] workers = new AppProcess[2];

    /** One fault: when the component went down and came back, and the jobs that were waiting on it. */
    private record Fault(String name, Instant downAt, Instant backAt, Set<String> waiting) {
    }

    private FaultCampaign(Map<String, String> opts, LocalStack stack) {
        this.opts = opts;
        this.stack = stack;
        this.images = Integer.parseInt(opts.get("images"));
        this.outageLength = Duration.ofSeconds(Long.parseLong(opts.get("outage-seconds")));
        this.recoveryLimit = Duration.ofSeconds(Long.parseLong(opts.get("recovery-limit-seconds")));
        this.config = new LinkedHashMap<>();
        for (String kv : opts.get("config").split(",")) {
            if (kv.contains("=")) {
                config.put(kv.substring(0, kv.indexOf('=')).trim(), kv.substring(kv.indexOf('=') + 1).trim());
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>(Map.of("jobs", "200", "outage-seconds", "30", "period-ms", "1000",
                "steps", "4", "images", "2", "recovery-limit-seconds", "60", "drain-seconds", "300",
                "faults", "postgres,kafka,s3,worker,api", "config", ""));
        for (int i = 0; i + 1 < args.length; i += 2) {
            opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        int code;
        try (LocalStack stack = LocalStack.builder()
                .dataDir(java.nio.file.Path.of("target", "stack-bench", "faults-" + System.currentTimeMillis())).build().start()) {
            code = new FaultCampaign(opts, stack).run();
        }
        System.exit(code);
    }

    private int run() throws Exception {
        long begin = System.nanoTime();
        api = AppProcess.start("campaign-api", stack, "api", config, true);
        for (int i = 0; i < workers.length; i++) {
            workers[i] = AppProcess.start("campaign-worker-" + (i + 1), stack, "worker",
                    Faults.with(config, "denoise.worker.id", "campaign-worker-" + (i + 1)), true);
        }
        Api client = new Api(api);
        int steps = Integer.parseInt(opts.get("steps"));
        int total = Integer.parseInt(opts.get("jobs"));
        Faults.Load load = new Faults.Load(client, i -> Faults.job(steps, images, i),
                Duration.ofMillis(Long.parseLong(opts.get("period-ms"))));
        Instant loadStart = Instant.now();
        try {
            Faults.sleep(Duration.ofSeconds(10));
            for (String name : opts.get("faults").split(",")) {
                faults.add(inject(name.trim(), load));
                load.phase("between");
            }
            while (load.samples().size() < total) {
                Faults.sleep(Duration.ofMillis(200));
            }
        } finally {
            load.close();
        }
        Duration submitting = Duration.between(loadStart, Instant.now());
        List<Faults.Sample> samples = load.samples();
        List<String> accepted = load.accepted();
        System.out.printf(Locale.ROOT, "%n[campaign] %d submissions in %d s; waiting for %d accepted jobs to end%n",
                samples.size(), submitting.toSeconds(), accepted.size());
        Map<String, JsonNode> ended = Faults.awaitEnded(client, accepted,
                Duration.ofSeconds(Long.parseLong(opts.get("drain-seconds"))));
        int code = report(client, samples, accepted, ended, Duration.ofNanos(System.nanoTime() - begin));
        api.close();
        for (AppProcess w : workers) {
            w.close();
        }
        return code;
    }

    /** Takes one component down for the outage, brings it back, and waits (up to the limit and 10 s) for its jobs. */
    private Fault inject(String name, Faults.Load load) throws Exception {
        Set<String> waiting = new HashSet<>(unfinished());
        load.phase(name + " down");
        Instant downAt = Instant.now();
        String what;
        switch (name) {
            case "postgres", "kafka", "s3" -> {
                Component c = Component.valueOf(name.equals("postgres") ? "POSTGRES" : name.toUpperCase(Locale.ROOT));
                stack.kill(c);
                what = name + " killed with SIGKILL";
                Faults.sleep(outageLength);
                stack.start(c);
            }
            case "worker" -> {
                int victim = busyWorker();
                workers[victim].kill();
                what = "campaign-worker-" + (victim + 1) + " killed with SIGKILL";
                Faults.sleep(outageLength);
                workers[victim] = workers[victim].restart(true);
            }
            case "api" -> {
                api.kill();
                what = "API process killed with SIGKILL";
                Faults.sleep(outageLength);
                api = api.restart(true);
            }
            default -> throw new IllegalArgumentException("unknown fault " + name + " (postgres, kafka, s3, worker, api)");
        }
        Instant backAt = Instant.now();
        load.phase(name + " back");
        load.samples().stream().filter(s -> s.phase().equals(name + " down") && s.answer().accepted())
                .forEach(s -> waiting.add(s.answer().id()));
        System.out.printf(Locale.ROOT, "[campaign] %s at %s, back %.1f s later; %d jobs were waiting on it%n",
                what, downAt, Duration.between(downAt, backAt).toMillis() / 1000.0, waiting.size());
        long deadline = System.nanoTime() + recoveryLimit.plusSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            Set<String> open = new HashSet<>(waiting);
            open.retainAll(unfinished());
            if (open.isEmpty()) {
                break;
            }
            Faults.sleep(Duration.ofMillis(500));
        }
        return new Fault(name, downAt, backAt, waiting);
    }

    /** @return the worker running a job now (worker 1 when none is) */
    private int busyWorker() throws Exception {
        try (Connection c = db(); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("select worker_id from job where status = 'RUNNING' and worker_id like 'campaign-worker-%' limit 1")) {
            return r.next() ? Integer.parseInt(r.getString(1).substring("campaign-worker-".length())) - 1 : 0;
        }
    }

    /** @return the ids of the jobs not ended yet, from the database */
    private Set<String> unfinished() throws Exception {
        Set<String> ids = new HashSet<>();
        try (Connection c = db(); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("select id from job where status in ('QUEUED', 'RUNNING')")) {
            while (r.next()) {
                ids.add(r.getString(1));
            }
        } catch (java.sql.SQLException e) {
            // the database may be the component that is down; wait for it
            Faults.sleep(Duration.ofMillis(500));
            return unfinished();
        }
        return ids;
    }

    private Connection db() throws java.sql.SQLException {
        java.util.Properties p = new java.util.Properties();
        p.setProperty("user", stack.dbUser());
        p.setProperty("password", stack.dbPassword());
        p.setProperty("connectTimeout", "3");
        p.setProperty("socketTimeout", "10");
        return DriverManager.getConnection(stack.jdbcUrl(), p);
    }

    private int report(Api client, List<Faults.Sample> samples, List<String> accepted, Map<String, JsonNode> ended,
            Duration total) throws Exception {
        List<String> missed = new ArrayList<>();
        long rejected = samples.stream().filter(s -> s.answer().status() == 503).count();
        long rejectedWithRetryAfter = samples.stream().filter(s -> s.answer().rejectedWithRetryAfter()).count();
        Map<String, Integer> others = new TreeMap<>();
        for (Faults.Sample s : samples) {
            Api.Submitted a = s.answer();
            if (!a.accepted() && a.status() != 503) {
                String kind = a.status() != -1 ? "HTTP " + a.status() : a.timedOut() ? "no answer in 15 s"
                        : s.phase().equals("api down") ? "refused (API process down)" : "no answer: " + a.detail();
                others.merge(kind + " [" + s.phase() + "]", 1, Integer::sum);
            }
        }
        Faults.Sample slowest = samples.stream().max((a, b) -> a.answer().took().compareTo(b.answer().took())).orElseThrow();
        Map<String, Integer> outcomes = new TreeMap<>();
        accepted.forEach(id -> outcomes.merge(Faults.outcome(ended.get(id)), 1, Integer::sum));
        MinioClient s3 = Faults.s3(stack);
        int wrongImages = 0;
        int duplicateSets = 0;
        int undecodable = 0;
        List<String> examples = new ArrayList<>();
        for (String id : accepted) {
            JsonNode job = ended.get(id);
            if (job == null || !job.path("status").asText().equals("SUCCEEDED")) {
                if (examples.size() < 10) {
                    examples.add(id + ": " + Faults.outcome(job) + Faults.describe(job));
                }
                continue;
            }
            List<String> problems = Faults.imageProblems(client, s3, id, job, images);
            if (problems.stream().anyMatch(p -> p.startsWith("API lists") || p.contains("answered"))) {
                wrongImages++;
            }
            if (problems.stream().anyMatch(p -> p.startsWith("S3 holds"))) {
                duplicateSets++;
            }
            if (problems.stream().anyMatch(p -> p.contains("decode") || p.contains(" is "))) {
                undecodable++;
            }
            if (!problems.isEmpty() && examples.size() < 10) {
                examples.add(id + ": " + String.join("; ", problems));
            }
        }
        Map<String, Set<Integer>> succeededAttempts = succeededAttemptsPerJob();
        long repeatedSuccess = accepted.stream().filter(id -> succeededAttempts.getOrDefault(id, Set.of()).size() > 1).count();

        int succeeded = outcomes.getOrDefault("SUCCEEDED", 0);
        int stuck = outcomes.entrySet().stream().filter(e -> e.getKey().startsWith("STUCK") || e.getKey().equals("UNKNOWN"))
                .mapToInt(Map.Entry::getValue).sum();
        System.out.printf(Locale.ROOT, "%nfault campaign: %d submissions, %s down %d s each, %d steps x %d images per job%n",
                samples.size(), opts.get("faults"), outageLength.toSeconds(), Integer.parseInt(opts.get("steps")), images);
        System.out.printf(Locale.ROOT, "  accepted (202)                         %d%n", accepted.size());
        System.out.printf(Locale.ROOT, "  rejected 503                           %d (with Retry-After: %d)%n", rejected, rejectedWithRetryAfter);
        others.forEach((k, v) -> System.out.printf(Locale.ROOT, "  other answer: %-24s %d%n", k, v));
        System.out.printf(Locale.ROOT, "  slowest submit                         %d ms (%s, %s)%n", slowest.answer().took().toMillis(),
                slowest.phase(), slowest.answer().status() == -1 ? "no answer" : "HTTP " + slowest.answer().status());
        System.out.printf(Locale.ROOT, "  accepted jobs by outcome               %s%n", outcomes);
        System.out.printf(Locale.ROOT, "  SUCCEEDED %d, FAILED %d, CANCELLED %d, stuck %d (lost: %d never shown by the API)%n",
                succeeded, outcomes.getOrDefault("FAILED", 0), outcomes.getOrDefault("CANCELLED", 0), stuck,
                outcomes.getOrDefault("UNKNOWN", 0));
        System.out.printf(Locale.ROOT, "  wrong image count %d, duplicate or stray objects in S3 %d, undecodable %d, "
                + "succeeded in more than one attempt %d%n", wrongImages, duplicateSets, undecodable, repeatedSuccess);
        Set<String> earlier = new HashSet<>();
        for (Fault f : faults) {
            Optional<Instant> last = f.waiting().stream().map(id -> Faults.finishedAt(ended.get(id)))
                    .flatMap(Optional::stream).max(Instant::compareTo);
            // a job that never ended counts against the first fault it waited on, not every later one
            List<String> open = f.waiting().stream().filter(id -> !"SUCCEEDED".equals(Faults.outcome(ended.get(id)))).toList();
            long carried = open.stream().filter(earlier::contains).count();
            long failedHere = open.size() - carried;
            earlier.addAll(f.waiting());
            String recovery = last.map(at -> String.format(Locale.ROOT, "%.1f s", Math.max(0, Duration.between(f.backAt(), at).toMillis()) / 1000.0))
                    .orElse("-");
            System.out.printf(Locale.ROOT, "  %-8s down %.1f s; %3d jobs waiting on it; the last of them that ended, %s after its return%s%n",
                    f.name(), Duration.between(f.downAt(), f.backAt()).toMillis() / 1000.0, f.waiting().size(), recovery,
                    open.isEmpty() ? "" : "; " + failedHere + " did not succeed"
                            + (carried == 0 ? "" : " (+" + carried + " left over from an earlier fault)"));
            if (failedHere > 0) {
                missed.add(f.name() + ": " + failedHere + " jobs waiting on it did not succeed");
            }
            if (last.isPresent() && Duration.between(f.backAt(), last.get()).compareTo(recoveryLimit) > 0) {
                missed.add(f.name() + ": recovery took longer than " + recoveryLimit.toSeconds() + " s");
            }
        }
        System.out.printf(Locale.ROOT, "  total time                             %.0f s%n", total.toMillis() / 1000.0);
        examples.forEach(e -> System.out.println("  e.g. " + e));

        if (succeeded != accepted.size()) {
            missed.add((accepted.size() - succeeded) + " accepted jobs did not succeed");
        }
        if (wrongImages + duplicateSets + undecodable > 0) {
            missed.add("jobs with wrong images: " + wrongImages + " count, " + duplicateSets + " S3 sets, " + undecodable + " undecodable");
        }
        if (repeatedSuccess > 0) {
            missed.add(repeatedSuccess + " jobs succeeded more than once");
        }
        if (slowest.answer().took().compareTo(Faults.SUBMIT_LIMIT) > 0) {
            missed.add("a submit took " + slowest.answer().took().toMillis() + " ms (limit 10 s)");
        }
        List<Faults.Sample> outsideApiOutage = samples.stream().filter(s -> !s.phase().equals("api down")).toList();
        List<Faults.Sample> broken = new ArrayList<>(Faults.brokenAnswers(outsideApiOutage, false));
        broken.addAll(Faults.brokenAnswers(samples.stream().filter(s -> s.phase().equals("api down")).toList(), true));
        if (!broken.isEmpty()) {
            missed.add(broken.size() + " submissions got neither a 202 nor a fast 503 with Retry-After, e.g. " + broken.get(0));
        }
        System.out.println(missed.isEmpty() ? "  all targets met" : "  TARGETS MISSED:");
        missed.forEach(m -> System.out.println("    - " + m));
        return missed.isEmpty() ? 0 : 1;
    }

    /** @return per job, the attempts that published a {@code succeeded} event (more than one: two image sets) */
    private Map<String, Set<Integer>> succeededAttemptsPerJob() throws Exception {
        Map<String, Set<Integer>> attempts = new HashMap<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                stack.kafkaBootstrap(), ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new StringDeserializer())) {
            TopicPartition p = new TopicPartition("denoise.events", 0);
            c.assign(List.of(p));
            c.seekToBeginning(List.of(p));
            long end = c.endOffsets(List.of(p), Duration.ofSeconds(30)).get(p);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (c.position(p) < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofSeconds(1))) {
                    if (r.value() != null && r.value().contains("\"type\":\"succeeded\"")) {
                        JsonNode e = JSON.readTree(r.value());
                        attempts.computeIfAbsent(e.path("jobId").asText(), k -> new HashSet<>()).add(e.path("attempt").asInt());
                    }
                }
            }
        }
        return attempts;
    }
}
