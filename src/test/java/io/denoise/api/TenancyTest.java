package io.denoise.api;

import io.denoise.auth.ApiKeys;
import io.denoise.auth.LocalKey;
import io.denoise.cli.KeysCommand;
import io.denoise.jobs.JobStore;
import io.denoise.stack.StackTestResource;
import io.quarkus.arc.Arc;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import jakarta.persistence.EntityManager;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * API keys and tenants over HTTP: every route refuses a request without a valid key (401 with
 * {@code WWW-Authenticate: Bearer}), another tenant's job or sweep is a 404 on every route that names one, lists,
 * Idempotency-Key and object keys are per tenant, and keys are created, scoped and revoked.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class TenancyTest {

    private static final String ALICE = "alice";
    private static final String BOB = "bob";

    @BeforeEach
    void apiKey() {
        TestKeys.useDefault();
    }

    /** A request as tenant {@code tenant}. */
    private static RequestSpecification as(String tenant) {
        return given().auth().oauth2(TestKeys.key(tenant));
    }

    private static String submitAs(String tenant, String body) {
        return as(tenant).contentType(ContentType.JSON).body(body).post("/v1/jobs").then().statusCode(202).extract().path("id");
    }

    private static void awaitEnded(String tenant, String id) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            String status = as(tenant).get("/v1/jobs/" + id).path("status");
            if (List.of("SUCCEEDED", "FAILED", "CANCELLED").contains(status)) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " did not end");
    }

    /** Every route, with ids of a real job and sweep where a route names one. */
    private static List<String[]> routes(String job, String sweep) {
        String body = "{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}";
        return List.of(
                new String[] {"POST", "/v1/jobs", body},
                new String[] {"GET", "/v1/jobs", null},
                new String[] {"GET", "/v1/jobs/" + job, null},
                new String[] {"GET", "/v1/jobs/" + job + "/events", null},
                new String[] {"GET", "/v1/jobs/" + job + "/images/0", null},
                new String[] {"GET", "/v1/jobs/" + job + "/images/0?redirect=true", null},
                new String[] {"GET", "/v1/jobs/" + job + "/grid", null},
                new String[] {"DELETE", "/v1/jobs/" + job, null},
                new String[] {"POST", "/v1/jobs/" + job + "/cancel", null},
                new String[] {"POST", "/v1/sweeps", "{\"base\":{\"prompt\":\"x\",\"numInferenceSteps\":2},\"x\":{\"field\":\"seed\",\"values\":[\"1\",\"2\"]}}"},
                new String[] {"GET", "/v1/sweeps/" + sweep, null},
                new String[] {"GET", "/v1/sweeps/" + sweep + "/events", null},
                new String[] {"GET", "/v1/sweeps/" + sweep + "/grid", null},
                new String[] {"DELETE", "/v1/sweeps/" + sweep, null},
                new String[] {"GET", "/v1/models", null},
                new String[] {"GET", "/v1/admin/keys", null},
                new String[] {"POST", "/v1/admin/keys", "{\"tenant\":\"x\"}"},
                new String[] {"DELETE", "/v1/admin/keys/" + UUID.randomUUID(), null},
                new String[] {"GET", "/v1/webhooks/secret", null},
                new String[] {"POST", "/v1/admin/webhooks/secret", null},
                new String[] {"POST", "/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"steps\":2}"},
                new String[] {"POST", "/sdapi/v1/img2img", "{\"prompt\":\"x\",\"steps\":2}"},
                new String[] {"GET", "/sdapi/v1/progress", null},
                new String[] {"POST", "/sdapi/v1/interrupt", null},
                new String[] {"GET", "/sdapi/v1/sd-models", null},
                new String[] {"GET", "/sdapi/v1/samplers", null},
                new String[] {"GET", "/sdapi/v1/options", null},
                new String[] {"POST", "/sdapi/v1/options", "{}"});
    }

    private static Response send(RequestSpecification request, String[] route) {
        if (route[2] != null) {
            request = request.contentType(ContentType.JSON).body(route[2]);
        }
        return request.redirects().follow(false).request(route[0], route[1]);
    }

    @Test
    void everyRouteAnswers401WithABearerChallengeWithoutAKeyAndWithAnUnknownOne() throws Exception {
        String job = submitAs(ALICE, "{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}");
        String sweep = as(ALICE).contentType(ContentType.JSON)
                .body("{\"base\":{\"prompt\":\"x\",\"numInferenceSteps\":2},\"x\":{\"field\":\"seed\",\"values\":[\"1\",\"2\"]}}")
                .post("/v1/sweeps").then().statusCode(202).extract().path("id");
        for (String[] route : routes(job, sweep)) {
            String what = route[0] + " " + route[1];
            for (RequestSpecification anonymous : List.of(given().auth().none(),
                    given().auth().oauth2(ApiKeys.PREFIX + "not-a-key-this-service-made-at-all"),
                    given().auth().none().header("Authorization", "Basic " + base64("user:"))))  {
                Response r = send(anonymous, route);
                assertEquals(401, r.statusCode(), what + ": " + r.asString());
                assertTrue(r.header("WWW-Authenticate").startsWith("Bearer"), what);
                assertEquals("unauthorized", r.path("error"), what);
            }
        }
        awaitEnded(ALICE, job);
    }

    @Test
    void anotherTenantsJobAndSweepAre404OnEveryRouteThatNamesThemAndTheOwnerStillSeesThem() throws Exception {
        String job = submitAs(ALICE, "{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}");
        awaitEnded(ALICE, job);
        String sweep = as(ALICE).contentType(ContentType.JSON)
                .body("{\"base\":{\"prompt\":\"x\",\"numInferenceSteps\":2},\"x\":{\"field\":\"seed\",\"values\":[\"1\",\"2\"]}}")
                .post("/v1/sweeps").then().statusCode(202).extract().path("id");
        for (String[] route : routes(job, sweep)) {
            boolean names = route[1].contains(job) || route[1].contains(sweep);
            if (!names) {
                continue;
            }
            Response r = send(as(BOB), route);
            assertEquals(404, r.statusCode(), "bob: " + route[0] + " " + route[1] + ": " + r.asString());
            assertEquals("not_found", r.path("error"));
        }
        as(ALICE).get("/v1/jobs/" + job).then().statusCode(200).body("status", equalTo("SUCCEEDED"));
        as(ALICE).get("/v1/jobs/" + job + "/images/0").then().statusCode(200);
        as(ALICE).get("/v1/sweeps/" + sweep).then().statusCode(200);
        assertEquals("SUCCEEDED", as(ALICE).get("/v1/jobs/" + job).path("status"), "bob's cancel did not touch it");
    }

    @Test
    void aTenantListsOnlyItsOwnJobsAndItsImagesAreStoredUnderItsPrefix() throws Exception {
        String alices = submitAs(ALICE, "{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}");
        String bobs = submitAs(BOB, "{\"prompt\":\"a blue square\",\"numInferenceSteps\":2}");
        awaitEnded(ALICE, alices);
        awaitEnded(BOB, bobs);
        as(ALICE).get("/v1/jobs?limit=100").then().statusCode(200)
                .body("jobs.id", hasItem(alices)).body("jobs.id", not(hasItem(bobs)));
        as(BOB).get("/v1/jobs?limit=100").then().statusCode(200)
                .body("jobs.id", hasItem(bobs)).body("jobs.id", not(hasItem(alices)));
        JobStore store = Arc.container().instance(JobStore.class).get();
        String key = QuarkusTransaction.requiringNew().call(() ->
                store.images(store.find(UUID.fromString(alices)).orElseThrow()).get(0).key());
        assertTrue(key.startsWith("tenants/alice/jobs/" + alices + "/"), key);
    }

    @Test
    void anIdempotencyKeyBelongsToItsTenant() {
        String key = "order-" + UUID.randomUUID();
        String a = as(ALICE).contentType(ContentType.JSON).header("Idempotency-Key", key)
                .body("{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}").post("/v1/jobs")
                .then().statusCode(202).extract().path("id");
        String b = as(BOB).contentType(ContentType.JSON).header("Idempotency-Key", key)
                .body("{\"prompt\":\"a blue square\",\"numInferenceSteps\":2}").post("/v1/jobs")
                .then().statusCode(202).extract().path("id");
        assertNotEquals(a, b, "the same key from another tenant is another job, not a 409 or alice's job");
        String again = as(ALICE).contentType(ContentType.JSON).header("Idempotency-Key", key)
                .body("{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}").post("/v1/jobs")
                .then().statusCode(202).extract().path("id");
        assertEquals(a, again, "alice's retry answers alice's job");
    }

    @Test
    void aJobsKeyCannotManageKeysAnAdminKeyCreatesOneThatWorksAndARevokedKeyIsRefused() throws Exception {
        as(ALICE).get("/v1/admin/keys").then().statusCode(403).body("error", equalTo("forbidden"));
        String admin = TestKeys.adminKey("ops");
        Response created = given().auth().oauth2(admin).contentType(ContentType.JSON).body("{\"tenant\":\"carol\"}")
                .post("/v1/admin/keys");
        created.then().statusCode(201).body("key", startsWith(ApiKeys.PREFIX)).body("info.tenant", equalTo("carol"))
                .body("info.scopes", equalTo(List.of("jobs")));
        String carol = created.path("key");
        String id = created.path("info.id");
        given().auth().oauth2(carol).get("/v1/jobs").then().statusCode(200);
        given().auth().oauth2(carol).get("/v1/admin/keys").then().statusCode(403);
        Response listed = given().auth().oauth2(admin).get("/v1/admin/keys");
        listed.then().statusCode(200).body("keys.id", hasItem(id));
        assertFalse(listed.asString().contains(carol), "a listing never shows a key");
        given().auth().oauth2(admin).contentType(ContentType.JSON).body("{\"tenant\":\"Not A Tenant\"}").post("/v1/admin/keys")
                .then().statusCode(400).body("field", equalTo("tenant"));
        given().auth().oauth2(admin).contentType(ContentType.JSON).body("{\"tenant\":\"x\",\"admin\":\"yes\"}").post("/v1/admin/keys")
                .then().statusCode(400).body("field", equalTo("admin"));
        given().auth().oauth2(admin).delete("/v1/admin/keys/" + id).then().statusCode(200).body("revokedAt", not(equalTo(null)));
        given().auth().oauth2(carol).get("/v1/jobs").then().statusCode(401);
        given().auth().oauth2(admin).delete("/v1/admin/keys/" + UUID.randomUUID()).then().statusCode(404);
    }

    @Test
    void aKeyRevokedByAnotherReplicaIsRefusedHereWithinTheCacheTime() throws Exception {
        String dave = TestKeys.adminKey("dave");
        given().auth().oauth2(dave).get("/v1/jobs").then().statusCode(200); // now cached on this replica
        // another replica's revoke: the row changes, this replica's cache does not hear of it
        QuarkusTransaction.requiringNew().run(() -> Arc.container().instance(EntityManager.class).get()
                .createNativeQuery("update api_key set revoked_at = now() where tenant = 'dave'").executeUpdate());
        long start = System.nanoTime();
        while (given().auth().oauth2(dave).get("/v1/jobs").statusCode() == 200) {
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos(), "still accepted after 5 s");
            Thread.sleep(100);
        }
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue(ms <= 2_500, "refused within denoise.auth.cache-ttl (2 s): " + ms + " ms");
    }

    @Test
    void theAutomatic1111RoutesTakeTheKeyAsTheBasicPasswordAsItsApiAuthClientsSendIt() {
        given().auth().none().header("Authorization", "Basic " + base64("anyone:" + TestKeys.key(ALICE)))
                .get("/sdapi/v1/samplers").then().statusCode(200);
        given().auth().none().header("Authorization", "Basic " + base64("anyone:" + TestKeys.key(ALICE)))
                .get("/v1/models").then().statusCode(401);
    }

    @Test
    void theLocalRunsKeyFileIsOwnerOnlyAndItsKeyIsRegisteredAgainWhenTheDatabaseLostIt() throws Exception {
        Path file = Files.createTempDirectory("denoise-key").resolve("sub").resolve("api-key");
        LocalKey local = Arc.container().instance(LocalKey.class).get();
        String key = local.ensure(file);
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                Files.getPosixFilePermissions(file));
        assertEquals(key, Files.readString(file).trim());
        given().auth().oauth2(key).get("/v1/jobs").then().statusCode(200);
        given().auth().oauth2(key).get("/v1/admin/keys").then().statusCode(200);
        assertEquals(key, local.ensure(file), "a later start keeps the key");
        // a reset database: the file's key is registered again rather than replaced
        QuarkusTransaction.requiringNew().run(() -> Arc.container().instance(EntityManager.class).get()
                .createNativeQuery("delete from api_key where prefix = :p").setParameter("p", key.substring(0, 9)).executeUpdate());
        assertEquals(key, local.ensure(file));
        given().auth().oauth2(key).get("/v1/jobs").then().statusCode(200);
    }

    @Test
    void theKeysCommandCreatesListsAndRevokesKeys() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        KeysCommand command = new KeysCommand(Arc.container().instance(ApiKeys.class).get(),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, command.run("create", "--tenant", "erin"));
        String key = out.toString(StandardCharsets.UTF_8).trim();
        assertTrue(key.startsWith(ApiKeys.PREFIX) && key.length() >= 40, key);
        given().auth().oauth2(key).get("/v1/jobs").then().statusCode(200);
        given().auth().oauth2(key).get("/v1/admin/keys").then().statusCode(403);
        out.reset();
        assertEquals(0, command.run("list"));
        String erin = out.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("\terin\t")).findFirst().orElseThrow();
        assertFalse(out.toString(StandardCharsets.UTF_8).contains(key), "a listing never shows a key");
        assertTrue(erin.contains(key.substring(0, 9)) && erin.contains("\tjobs\t") && erin.endsWith("\t-"), erin);
        assertEquals(0, command.run("revoke", erin.split("\t")[0]));
        given().auth().oauth2(key).get("/v1/jobs").then().statusCode(401);
        err.reset();
        assertEquals(2, command.run("create", "--tenant", "Not A Tenant"));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("tenant "), err.toString(StandardCharsets.UTF_8));
        assertEquals(2, command.run("create"));
        assertEquals(1, command.run("revoke", UUID.randomUUID().toString()));
        assertEquals(2, command.run("rotate"));
    }

    private static String base64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }
}
