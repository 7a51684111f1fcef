package io.denoise.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.stack.StackTestResource;
import io.denoise.webhooks.WebhookReceiver;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Signed webhooks against a receiver on this machine (the test profile allows http and loopback targets): every
 * event a job asked for arrives, in order, signed with its tenant's secret; a failing receiver gets the same
 * delivery again; bad targets are refused on submit.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class WebhookTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private WebhookReceiver receiver;

    @BeforeEach
    void setUp() throws Exception {
        TestKeys.useDefault();
        receiver = new WebhookReceiver();
    }

    @AfterEach
    void tearDown() {
        receiver.close();
    }

    private String submit(String webhookFields) {
        return given().contentType(ContentType.JSON)
                .body("{\"prompt\":\"a red circle\",\"numInferenceSteps\":6," + webhookFields + "}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
    }

    private List<JsonNode> events(String job) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (WebhookReceiver.Received r : receiver.received()) {
            JsonNode event = JSON.readTree(r.body());
            if (event.path("data").path("id").asText().equals(job)) {
                out.add(event);
            }
        }
        return out;
    }

    private List<JsonNode> await(String job, Predicate<List<JsonNode>> done) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        List<JsonNode> events;
        do {
            events = events(job);
            if (done.test(events)) {
                return events;
            }
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("webhook events of " + job + " so far: " + events);
    }

    private static boolean completed(List<JsonNode> events) {
        return events.stream().anyMatch(e -> e.path("type").asText().equals("job.completed"));
    }

    @Test
    void everyEventAJobAskedForArrivesSignedAndInOrderAndTheJobShowsThemDelivered() throws Exception {
        String job = submit("\"webhook\":\"" + receiver.url() + "\",\"webhookEvents\":[\"completed\",\"started\",\"progress\"]");
        List<JsonNode> events = await(job, WebhookTest::completed);
        JobServiceTest.awaitStatus(job, "SUCCEEDED");
        assertEquals("job.started", events.get(0).path("type").asText(), events.toString());
        assertEquals(1, events.get(0).path("data").path("attempt").asInt());
        JsonNode last = events.get(events.size() - 1);
        assertEquals("job.completed", last.path("type").asText());
        assertEquals("SUCCEEDED", last.path("data").path("status").asText());
        assertEquals("/v1/jobs/" + job + "/images/0", last.path("data").path("images").path(0).path("url").asText());
        int step = 0;
        for (JsonNode progress : events.subList(1, events.size() - 1)) {
            assertEquals("job.progress", progress.path("type").asText());
            assertTrue(progress.path("data").path("progress").path("step").asInt() > step, "steps in order: " + events);
            step = progress.path("data").path("progress").path("step").asInt();
        }
        String secret = given().get("/v1/webhooks/secret").then().statusCode(200)
                .body("secret", startsWith("whsec_")).extract().path("secret");
        Set<String> ids = new HashSet<>();
        for (WebhookReceiver.Received r : receiver.received()) {
            assertTrue(WebhookReceiver.verify(secret, r, Duration.ofMinutes(5)), "signature of " + r);
            assertTrue(ids.add(r.id()), "each delivery once: " + r.id());
        }
        assertTrue(!WebhookReceiver.verify(secret.substring(0, 10) + "AAAA" + secret.substring(14), receiver.received().get(0),
                Duration.ofMinutes(5)), "another secret does not verify");
        // the job shows its deliveries
        long deadline = System.nanoTime() + 10_000_000_000L;
        Response view;
        do {
            view = given().get("/v1/jobs/" + job);
        } while (view.<Integer>path("webhook.pending") > 0 && System.nanoTime() < deadline);
        view.then().body("webhook.url", equalTo(receiver.url()))
                .body("webhook.events", equalTo(List.of("started", "progress", "completed")))
                .body("webhook.delivered", equalTo(events.size())).body("webhook.failed", equalTo(0));
    }

    @Test
    void aReceiverThatFailsGetsTheSameDeliveryAgainUntilItAnswers2xx() throws Exception {
        receiver.answer(503);
        String job = submit("\"webhook\":\"" + receiver.url() + "\"");
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (receiver.received().size() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        given().get("/v1/jobs/" + job).then().body("webhook.pending", equalTo(1))
                .body("webhook.lastError", containsString("503"));
        receiver.answer(200);
        await(job, events -> receiver.received().stream().anyMatch(r -> r.answered() == 200));
        List<WebhookReceiver.Received> tries = receiver.received();
        assertTrue(tries.size() >= 4, tries.toString());
        for (WebhookReceiver.Received r : tries) {
            assertEquals(tries.get(0).id(), r.id(), "one delivery, tried again");
            assertEquals(tries.get(0).body(), r.body(), "the same body every try");
        }
        // the waits between tries grow (200 ms, 400 ms, 800 ms, at most 1 s in the test profile; less up to 20 % jitter)
        long first = Duration.between(tries.get(0).at(), tries.get(1).at()).toMillis();
        long third = Duration.between(tries.get(2).at(), tries.get(3).at()).toMillis();
        assertTrue(first >= 150 && third > first, "backoff " + first + " then " + third + " ms");
        String secret = given().get("/v1/webhooks/secret").path("secret");
        assertTrue(WebhookReceiver.verify(secret, tries.get(tries.size() - 1), Duration.ofMinutes(5)));
        given().get("/v1/jobs/" + job).then().body("webhook.delivered", equalTo(1)).body("webhook.pending", equalTo(0));
    }

    @Test
    void badTargetsAndEventsAre400NamingTheField() {
        for (String[] bad : new String[][] {
                {"\"webhook\":\"ftp://example.com/x\"", "webhook", "http or https"},
                {"\"webhook\":\"http://10.0.0.1/x\"", "webhook", "private address"},
                {"\"webhook\":\"http://169.254.169.254/latest/meta-data\"", "webhook", "private address"},
                {"\"webhook\":\"http://0.0.0.0:8080/x\"", "webhook", "not a destination"},
                {"\"webhook\":\"http://user:pw@example.com/x\"", "webhook", "no user name"},
                {"\"webhook\":\"http://no-such-host.invalid/x\"", "webhook", "does not resolve"},
                {"\"webhook\":42", "webhook", "must be a string"},
                {"\"webhook\":\"" + "http://127.0.0.1/x\",\"webhookEvents\":[\"finished\"]", "webhookEvents", "\"finished\" is not one"},
                {"\"webhook\":\"" + "http://127.0.0.1/x\",\"webhookEvents\":\"completed\"", "webhookEvents", "must be an array"},
                {"\"webhookEvents\":[\"completed\"]", "webhookEvents", "needs a webhook"}}) {
            given().contentType(ContentType.JSON).body("{\"prompt\":\"x\",\"numInferenceSteps\":2," + bad[0] + "}")
                    .post("/v1/jobs").then().statusCode(400).body("field", equalTo(bad[1]))
                    .body("message", containsString(bad[2]));
        }
        // an empty list, as generated clients send a list field they were not given, is the default
        given().contentType(ContentType.JSON).body("{\"prompt\":\"x\",\"numInferenceSteps\":2,\"webhookEvents\":[]}")
                .post("/v1/jobs").then().statusCode(202);
    }

    @Test
    void eachTenantHasItsOwnSecretAndAnAdminRotatesIt() throws Exception {
        String mine = given().get("/v1/webhooks/secret").then().statusCode(200).extract().path("secret");
        assertEquals(mine, given().get("/v1/webhooks/secret").path("secret"), "stable until rotated");
        String theirs = given().auth().oauth2(TestKeys.key("webhook-other")).get("/v1/webhooks/secret").path("secret");
        assertNotEquals(mine, theirs);
        given().post("/v1/admin/webhooks/secret").then().statusCode(403);
        String admin = TestKeys.adminKey("webhook-rotated");
        String before = given().auth().oauth2(admin).get("/v1/webhooks/secret").path("secret");
        String rotated = given().auth().oauth2(admin).post("/v1/admin/webhooks/secret").then().statusCode(200)
                .extract().path("secret");
        assertNotEquals(before, rotated);
        assertEquals(rotated, given().auth().oauth2(admin).get("/v1/webhooks/secret").path("secret"));
        assertEquals(mine, given().get("/v1/webhooks/secret").path("secret"), "another tenant's is untouched");
        // within the grace, a delivery carries both signatures: receivers still on the old secret go on verifying
        String job = given().auth().oauth2(admin).contentType(ContentType.JSON)
                .body("{\"prompt\":\"x\",\"numInferenceSteps\":2,\"webhook\":\"" + receiver.url() + "\"}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        await(job, WebhookTest::completed);
        WebhookReceiver.Received r = receiver.received().get(0);
        assertEquals(2, r.signature().split(" ").length, r.signature());
        assertTrue(WebhookReceiver.verify(rotated, r, Duration.ofMinutes(5)), "the new secret verifies");
        assertTrue(WebhookReceiver.verify(before, r, Duration.ofMinutes(5)), "the old one too, within the grace");
    }

    @Test
    void everyCellOfASweepPostsToTheSweepsWebhook() throws Exception {
        Response sweep = given().contentType(ContentType.JSON)
                .body("{\"base\":{\"prompt\":\"x\",\"numInferenceSteps\":2,\"webhook\":\"" + receiver.url()
                        + "\"},\"x\":{\"field\":\"seed\",\"values\":[\"1\",\"2\"]}}")
                .post("/v1/sweeps").then().statusCode(202).extract().response();
        List<String> cells = sweep.path("cells.jobId");
        assertEquals(2, cells.size(), sweep.asString());
        for (String cell : cells) {
            List<JsonNode> events = await(cell, WebhookTest::completed);
            assertEquals(1, events.size(), "only completed, the default: " + events);
        }
    }
}
