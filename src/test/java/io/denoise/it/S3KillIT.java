package io.denoise.it;

import io.denoise.stack.LocalStack;
import io.denoise.stack.LocalStack.Component;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The S3 server is killed with SIGKILL while jobs run and store their images, stays down 10 s and comes back on its
 * files: every job that got a 202 ends SUCCEEDED with exactly its images (no job fails for want of storage, none
 * stores a second set), within 60 s of the server's return, and every submission while it was down got a 202 or a
 * 503 with Retry-After within 10 s.
 */
class S3KillIT {

    @Test
    void jobsStoringImagesWhenS3IsKilledAllSucceedWithTheirImagesOnceItIsBack() throws Exception {
        try (LocalStack stack = Faults.stack("s3-kill").build().start();
                AppProcess api = AppProcess.start("s3-kill-api", stack, "api", Faults.quickRecovery(), true);
                AppProcess worker = AppProcess.start("s3-kill-worker", stack, "worker",
                        Faults.with(Faults.quickRecovery(), "denoise.worker.id", "worker-1"), true)) {
            Api client = new Api(api);
            // one long job runs when S3 dies; the short ones submitted meanwhile run (and try to store) while it is down
            List<String> backlog = Faults.backlog(client, 1);

            Faults.Outage outage = Faults.outage(client, backlog, Duration.ofSeconds(10), Duration.ofSeconds(1),
                    () -> stack.kill(Component.S3), () -> stack.start(Component.S3));

            List<String> broken = Faults.verdict(client, stack, outage, 2, false, Duration.ofSeconds(10));
            assertEquals(List.of(), broken, "after S3 was killed and restarted");
        }
    }

}
