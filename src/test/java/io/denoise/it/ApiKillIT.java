package io.denoise.it;

import io.denoise.stack.LocalStack;
import org.junit.jupiter.api.Test;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The API process (api role alone) is killed with SIGKILL while jobs are queued and one runs on a worker process of
 * its own, and restarted on the same port 10 s later: the worker goes on with the backlog meanwhile, and every job
 * that got a 202, including those whose outbox rows the killed process had not relayed yet, ends SUCCEEDED with its
 * images within 60 s of the API's return. While nothing listens, a submission is refused at once (never a hang).
 */
class ApiKillIT {

    @Test
    void jobsAcceptedBeforeTheApiProcessIsKilledAllSucceedAndTheWorkerCarriesOn() throws Exception {
        try (LocalStack stack = Faults.stack("api-kill").build().start();
                AppProcess worker = AppProcess.start("api-kill-worker", stack, "worker",
                        Faults.with(Faults.quickRecovery(), "denoise.worker.id", "worker-1"), true)) {
            AtomicReference<AppProcess> api = new AtomicReference<>(AppProcess.start("api-kill-api", stack, "api",
                    Faults.quickRecovery(), true));
            try {
                Api client = new Api(api.get());
                List<String> backlog = Faults.backlog(client, 5);
                AtomicInteger succeededAtKill = new AtomicInteger();
                AtomicInteger succeededWhileDown = new AtomicInteger();

                Faults.Outage outage = Faults.outage(client, backlog, Duration.ofSeconds(10), Duration.ofSeconds(1),
                        () -> {
                            api.get().kill();
                            succeededAtKill.set(succeeded(stack));
                        },
                        () -> {
                            succeededWhileDown.set(succeeded(stack) - succeededAtKill.get());
                            api.set(api.get().restart(true));
                        });

                List<String> broken = new ArrayList<>(Faults.verdict(client, stack, outage, 2, true, Duration.ofSeconds(10)));
                if (!worker.isAlive()) {
                    broken.add("the worker process died with the API");
                }
                // the restarted process was ready only after its warm-up: every rehearsed submit answered
                String ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(api.get().managementUri("/q/health/ready"))
                        .build(), HttpResponse.BodyHandlers.ofString()).body();
                if (!ready.contains("\"api-warm-up\"") || !ready.contains("{202=45, 401=5}")) {
                    broken.add("the restarted API reported ready without its warm-up of 50 submits: " + ready);
                }
                if (succeededWhileDown.get() == 0) {
                    broken.add("no job succeeded in the 10 s the API was down (the worker stopped with it)");
                }
                assertEquals(List.of(), broken, "after the API process was killed and restarted");
            } finally {
                api.get().close();
            }
        }
    }

    /** @return how many jobs have SUCCEEDED, read from the database (the API is down when this is asked) */
    private static int succeeded(LocalStack stack) throws Exception {
        try (Connection c = DriverManager.getConnection(stack.jdbcUrl(), stack.dbUser(), stack.dbPassword());
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("select count(*) from job where status = 'SUCCEEDED'")) {
            r.next();
            return r.getInt(1);
        }
    }
}
