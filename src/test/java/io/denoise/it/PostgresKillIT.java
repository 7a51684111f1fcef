package io.denoise.it;

import io.denoise.stack.LocalStack;
import io.denoise.stack.LocalStack.Component;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * PostgreSQL is killed with SIGKILL while jobs are queued and one runs, stays down 10 s and comes back on its data
 * (crash recovery): every job that got a 202 ends SUCCEEDED with its images, within 60 s of the database's return,
 * and every submission while it was down got a 202 or a 503 with Retry-After within 10 s.
 */
class PostgresKillIT {

    @Test
    void jobsQueuedAndRunningWhenPostgresIsKilledAllSucceedOnceItIsBack() throws Exception {
        try (LocalStack stack = Faults.stack("postgres-kill").build().start();
                AppProcess api = AppProcess.start("postgres-kill-api", stack, "api", Faults.quickRecovery(), true);
                AppProcess worker = AppProcess.start("postgres-kill-worker", stack, "worker",
                        Faults.with(Faults.quickRecovery(), "denoise.worker.id", "worker-1"), true)) {
            Api client = new Api(api);
            List<String> backlog = Faults.backlog(client, 5);

            Faults.Outage outage = Faults.outage(client, backlog, Duration.ofSeconds(10), Duration.ofSeconds(1),
                    () -> stack.kill(Component.POSTGRES), () -> stack.start(Component.POSTGRES));

            List<String> broken = Faults.verdict(client, stack, outage, 2, false, Duration.ofSeconds(10));
            assertEquals(List.of(), broken, "after PostgreSQL was killed and restarted");
        }
    }
}
