package io.denoise.api;

import io.denoise.jobs.QueueMetrics;
import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.net.URL;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.oneOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per-tenant quotas, from the test profile: tenant {@code capped} may have 5 jobs queued or running and ask for at
 * most 2 images and 10 000 000 step-pixels a job, tenant {@code throttled} may submit one job every 5 s with a burst
 * of 3. Past the counts, 429 with {@code Retry-After}, past the sizes 400 naming the field, and nothing is stored.
 * Admission by capacity: a model with 100 jobs queued and none finished lately answers 503 {@code over_capacity}.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class QuotaTest {

    private static final String LONG_JOB = "{\"prompt\":\"a red circle\",\"numInferenceSteps\":150,\"width\":256,\"height\":256}";

    @ConfigProperty(name = "quarkus.datasource.jdbc.url")
    String jdbcUrl;

    @TestHTTPResource(value = "/", management = true)
    URL management;

    @Inject
    QueueMetrics queues;

    private static Response submit(String tenant, String body) {
        return given().auth().oauth2(TestKeys.key(tenant)).contentType(ContentType.JSON).body(body).post("/v1/jobs");
    }

    @Test
    void fiftyConcurrentSubmittersGetExactlyTheActiveLimitAcceptedAndTheRest429WithRetryAfter() throws Exception {
        String key = TestKeys.key("capped");
        ExecutorService pool = Executors.newFixedThreadPool(50);
        List<Future<Response>> answers = new ArrayList<>();
        try {
            for (int i = 0; i < 50; i++) {
                answers.add(pool.submit((Callable<Response>) () -> given().auth().oauth2(key).contentType(ContentType.JSON)
                        .body(LONG_JOB).post("/v1/jobs")));
            }
            List<String> accepted = new ArrayList<>();
            int refused = 0;
            for (Future<Response> f : answers) {
                Response r = f.get();
                if (r.statusCode() == 202) {
                    accepted.add(r.path("id"));
                } else {
                    assertEquals(429, r.statusCode(), r.asString());
                    assertEquals("quota_exceeded", r.path("error"));
                    assertEquals("5", r.header("Retry-After"));
                    refused++;
                }
            }
            assertEquals(5, accepted.size(), "exactly the limit accepted: " + accepted);
            assertEquals(45, refused);
            List<String> listed = given().auth().oauth2(key).get("/v1/jobs?limit=100").path("jobs.id");
            assertEquals(5, listed.size(), "nothing refused was stored: " + listed);
            // a sweep of two cells would make 7
            given().auth().oauth2(key).contentType(ContentType.JSON)
                    .body("{\"base\":{\"prompt\":\"x\",\"numInferenceSteps\":2},\"x\":{\"field\":\"seed\",\"values\":[\"1\",\"2\"]}}")
                    .post("/v1/sweeps").then().statusCode(429).body("error", equalTo("quota_exceeded"));
            // a cancelled job frees its place
            given().auth().oauth2(key).delete("/v1/jobs/" + accepted.get(0)).then().statusCode(oneOf(200, 202));
            long deadline = System.nanoTime() + 30_000_000_000L;
            Response again;
            do {
                again = submit("capped", LONG_JOB);
                Thread.sleep(100);
            } while (again.statusCode() == 429 && System.nanoTime() < deadline);
            assertEquals(202, again.statusCode(), again.asString());
            accepted.set(0, again.path("id"));
            for (String id : accepted) {
                given().auth().oauth2(key).delete("/v1/jobs/" + id);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void theSubmitRateAdmitsTheBurstThen429sWithTheWaitAndRefillsWithTime() throws Exception {
        String small = "{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}";
        for (int i = 0; i < 3; i++) {
            submit("throttled", small).then().statusCode(202);
        }
        Response limited = submit("throttled", small);
        limited.then().statusCode(429).body("error", equalTo("rate_limited"));
        int wait = Integer.parseInt(limited.header("Retry-After"));
        assertTrue(wait >= 1 && wait <= 5, "up to 5 s for the next token: " + wait);
        Thread.sleep(wait * 1000L + 200);
        submit("throttled", small).then().statusCode(202);
        submit("throttled", small).then().statusCode(429);
        // another tenant is not held up by this one's rate
        submit("unthrottled", small).then().statusCode(202);
    }

    @Test
    void aJobLargerThanItsTenantMayAskForIsA400NamingTheFieldAndNothingIsStored() {
        String key = TestKeys.key("capped");
        int before = given().auth().oauth2(key).get("/v1/jobs?limit=100").path("jobs.size()");
        submit("capped", "{\"prompt\":\"x\",\"numInferenceSteps\":2,\"numImages\":3}").then().statusCode(400)
                .body("error", equalTo("invalid_request")).body("field", equalTo("numImages"))
                .body("message", containsString("at most 2 for tenant capped"));
        // 150 steps × 256 × 256 × 2 images = 19 660 800 > 10 000 000
        submit("capped", "{\"prompt\":\"x\",\"numInferenceSteps\":150,\"width\":256,\"height\":256,\"numImages\":2}")
                .then().statusCode(400).body("field", equalTo("numInferenceSteps")).body("message", containsString("19660800"));
        // a sweep's cell is held to the same caps, and blamed by its axis
        given().auth().oauth2(key).contentType(ContentType.JSON)
                .body("{\"base\":{\"prompt\":\"x\",\"numInferenceSteps\":2,\"numImages\":3},\"x\":{\"field\":\"seed\",\"values\":[\"1\",\"2\"]}}")
                .post("/v1/sweeps").then().statusCode(400).body("field", containsString("numImages"))
                .body("message", containsString("at most 2 for tenant capped"));
        // the AUTOMATIC1111 route names its own field
        given().auth().oauth2(key).contentType(ContentType.JSON)
                .body("{\"prompt\":\"x\",\"steps\":2,\"batch_size\":3}")
                .post("/sdapi/v1/txt2img").then().statusCode(400).body("field", equalTo("batch_size"));
        int after = given().auth().oauth2(key).get("/v1/jobs?limit=100").path("jobs.size()");
        assertEquals(before, after, "nothing refused was stored");
        // within the caps, and for a tenant with the defaults, the same request is accepted
        String small = submit("capped", "{\"prompt\":\"x\",\"numInferenceSteps\":20,\"numImages\":2}").then()
                .statusCode(202).extract().path("id");
        given().auth().oauth2(key).delete("/v1/jobs/" + small);
        String other = submit("roomy", "{\"prompt\":\"x\",\"numInferenceSteps\":30,\"numImages\":3}").then()
                .statusCode(202).extract().path("id");
        given().auth().oauth2(TestKeys.key("roomy")).delete("/v1/jobs/" + other);
        assertTrue(metrics().contains("denoise_submits_rejected_total{limit=\"images\",tenant=\"capped\"}"), "counted by limit");
        assertTrue(metrics().contains("denoise_submits_rejected_total{limit=\"step-pixels\",tenant=\"capped\"}"));
    }

    @Test
    void aModelWhoseQueueItsWorkersCannotClearInTimeAnswers503WithRetryAfter() throws Exception {
        // a model no worker serves, with 99 jobs queued and none ever finished: one more makes the 100 of min-queued
        try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise"); Statement sql = db.createStatement()) {
            sql.executeUpdate("""
                    insert into model (name, hash, settings, updated_at, last_seen_at)
                    select 'unserved', hash, jsonb_set(settings, '{name}', '"unserved"'), now(), now()
                      from model where name = 'tiny-random'""");
            sql.executeUpdate("""
                    insert into job (id, tenant, model, status, params, total_steps, created_at)
                    select gen_random_uuid(), 'backlog', 'unserved', 'QUEUED', '{}'::jsonb, 2, now()
                      from generate_series(1, 99)""");
            try {
                long deadline = System.nanoTime() + 10_000_000_000L;
                while ((queues.queue("unserved") == null || queues.queue("unserved").queued() < 99)
                        && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertEquals(99, queues.queue("unserved").queued(), "the queue as read from the database");
                assertEquals(0.0, queues.queue("unserved").clearRate());
                Response refused;
                do { // until this replica's model cache (1 s) has the new model
                    refused = submit("newcomer", "{\"model\":\"unserved\",\"prompt\":\"x\",\"numInferenceSteps\":2}");
                } while (refused.statusCode() == 400 && System.nanoTime() < deadline && sleep(100));
                refused.then().statusCode(503).body("error", equalTo("over_capacity"))
                        .body("message", containsString("model unserved has 99 jobs queued"));
                assertEquals("30", refused.header("Retry-After"));
                given().auth().oauth2(TestKeys.key("newcomer")).contentType(ContentType.JSON)
                        .body("{\"base\":{\"model\":\"unserved\",\"prompt\":\"x\"},\"x\":{\"field\":\"seed\",\"values\":[\"1\",\"2\"]}}")
                        .post("/v1/sweeps").then().statusCode(503).body("error", equalTo("over_capacity"));
                // a model its workers keep up with is not held up by another's backlog
                String served = submit("newcomer", "{\"prompt\":\"x\",\"numInferenceSteps\":2}").then().statusCode(202)
                        .extract().path("id");
                RestAssured.authentication = RestAssured.oauth2(TestKeys.key("newcomer"));
                try {
                    JobServiceTest.awaitStatus(served, "SUCCEEDED");
                } finally {
                    TestKeys.useDefault();
                }
                String text = metrics();
                assertTrue(text.contains("denoise_submits_rejected_total{limit=\"capacity\",tenant=\"newcomer\"} 2.0"), text);
                assertTrue(text.contains("denoise_jobs_submitted_total{tenant=\"newcomer\"} 1.0"), "submitted per tenant");
                assertTrue(text.contains("denoise_tenant_jobs_queued{tenant=\"backlog\"} 99.0"), "queued per tenant");
                assertTrue(text.contains("denoise_jobs_queued{model=\"unserved\"} 99.0"), "queued per model");
            } finally {
                sql.executeUpdate("delete from job where model = 'unserved'");
                sql.executeUpdate("delete from model where name = 'unserved'");
            }
        }
    }

    private static boolean sleep(long millis) throws InterruptedException {
        Thread.sleep(millis);
        return true;
    }

    private String metrics() {
        return given().get(ManagementPort.url(management, "/q/metrics")).then().statusCode(200).extract().asString();
    }
}
