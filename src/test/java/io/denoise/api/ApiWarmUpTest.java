package io.denoise.api;

import io.denoise.jobs.SubmitBatcher;
import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.URL;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The warm-up a new API process runs before it reports ready: its submits go the whole way (202, the read of the
 * job after; every tenth, with a key that does not exist, is refused) and leave nothing behind — no job (nor its
 * outbox record, in the same transaction), quota row or counter — and its key is refused once it has ended.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class ApiWarmUpTest {

    @Inject
    ApiWarmUp warmUp;

    @TestHTTPResource("/")
    URL base;

    @TestHTTPResource(value = "/", management = true)
    URL management;

    @ConfigProperty(name = "quarkus.datasource.jdbc.url")
    String jdbcUrl;

    @Test
    void rehearsedSubmitsAreAnsweredAndStoreNothingAndTheKeyDiesWithTheWarmUp() throws Exception {
        CompletableFuture<ApiWarmUp.Report> running = CompletableFuture.supplyAsync(() -> warmUp.run(URI.create(base.toString()), 40));
        String key = null;
        while (key == null && !running.isDone()) {
            key = warmUp.key();
            Thread.onSpinWait();
        }
        ApiWarmUp.Report report = running.get();
        assertNotNull(key, "the warm-up had a key while it ran");
        assertEquals(Map.of(202, 36, 401, 4), report.answers(),
                "every rehearsed submit went the whole way, and every tenth, with an unknown key, was refused: " + report);
        assertTrue(report.stoppedBecause().isEmpty(), report.toString());

        String tenant = SubmitBatcher.REHEARSAL_TENANT;
        assertEquals(0, count("select count(*) from job where tenant = ?", tenant), "no job stored");
        assertEquals(0, count("select count(*) from tenant_usage where tenant = ?", tenant), "no quota row");
        assertEquals(0, count("select count(*) from tenant_bucket where tenant = ?", tenant), "no bucket row");
        String metrics = given().baseUri(management.toString()).get("/q/metrics").asString();
        assertTrue(!metrics.contains(tenant), "no counter for the warm-up's tenant");

        assertNull(warmUp.key());
        given().auth().oauth2(key).contentType(ContentType.JSON).body("{\"prompt\":\"x\"}").post("/v1/jobs")
                .then().statusCode(401);
    }

    private long count(String sql, String... args) throws Exception {
        try (Connection c = DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
             PreparedStatement s = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                s.setString(i + 1, args[i]);
            }
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }
}
