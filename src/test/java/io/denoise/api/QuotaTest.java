package io.denoise.api;

import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.oneOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per-tenant quotas, from the test profile: tenant {@code capped} may have 5 jobs queued or running, tenant
 * {@code throttled} may submit one job every 5 s with a burst of 3. Past either, 429 with {@code Retry-After}, and
 * nothing is stored.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class QuotaTest {

    private static final String LONG_JOB = "{\"prompt\":\"a red circle\",\"numInferenceSteps\":150,\"width\":256,\"height\":256}";

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
}
