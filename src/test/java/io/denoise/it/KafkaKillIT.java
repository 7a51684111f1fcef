package io.denoise.it;

import io.denoise.stack.LocalStack;
import io.denoise.stack.LocalStack.Component;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The Kafka broker is killed with SIGKILL while jobs are queued and one runs, stays down 10 s and comes back on its
 * log dirs: every job that got a 202 ends SUCCEEDED with its images, within 60 s of the broker's return, and every
 * submission while it was down got a 202 (the outbox keeps it) or a 503 with Retry-After within 10 s.
 */
class KafkaKillIT {

    @Test
    void jobsQueuedAndRunningWhenKafkaIsKilledAllSucceedOnceItIsBack() throws Exception {
        try (LocalStack stack = Faults.stack("kafka-kill").build().start();
                AppProcess api = AppProcess.start("kafka-kill-api", stack, "api", Faults.quickRecovery(), true);
                AppProcess worker = AppProcess.start("kafka-kill-worker", stack, "worker",
                        Faults.with(Faults.quickRecovery(), "denoise.worker.id", "worker-1"), true)) {
            Api client = new Api(api);
            List<String> backlog = Faults.backlog(client, 5);

            Faults.Outage outage = Faults.outage(client, backlog, Duration.ofSeconds(10), Duration.ofSeconds(1),
                    () -> stack.kill(Component.KAFKA), () -> stack.start(Component.KAFKA));

            List<String> broken = Faults.verdict(client, stack, outage, 2, false, Duration.ofSeconds(10));
            assertEquals(List.of(), broken, "after Kafka was killed and restarted");
        }
    }

}
