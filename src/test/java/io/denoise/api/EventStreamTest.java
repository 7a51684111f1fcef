package io.denoise.api;

import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
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
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Event streams end even when no terminal event reaches them, and are capped per job. The jobs here are rows
 * written straight into the database: no record goes to Kafka, so no worker runs them and no event is published.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class EventStreamTest {

    /** {@code %test.denoise.api.events-idle-check} is 1 s; a stream must end well within this. */
    private static final Duration END_WITHIN = Duration.ofSeconds(8);

    @ConfigProperty(name = "quarkus.datasource.jdbc.url")
    String jdbcUrl;

    @TestHTTPResource("/")
    URL root;

    private UUID runningJob() throws Exception {
        UUID id = UUID.randomUUID();
        try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
             PreparedStatement insert = db.prepareStatement("""
                     insert into job (id, tenant, model, status, params, attempt, total_steps, created_at, started_at)
                     values (?, ?, 'tiny-random', 'RUNNING', '{}'::jsonb, 1, 2, now(), now())""")) {
            insert.setObject(1, id);
            insert.setString(2, TestKeys.TENANT);
            insert.executeUpdate();
        }
        return id;
    }

    private void finishInTheDatabase(UUID id, String status) throws Exception {
        try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
             PreparedStatement update = db.prepareStatement(
                     "update job set status = ?, finished_at = now() where id = ?")) {
            update.setString(1, status);
            update.setObject(2, id);
            assertEquals(1, update.executeUpdate());
        }
    }

    /** Reads a stream to its end: the event names. */
    private CompletableFuture<List<String>> stream(UUID id) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                HttpRequest request = HttpRequest.newBuilder(URI.create(root + "v1/jobs/" + id + "/events"))
                        .header("Accept", "text/event-stream").header("Authorization", TestKeys.bearer())
                        .timeout(Duration.ofSeconds(60)).build();
                HttpResponse<InputStream> response = HttpClient.newHttpClient().send(request,
                        HttpResponse.BodyHandlers.ofInputStream());
                assertEquals(200, response.statusCode());
                List<String> names = new ArrayList<>();
                try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        if (line.startsWith("event:")) {
                            names.add(line.substring(6).trim());
                        }
                    }
                }
                return names;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @BeforeEach
    void apiKey() {
        TestKeys.useDefault();
    }
    @Test
    void aJobFinishedWithoutItsTerminalEventStillEndsAnOpenStreamWithinTheIdleInterval() throws Exception {
        UUID id = runningJob();
        CompletableFuture<List<String>> events = stream(id);
        Thread.sleep(1500);
        assertTrue(!events.isDone(), "the stream stays open while the job runs");
        long finished = System.nanoTime();
        finishInTheDatabase(id, "SUCCEEDED");
        List<String> names = events.get(END_WITHIN.toMillis(), TimeUnit.MILLISECONDS);
        long tookMs = (System.nanoTime() - finished) / 1_000_000;
        assertEquals(List.of("succeeded"), names);
        System.out.printf("[sse] stream of a job finished without an event ended %d ms after the row changed%n", tookMs);
    }

    @Test
    void aStreamOpenedAfterTheJobEndedGetsItsTerminalEventAtOnce() throws Exception {
        UUID id = runningJob();
        finishInTheDatabase(id, "CANCELLED");
        assertEquals(List.of("cancelled"), stream(id).get(5, TimeUnit.SECONDS));
    }

    @Test
    void oneStreamMoreThanTheCapPerJobIs429() throws Exception {
        UUID id = runningJob();
        List<CompletableFuture<List<String>>> open = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            open.add(stream(id));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        int status;
        do {
            Thread.sleep(200);
            status = given().get("/v1/jobs/" + id + "/events").then().extract().statusCode();
        } while (status != 429 && System.nanoTime() < deadline);
        given().get("/v1/jobs/" + id + "/events").then().statusCode(429)
                .header("Retry-After", equalTo("5")).body("error", equalTo("too_many_streams"));
        finishInTheDatabase(id, "SUCCEEDED");
        for (CompletableFuture<List<String>> f : open) {
            assertEquals(List.of("succeeded"), f.get(END_WITHIN.toMillis(), TimeUnit.MILLISECONDS));
        }
    }
}
