package io.denoise.it;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.stack.LocalStack;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * While PostgreSQL stops answering, or S3 is gone, the API answers quickly with 503, Retry-After and the usual error
 * body — never a hang, never a 500 — and works again once the dependency is back.
 */
class DependencyOutageIT {

    /** Well under the 10 s a client may wait: pool acquisition 3 s, login 3 s, socket 5 s. */
    private static final Duration FAST = Duration.ofSeconds(8);
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aDeadDatabaseOrImageStoreIsAQuick503WithRetryAfter() throws Exception {
        Path data = Path.of("target", "stack-it", "dependency-outage-" + System.currentTimeMillis());
        try (LocalStack stack = LocalStack.builder().dataDir(data).build().start()) {
            URI jdbc = URI.create(stack.jdbcUrl().substring("jdbc:".length()));
            URI s3 = URI.create(stack.s3Endpoint());
            try (TcpGate db = new TcpGate(jdbc.getHost(), jdbc.getPort());
                 TcpGate store = new TcpGate(s3.getHost(), s3.getPort());
                 AppProcess app = AppProcess.start("outage-db-app", stack, "api,worker", Map.of(
                         "quarkus.datasource.jdbc.url", stack.jdbcUrl().replace(":" + jdbc.getPort() + "/", ":" + db.port() + "/"),
                         "denoise.storage.endpoint", s3.getScheme() + "://" + s3.getHost() + ":" + store.port()), true)) {
                Api client = new Api(app);
                String before = client.submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}");
                client.awaitStatus(before, "SUCCEEDED", Duration.ofSeconds(120));

                db.blackhole();
                for (int i = 0; i < 3; i++) {
                    assertUnavailable(app, post(app, "{\"prompt\":\"a blue circle\",\"numInferenceSteps\":2}"), "database_unavailable");
                    assertUnavailable(app, app.request("/v1/jobs/" + before).GET(), "database_unavailable");
                    assertUnavailable(app, app.request("/v1/jobs").GET(), "database_unavailable");
                }
                db.open();

                store.refuse();
                String png = "iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAIAAAAlC+aJAAAAeklEQVR4nO3PUQkAIBTAwBfFKEYzuiH8OITBAtzm7PV1wwUNaEEDWtCAFjSgBQ1oQQNa0IAWNKAFDWhBA1rQgBY0oAUNaEEDWtCAFjSgBQ1oQQNa0IAWNKAFDWhBA1rQgBY0oAUNaEEDWtCAFjSgBQ1oQQNa0IAWPHYB+/cA00BishIAAAAASUVORK5CYII=";
                assertUnavailable(app, post(app, "{\"prompt\":\"a circle\",\"numInferenceSteps\":2,\"initImage\":\"" + png + "\"}"),
                        "storage_unavailable");
                store.open();

                String after = client.submit("{\"prompt\":\"a green circle\",\"numInferenceSteps\":2}");
                client.awaitStatus(after, "SUCCEEDED", Duration.ofSeconds(120));
            }
        }
    }

    private static HttpRequest.Builder post(AppProcess app, String body) {
        return app.request("/v1/jobs").header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    }

    private static void assertUnavailable(AppProcess app, HttpRequest.Builder request, String error) throws Exception {
        HttpRequest r = request.timeout(Duration.ofSeconds(30)).build();
        long start = System.nanoTime();
        HttpResponse<String> response = HTTP.send(r, HttpResponse.BodyHandlers.ofString());
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        System.out.printf("[outage] %s %s → %d in %d ms%n", r.method(), r.uri().getPath(), response.statusCode(), took.toMillis());
        assertEquals(503, response.statusCode(), () -> r.method() + " " + r.uri() + ": " + response.body());
        assertTrue(response.headers().firstValue("Retry-After").isPresent(), "Retry-After");
        assertEquals(error, JSON.readTree(response.body()).path("error").asText(), response.body());
        assertTrue(took.compareTo(FAST) < 0, r.method() + " " + r.uri() + " took " + took);
    }
}
