package io.denoise.it;

import io.denoise.stack.LocalStack;
import org.junit.jupiter.api.Test;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fairness target with real processes: an API and two workers; tenant local queues 100 jobs, then tenant
 * newcomer submits one. The newcomer's job starts before the backlog's 5th job still to start when it came;
 * the test prints when (in jobs and seconds).
 */
class FairnessIT {

    @Test
    void anotherTenantsFirstJobStartsBeforeTheBacklogsFifthRemainingJob() throws Exception {
        try (LocalStack stack = Faults.stack("fairness").build().start();
                AppProcess api = AppProcess.start("fairness-api", stack, "api", Faults.quickRecovery(), true);
                AppProcess worker1 = AppProcess.start("fairness-worker-1", stack, "worker",
                        Faults.with(Faults.quickRecovery(), "denoise.worker.id", "worker-1"), true);
                AppProcess worker2 = AppProcess.start("fairness-worker-2", stack, "worker",
                        Faults.with(Faults.quickRecovery(), "denoise.worker.id", "worker-2"), true)) {
            Api client = new Api(api);
            List<String> backlog = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                backlog.add(client.submit(Faults.longJob(1000 + i)));
            }
            client.await(backlog.get(0), j -> j.path("status").asText().equals("RUNNING"), Duration.ofSeconds(60), "started");
            String newcomerKey = newKey(stack, api, "newcomer");
            Instant submitted = Instant.now();
            HttpResponse<String> answer = HttpClient.newHttpClient().send(HttpRequest.newBuilder(api.uri("/v1/jobs"))
                    .header("Authorization", "Bearer " + newcomerKey).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(Faults.longJob(7))).build(), HttpResponse.BodyHandlers.ofString());
            assertTrue(answer.statusCode() == 202, answer.body());
            String newcomer = answer.body().replaceAll(".*\"id\":\"([0-9a-f-]+)\".*", "$1");
            try {
                Instant started = null;
                long deadline = System.nanoTime() + Duration.ofSeconds(240).toNanos();
                while (started == null && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                    started = startedAt(stack, newcomer);
                }
                assertTrue(started != null, "the newcomer's job never started");
                int before = backlogStartedBetween(stack, submitted, started);
                System.out.printf("[fairness] 100 queued by one tenant, 2 workers: another tenant's job started %.1f s "
                        + "after its submit, after %d of the backlog's jobs that were still to start%n",
                        Duration.between(submitted, started).toMillis() / 1000.0, before);
                assertTrue(before < 5, before + " of the backlog's remaining jobs started first");
            } finally {
                for (String id : backlog) {
                    HttpClient.newHttpClient().send(api.request("/v1/jobs/" + id).DELETE().build(),
                            HttpResponse.BodyHandlers.discarding());
                }
            }
        }
    }

    /** A key of {@code tenant}, made with the {@code keys} command as an operator would. */
    private static String newKey(LocalStack stack, AppProcess api, String tenant) throws Exception {
        HttpResponse<String> made = HttpClient.newHttpClient().send(api.request("/v1/admin/keys")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"tenant\":\"" + tenant + "\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertTrue(made.statusCode() == 201, made.body());
        return made.body().replaceAll(".*\"key\":\"([^\"]+)\".*", "$1");
    }

    private static Instant startedAt(LocalStack stack, String id) throws Exception {
        try (Connection c = DriverManager.getConnection(stack.jdbcUrl(), stack.dbUser(), stack.dbPassword());
                PreparedStatement q = c.prepareStatement("select started_at from job where id = ?::uuid")) {
            q.setString(1, id);
            try (ResultSet r = q.executeQuery()) {
                r.next();
                Timestamp t = r.getTimestamp(1);
                return t == null ? null : t.toInstant();
            }
        }
    }

    /** Jobs of the backlog's tenant that started in [from, to): those still to start when the newcomer came. */
    private static int backlogStartedBetween(LocalStack stack, Instant from, Instant to) throws Exception {
        try (Connection c = DriverManager.getConnection(stack.jdbcUrl(), stack.dbUser(), stack.dbPassword());
                PreparedStatement q = c.prepareStatement(
                        "select count(*) from job where tenant = 'local' and started_at >= ? and started_at < ?")) {
            q.setTimestamp(1, Timestamp.from(from));
            q.setTimestamp(2, Timestamp.from(to));
            try (ResultSet r = q.executeQuery()) {
                r.next();
                return r.getInt(1);
            }
        }
    }
}
