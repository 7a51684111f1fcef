package io.denoise.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.stack.LocalStack;
import io.denoise.webhooks.WebhookReceiver;
import org.junit.jupiter.api.Test;

import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The receiver is down for 60 s while four jobs run and end, and the service is killed (SIGKILL) and restarted in
 * the middle of that: once the receiver is back, it gets every event of every job, each once, signed with the
 * tenant's secret, in order per job. The deliveries were only in PostgreSQL across the restart.
 */
class WebhookIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration DOWN = Duration.ofSeconds(60);

    @Test
    void aReceiverDownFor60sAcrossARestartGetsEveryEventOnceSignedAndInOrder() throws Exception {
        Map<String, String> config = new LinkedHashMap<>(Faults.quickRecovery());
        config.put("denoise.webhooks.allow-http", "true");
        config.put("denoise.webhooks.allow-loopback", "true");
        config.put("denoise.webhooks.initial-backoff", "1s");
        config.put("denoise.webhooks.max-backoff", "8s");
        try (LocalStack stack = Faults.stack("webhooks").build().start();
                WebhookReceiver receiver = new WebhookReceiver()) {
            receiver.down();
            Instant down = Instant.now();
            AppProcess app = AppProcess.start("webhooks", stack, "api,worker", config, true);
            try {
                Api client = new Api(app);
                List<String> jobs = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    jobs.add(client.submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":20,\"width\":256,\"height\":256,\"seed\":" + i
                            + ",\"webhook\":\"" + receiver.url() + "\",\"webhookEvents\":[\"started\",\"progress\",\"completed\"]}"));
                }
                Faults.awaitEnded(client, jobs, Duration.ofSeconds(60));
                long pendingBeforeKill = count(stack, "select count(*) from webhook_delivery where state = 'PENDING'");
                // started and completed of each job, and a progress event each time a job's progress was saved
                // (at most every denoise.worker.progress-interval)
                assertTrue(pendingBeforeKill >= 8, "every event of the 4 jobs waits: " + pendingBeforeKill);
                Thread.sleep(Math.max(0, Duration.ofSeconds(20).toMillis() - Duration.between(down, Instant.now()).toMillis()));
                app.kill();
                app = app.restart(true);
                client = new Api(app);
                Thread.sleep(Math.max(0, DOWN.toMillis() - Duration.between(down, Instant.now()).toMillis()));
                assertEquals(List.of(), receiver.received(), "nothing arrived while the receiver was down");
                receiver.up();
                Instant up = Instant.now();

                long expected = count(stack, "select count(*) from webhook_delivery");
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (receiver.received().size() < expected && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                List<WebhookReceiver.Received> received = receiver.received();
                Duration drained = Duration.between(up, received.isEmpty() ? up : received.get(received.size() - 1).at());
                System.out.printf("[webhooks] %d deliveries waited %d s (a restart among them); all arrived %d ms after the "
                        + "receiver came back%n", expected, DOWN.toSeconds(), drained.toMillis());

                HttpResponse<String> secretAnswer = HttpClient.newHttpClient().send(app.request("/v1/webhooks/secret").build(),
                        HttpResponse.BodyHandlers.ofString());
                String secret = JSON.readTree(secretAnswer.body()).path("secret").asText();
                Set<String> ids = new TreeSet<>();
                Map<String, List<JsonNode>> byJob = new HashMap<>();
                for (WebhookReceiver.Received r : received) {
                    assertTrue(WebhookReceiver.verify(secret, r, Duration.ofMinutes(5)), "signature of " + r);
                    assertTrue(ids.add(r.id()), "delivered once: " + r.id());
                    JsonNode event = JSON.readTree(r.body());
                    byJob.computeIfAbsent(event.path("data").path("id").asText(), k -> new ArrayList<>()).add(event);
                }
                assertEquals(expected, received.size(), "every event arrived once");
                assertEquals(new TreeSet<>(jobs), new TreeSet<>(byJob.keySet()));
                for (String job : jobs) {
                    List<JsonNode> events = byJob.get(job);
                    assertEquals("job.started", events.get(0).path("type").asText(), job + ": " + events);
                    assertEquals("job.completed", events.get(events.size() - 1).path("type").asText(), job + ": " + events);
                    assertEquals("SUCCEEDED", events.get(events.size() - 1).path("data").path("status").asText());
                    int step = 0;
                    for (JsonNode progress : events.subList(1, events.size() - 1)) {
                        assertEquals("job.progress", progress.path("type").asText(), job + ": " + events);
                        int next = progress.path("data").path("progress").path("step").asInt();
                        assertTrue(next > step, "in order: " + events);
                        step = next;
                    }
                }
                long notDelivered = count(stack, "select count(*) from webhook_delivery where state <> 'DELIVERED'");
                assertEquals(0, notDelivered, "every delivery recorded as delivered");
            } finally {
                app.close();
            }
        }
    }

    private static long count(LocalStack stack, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(stack.jdbcUrl(), stack.dbUser(), stack.dbPassword());
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }
}
