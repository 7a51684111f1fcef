package io.denoise.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.denoise.stack.LocalStack;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Renewing the lock of a long job's record does not bounce the job queued behind it: a renewal must not fetch
 * (and then release, spending one of its deliveries) the next record. With a 2 s lock, set on the share group by
 * the worker, the record is renewed every second.
 */
class LockRenewalIT {

    @Test
    void renewingALongJobsLockNeverSpendsADeliveryOfTheJobQueuedBehindIt() throws Exception {
        Path data = Path.of("target", "stack-it", "renewal-" + System.currentTimeMillis());
        try (LocalStack stack = LocalStack.builder().dataDir(data).build().start();
             AppProcess app = AppProcess.start("renewal-app", stack, "api,worker",
                     Map.of("denoise.worker.lock-duration", "2s"), true)) {
            Api client = new Api(app);
            // three images a step: long enough (> 5 s) for several 2 s locks on a fast, idle machine too
            String longJob = client.submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":150,\"width\":256,\"height\":256,\"numImages\":3}");
            client.awaitStatus(longJob, "RUNNING", Duration.ofSeconds(60));
            String queued = client.submit("{\"prompt\":\"a blue circle\",\"numInferenceSteps\":2}");
            JsonNode first = client.awaitStatus(longJob, "SUCCEEDED", Duration.ofSeconds(180));
            JsonNode second = client.awaitStatus(queued, "SUCCEEDED", Duration.ofSeconds(60));
            long runMs = first.path("timings").path("runMs").asLong();
            assertTrue(runMs >= 5000, "the long job ran " + runMs + " ms: too short to renew its lock several times");
            assertEquals(1, first.path("attempt").asInt());
            assertEquals(1, deliveries(stack, longJob), "the long job's record was delivered again");
            assertEquals(1, second.path("attempt").asInt());
            assertEquals(1, deliveries(stack, queued),
                    "the queued job's record was fetched and released while the long job's lock was renewed");
        }
    }

    private static int deliveries(LocalStack stack, String id) throws Exception {
        try (Connection db = DriverManager.getConnection(stack.jdbcUrl(), stack.dbUser(), stack.dbPassword());
             PreparedStatement select = db.prepareStatement("select deliveries from job where id = ?")) {
            select.setObject(1, UUID.fromString(id));
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }
}
