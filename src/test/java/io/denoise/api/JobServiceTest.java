package io.denoise.api;

import io.denoise.messaging.JobEvent;
import io.denoise.stack.StackTestResource;
import io.minio.GetObjectArgs;
import io.minio.MinioClient;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The service end to end in one process (both roles) against a real Kafka, PostgreSQL and S3 server. */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
public class JobServiceTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    @ConfigProperty(name = "denoise.storage.endpoint")
    String s3Endpoint;

    @ConfigProperty(name = "denoise.storage.access-key")
    String s3AccessKey;

    @ConfigProperty(name = "denoise.storage.secret-key")
    String s3SecretKey;

    @TestHTTPResource(value = "/", management = true)
    URL management;

    @ConfigProperty(name = "quarkus.datasource.jdbc.url")
    String jdbcUrl;

    @TestHTTPResource("/")
    URL root;

    @ConfigProperty(name = "denoise.worker.max-batch-jobs")
    int maxBatchJobs;

    public static String submit(String body) {
        return given().contentType(ContentType.JSON).body(body).post("/v1/jobs")
                .then().log().ifValidationFails().statusCode(202).header("Location", containsString("/v1/jobs/")).extract().path("id");
    }

    /**
     * Submits {@code jobs} copies of a long job, as many as the worker runs at once, and waits until all run, so
     * the next job submitted waits in the queue.
     */
    public static List<String> fillTheWorker(int jobs, String body) throws InterruptedException {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < jobs; i++) {
            ids.add(submit(body));
        }
        for (String id : ids) {
            awaitStatus(id, "RUNNING");
        }
        return ids;
    }

    public static Response awaitStatus(String id, String status) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        Response r;
        do {
            r = given().get("/v1/jobs/" + id);
            if (r.path("status").equals(status)) {
                return r;
            }
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("job " + id + " is " + r.path("status") + ", not " + status + ": " + r.asString());
    }

    @BeforeEach
    void apiKey() {
        TestKeys.useDefault();
    }
    @Test
    void submittedJobSucceedsWithItsImagesInS3AndTheSeedsUsed() throws Exception {
        String id = submit("{\"prompt\":\"a red circle on a white background\",\"seed\":11,\"numImages\":2,\"numInferenceSteps\":5}");
        Response done = awaitStatus(id, "SUCCEEDED");
        assertEquals(List.of("11", "12"), done.path("images.seed"));
        assertEquals(11, (int) done.path("parameters.seed"));
        assertEquals(5, (int) done.path("progress.step"));
        assertEquals(1, (int) done.path("attempt"));
        byte[] viaApi = given().get("/v1/jobs/" + id + "/images/1").then().statusCode(200)
                .contentType("image/png").extract().asByteArray();
        MinioClient s3 = MinioClient.builder().endpoint(s3Endpoint).credentials(s3AccessKey, s3SecretKey).build();
        try (InputStream in = s3.getObject(GetObjectArgs.builder().bucket("denoise").object("tenants/" + TestKeys.TENANT + "/jobs/" + id + "/1.png").build())) {
            assertArrayEquals(in.readAllBytes(), viaApi, () -> "API returned " + new String(viaApi, StandardCharsets.ISO_8859_1));
        }
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(viaApi));
        assertEquals(64, image.getWidth());
        given().get("/v1/jobs/" + id + "/images/2").then().statusCode(404).body("error", equalTo("not_found"));
        given().redirects().follow(false).get("/v1/jobs/" + id + "/images/0?redirect=true").then().statusCode(307)
                .header("Location", startsWith(s3Endpoint));
    }

    @Test
    void omittedSeedIsDrawnAndReported() throws Exception {
        String id = submit("{\"prompt\":\"a blue square on a black background\",\"numInferenceSteps\":2}");
        Response done = awaitStatus(id, "SUCCEEDED");
        assertEquals(done.path("parameters.seed").toString(), done.path("images[0].seed").toString());
    }

    @Test
    void progressEventsArriveInOrderOnePerStepOnKafkaAndOnSse() throws Exception {
        try (EventsTap tap = new EventsTap(bootstrap)) {
            String id = submit("{\"prompt\":\"a green triangle on a gray background\",\"seed\":3,\"numInferenceSteps\":6}");
            CompletableFuture<List<String[]>> sse = CompletableFuture.supplyAsync(() -> readSse(id, null));
            List<JobEvent> events = tap.untilTerminal(UUID.fromString(id), TIMEOUT);
            assertEquals(List.of("started", "progress", "progress", "progress", "progress", "progress", "progress",
                    "image", "succeeded"), events.stream().map(JobEvent::type).toList());
            assertEquals(List.of(1, 2, 3, 4, 5, 6), events.stream().filter(e -> e.type().equals("progress"))
                    .map(JobEvent::step).toList());
            for (int i = 1; i < events.size(); i++) {
                assertTrue(events.get(i).seq() > events.get(i - 1).seq(), "seq increases");
            }
            // where the attempt's time went: the loop inside the generation, and the generation, the wait for the
            // uploads and the finish write one after another inside the attempt
            JobEvent.Timing t = events.get(events.size() - 1).timing();
            assertTrue(t.loopMs() > 0 && t.loopInferenceMs() > 0 && t.loopInferenceMs() <= t.loopMs(), t.toString());
            assertTrue(t.generateMs() >= t.loopMs(), t.toString());
            assertTrue(t.uploadWaitMs() >= 0 && t.finishMs() > 0, t.toString());
            assertTrue(t.attemptMs() >= t.generateMs() + t.uploadWaitMs() + t.finishMs(), t.toString());
            List<String[]> streamed = sse.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(events.stream().map(JobEvent::type).toList(), streamed.stream().map(e -> e[1]).toList());
            assertEquals(events.stream().map(e -> Long.toString(e.seq())).toList(), streamed.stream().map(e -> e[0]).toList());

            String afterThird = streamed.get(2)[0];
            List<String[]> resumed = readSse(id, afterThird);
            assertEquals(streamed.subList(3, streamed.size()).stream().map(e -> e[0]).toList(),
                    resumed.stream().map(e -> e[0]).toList(), "Last-Event-ID resumes after that event");
        }
    }

    /** Reads a job's SSE stream to its end: [id, event name] pairs. */
    private List<String[]> readSse(String id, String lastEventId) {
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(root + "v1/jobs/" + id + "/events"))
                    .header("Accept", "text/event-stream").header("Authorization", TestKeys.bearer()).timeout(TIMEOUT);
            if (lastEventId != null) {
                request.header("Last-Event-ID", lastEventId);
            }
            HttpResponse<InputStream> response = HttpClient.newHttpClient().send(request.build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, response.statusCode());
            List<String[]> events = new ArrayList<>();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                String line;
                String eventId = null;
                String name = null;
                while ((line = in.readLine()) != null) {
                    if (line.startsWith("id:")) {
                        eventId = line.substring(3).trim();
                    } else if (line.startsWith("event:")) {
                        name = line.substring(6).trim();
                    } else if (line.isEmpty() && name != null) {
                        events.add(new String[] {eventId, name});
                        name = null;
                    }
                }
            }
            return events;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void cancellingARunningJobStopsItWithinAStep() throws Exception {
        try (EventsTap tap = new EventsTap(bootstrap)) {
            String id = submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":150,\"width\":128,\"height\":128}");
            tap.first(UUID.fromString(id), "progress", TIMEOUT);
            given().delete("/v1/jobs/" + id).then().statusCode(202);
            Response cancelled = awaitStatus(id, "CANCELLED");
            assertTrue((int) cancelled.path("progress.step") < 150);
            List<JobEvent> events = tap.untilTerminal(UUID.fromString(id), TIMEOUT);
            assertEquals("cancelled", events.get(events.size() - 1).type());
            given().delete("/v1/jobs/" + id).then().statusCode(409).body("error", equalTo("already_finished"));
        }
    }

    @Test
    void jobsQueuedTogetherRunInOneBatchAndGiveTheImagesTheyGiveAlone() throws Exception {
        List<String> bodies = List.of(
                "{\"prompt\":\"a red circle\",\"seed\":31,\"numInferenceSteps\":30,\"scheduler\":\"euler-ancestral\"}",
                "{\"prompt\":\"a blue square\",\"seed\":32,\"numInferenceSteps\":30,\"guidanceScale\":1.0,\"numImages\":2}");
        List<String> together = new ArrayList<>();
        List<List<JobEvent>> events = new ArrayList<>();
        try (EventsTap tap = new EventsTap(bootstrap)) {
            bodies.forEach(body -> together.add(submit(body)));
            for (String id : together) {
                events.add(tap.untilTerminal(UUID.fromString(id), TIMEOUT));
            }
        }
        List<String> alone = new ArrayList<>();
        for (String body : bodies) {
            String id = submit(body);
            awaitStatus(id, "SUCCEEDED");
            alone.add(id);
        }
        // both ran at once: each one's steps began before the other's ended, which one job at a time cannot do
        Instant firstProgressOfSecond = events.get(1).stream().filter(e -> e.type().equals(JobEvent.PROGRESS))
                .findFirst().orElseThrow().at();
        Instant endOfFirst = events.get(0).get(events.get(0).size() - 1).at();
        assertTrue(firstProgressOfSecond.isBefore(endOfFirst), "the second job waited for the first: " + events);
        for (int j = 0; j < bodies.size(); j++) {
            Response batched = awaitStatus(together.get(j), "SUCCEEDED");
            int images = batched.path("images.size()");
            for (int i = 0; i < images; i++) {
                assertArrayEquals(image(alone.get(j), i), image(together.get(j), i), "job " + j + " image " + i);
            }
        }
    }

    private static byte[] image(String id, int index) {
        return given().get("/v1/jobs/" + id + "/images/" + index).then().statusCode(200).extract().asByteArray();
    }

    @Test
    void aQueuedJobCancelledBeforeAWorkerTakesItNeverStarts() throws Exception {
        List<String> blockers = fillTheWorker(maxBatchJobs, "{\"prompt\":\"a red circle\",\"numInferenceSteps\":150,\"width\":128,\"height\":128}");
        String queued = submit("{\"prompt\":\"a blue circle\",\"numInferenceSteps\":3}");
        given().get("/v1/jobs/" + queued).then().body("status", equalTo("QUEUED")).body("queuePosition", notNullValue());
        given().post("/v1/jobs/" + queued + "/cancel").then().statusCode(200).body("status", equalTo("CANCELLED"));
        for (String blocker : blockers) {
            given().delete("/v1/jobs/" + blocker).then().statusCode(202);
            awaitStatus(blocker, "CANCELLED");
        }
        String after = submit("{\"prompt\":\"a blue circle\",\"numInferenceSteps\":2}");
        awaitStatus(after, "SUCCEEDED");
        Response r = given().get("/v1/jobs/" + queued);
        assertEquals("CANCELLED", r.path("status"));
        assertEquals(0, (int) r.path("attempt"));
        assertNull(r.path("timings.startedAt"));
    }

    @Test
    void theSameIdempotencyKeyAndBodyGiveOneJobAndAnotherBodyConflicts() {
        String key = UUID.randomUUID().toString();
        String body = "{\"prompt\":\"a yellow square\",\"numInferenceSteps\":2,\"seed\":5}";
        String first = given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(body)
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        String reordered = "{\"seed\":5,\"numInferenceSteps\":2,\"prompt\":\"a yellow square\"}";
        String second = given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(reordered)
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        assertEquals(first, second);
        given().contentType(ContentType.JSON).header("Idempotency-Key", key)
                .body("{\"prompt\":\"a purple square\",\"numInferenceSteps\":2}")
                .post("/v1/jobs").then().statusCode(409).body("error", equalTo("idempotency_conflict"));
        long jobs = given().get("/v1/jobs?limit=100").jsonPath().getList("jobs.id").stream().filter(first::equals).count();
        assertEquals(1, jobs);
    }

    @Test
    void concurrentSubmitsWithOneIdempotencyKeyStoreOneJob() throws Exception {
        // submitted together, they land in the same group commit or in racing ones: either way one job, one answer
        String key = UUID.randomUUID().toString();
        String body = "{\"prompt\":\"a cyan square\",\"numInferenceSteps\":2,\"seed\":9}";
        List<CompletableFuture<String>> posts = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            posts.add(CompletableFuture.supplyAsync(() -> given().contentType(ContentType.JSON)
                    .header("Idempotency-Key", key).body(body).post("/v1/jobs").then().statusCode(202).extract().path("id")));
        }
        List<String> ids = posts.stream().map(CompletableFuture::join).distinct().toList();
        assertEquals(1, ids.size(), "ids answered: " + ids);
        try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
             PreparedStatement count = db.prepareStatement("select count(*) from job where idempotency_key = ?")) {
            count.setString(1, key);
            try (var rows = count.executeQuery()) {
                rows.next();
                assertEquals(1, rows.getInt(1));
            }
        }
        awaitStatus(ids.get(0), "SUCCEEDED");
    }

    @Test
    void aMalformedRecordIsRejectedWithItsJobFailedAndTheConsumerKeepsWorking() throws Exception {
        UUID id = UUID.randomUUID();
        try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
             PreparedStatement insert = db.prepareStatement("""
                     insert into job (id, tenant, model, status, params, total_steps, created_at)
                     values (?, ?, 'tiny-random', 'QUEUED', '{}'::jsonb, 2, now())""")) {
            insert.setObject(1, id);
            insert.setString(2, TestKeys.TENANT);
            insert.executeUpdate();
        }
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap),
                new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>("denoise.jobs.tiny-random", id.toString(), "{not json")).get();
        }
        Response failed = awaitStatus(id.toString(), "FAILED");
        assertEquals("MALFORMED_RECORD", failed.path("error.code"));
        assertTrue(failed.<String>path("error.message").contains("malformed job record"));
        String next = submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}");
        awaitStatus(next, "SUCCEEDED");
    }

    @Test
    void listIsNewestFirstAndPagesWithACursor() throws Exception {
        String a = submit("{\"prompt\":\"page a\",\"numInferenceSteps\":1}");
        String b = submit("{\"prompt\":\"page b\",\"numInferenceSteps\":1}");
        Response page = given().get("/v1/jobs?limit=1");
        assertEquals(List.of(b), page.path("jobs.id"));
        String cursor = page.path("nextCursor");
        given().get("/v1/jobs?limit=1&cursor=" + cursor).then().body("jobs[0].id", equalTo(a));
        awaitStatus(b, "SUCCEEDED");
        given().get("/v1/jobs?status=succeeded&limit=100").then().body("jobs.id", hasItem(b));
    }

    @Test
    void modelsListsWhatTheWorkersServeWithDefaultsAndLimits() {
        given().get("/v1/models").then().statusCode(200)
                .body("models[0].name", equalTo("tiny-random"))
                .body("models[0].defaults.scheduler", equalTo("pndm"))
                .body("models[0].limits.maxSteps", notNullValue())
                .body("models[0].schedulers", hasItem("dpmpp-2m-karras"))
                .body("models[0].imageToImage", equalTo(true))
                .body("models[0].batching", equalTo("same-timestep"));
    }

    @Test
    void unknownJobsAre404() {
        given().get("/v1/jobs/" + UUID.randomUUID()).then().statusCode(404).body("error", equalTo("not_found"));
        given().get("/v1/jobs/not-a-uuid").then().statusCode(404);
        given().delete("/v1/jobs/" + UUID.randomUUID()).then().statusCode(404);
        given().get("/v1/jobs/" + UUID.randomUUID() + "/events").then().statusCode(404);
    }

    @Test
    void readinessIsUpWithModelsLoadedAndTheConsumerPolling() {
        given().get(ManagementPort.url(management, "/q/health/ready")).then().statusCode(200).body("status", equalTo("UP"));
        given().get(ManagementPort.url(management, "/q/openapi")).then().statusCode(200).body(containsString("/v1/jobs/{id}/events"));
        given().get(ManagementPort.url(management, "/q/swagger-ui/")).then().statusCode(200).body(containsString("swagger"));
    }

    @Test
    void theOperationsSurfaceIsOnlyOnTheManagementPort() {
        for (String path : List.of("/q/health", "/q/health/ready", "/q/metrics", "/q/openapi", "/q/swagger-ui/")) {
            given().get(path).then().statusCode(404);
        }
        assertNotEquals(RestAssured.port, management.getPort());
    }

    @Test
    void queueDepthPerModelIsExportedForAutoscaling() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        String metrics;
        do {
            metrics = given().get(ManagementPort.url(management, "/q/metrics")).then().statusCode(200).extract().asString();
            if (metrics.contains("denoise_jobs_queued{model=\"tiny-random\"")) {
                return;
            }
            Thread.sleep(500);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("no denoise_jobs_queued gauge for tiny-random in /q/metrics");
    }

    @Test
    void imageToImageJobsRunFromAnUploadedImage() throws Exception {
        String source = submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":2,\"seed\":1}");
        awaitStatus(source, "SUCCEEDED");
        byte[] png = given().get("/v1/jobs/" + source + "/images/0").asByteArray();
        String init = java.util.Base64.getEncoder().encodeToString(png);
        String id = submit("{\"prompt\":\"a blue circle\",\"numInferenceSteps\":10,\"strength\":0.5,\"initImage\":\"data:image/png;base64," + init + "\"}");
        Response done = awaitStatus(id, "SUCCEEDED");
        assertEquals(5, (int) done.path("progress.totalSteps"));
        assertEquals(true, done.path("parameters.initImage"));
        assertFalse(done.<List<?>>path("images").isEmpty());
    }
}
