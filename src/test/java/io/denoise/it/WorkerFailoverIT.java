package io.denoise.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.denoise.stack.LocalStack;
import io.minio.ListObjectsArgs;
import io.minio.MinioClient;
import io.minio.Result;
import io.minio.messages.Item;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Two worker processes and an API process on one model topic, as separate JVMs against a real stack. */
class WorkerFailoverIT {

    private static final String LONG_JOB = "{\"prompt\":\"a red circle\",\"numInferenceSteps\":150,\"width\":256,\"height\":256,\"numImages\":2,\"seed\":77}";
    private static LocalStack stack;
    private static AppProcess api;
    private static final AppProcess[] workers = new AppProcess[2];
    private static int starts;
    private static Api client;

    @BeforeAll
    static void start() throws Exception {
        Path data = Path.of("target", "stack-it", "failover-" + System.currentTimeMillis());
        stack = LocalStack.builder().dataDir(data).build().start();
        api = AppProcess.start("failover-api", stack, "api", Map.of(), true);
        client = new Api(api);
    }

    @BeforeEach
    void workersRunning() throws Exception {
        for (int i = 0; i < workers.length; i++) {
            if (workers[i] == null || !workers[i].isAlive()) {
                // a log per process started: a killed worker's log is kept beside its successor's
                workers[i] = AppProcess.start("failover-worker-" + (i + 1) + "-" + (++starts), stack, "worker",
                        Map.of("denoise.worker.id", "worker-" + (i + 1), "denoise.worker.shutdown-grace", "2s"), true);
            }
        }
    }

    @AfterAll
    static void stop() throws Exception {
        for (AppProcess w : workers) {
            if (w != null) {
                w.close();
            }
        }
        if (api != null) {
            api.close();
        }
        if (stack != null) {
            stack.stop();
        }
    }

    @Test
    void shortJobsSubmittedWhileALongOneRunsNeverWaitForIt() throws Exception {
        // each short job joins the long one's batch on its worker, or goes to the other worker: it never waits for
        // the long job. A lane whose consumer went on fetching after it took the long job (see JobConsumer) would
        // acquire a short job and hold it until the long one ended.
        String longJob = client.submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":150,\"width\":256,\"height\":256,\"numImages\":4}");
        client.awaitStatus(longJob, "RUNNING", Duration.ofSeconds(60));
        int done = 0;
        // short jobs one after another until the long one is most of the way through
        while (client.job(longJob).path("progress").path("step").asInt() < 110 && done < 20) {
            String shortJob = client.submit("{\"prompt\":\"a blue square\",\"numInferenceSteps\":2}");
            JsonNode finished = client.awaitStatus(shortJob, "SUCCEEDED", Duration.ofSeconds(60));
            assertEquals("RUNNING", client.job(longJob).path("status").asText(),
                    "short job " + done + " (on " + finished.path("worker").asText() + ") waited for the long job");
            done++;
            Thread.sleep(300);
        }
        assertTrue(done >= 4, "only " + done + " short jobs ran beside the long one");
        delete(longJob);
    }

    @Test
    void aWorkerKilledMidJobHasItsJobFinishedByTheOtherWithOneSetOfImages() throws Exception {
        String id = client.submit(LONG_JOB);
        String victim = workerMakingProgressOn(id);
        workerNamed(victim).kill();
        JsonNode done = client.awaitStatus(id, "SUCCEEDED", Duration.ofSeconds(180));
        assertEquals(2, done.path("attempt").asInt());
        assertNotEquals(victim, done.path("worker").asText());
        assertEquals(List.of("tenants/local/jobs/" + id + "/0.png", "tenants/local/jobs/" + id + "/1.png"), objects("tenants/local/jobs/" + id + "/"));
        assertEquals("77", done.path("images").get(0).path("seed").asText());
    }

    @Test
    void aWorkerStoppedWithSigtermReleasesItsJobAndTheOtherTakesItOverAtOnce() throws Exception {
        String id = client.submit(LONG_JOB);
        String leaving = workerMakingProgressOn(id);
        long stoppedAt = System.nanoTime();
        assertTrue(workerNamed(leaving).terminate(Duration.ofSeconds(30)),
                "the worker exits by itself within 30 s of SIGTERM (grace 2 s)");
        client.await(id, j -> j.path("attempt").asInt() == 2, Duration.ofSeconds(60), "taken over");
        double seconds = (System.nanoTime() - stoppedAt) / 1e9;
        // a released job is redelivered and claimed at once; after SIGKILL the same takes the 30 s broker lock
        assertTrue(seconds < 15, "taken over " + seconds + " s after SIGTERM, before the 15 s lease could expire");
        JsonNode done = client.awaitStatus(id, "SUCCEEDED", Duration.ofSeconds(180));
        assertNotEquals(leaving, done.path("worker").asText());
        assertEquals(List.of("tenants/local/jobs/" + id + "/0.png", "tenants/local/jobs/" + id + "/1.png"), objects("tenants/local/jobs/" + id + "/"));
    }

    /** Waits until the job has run a few steps and returns the worker running it. */
    private String workerMakingProgressOn(String id) throws Exception {
        return client.await(id, j -> j.path("progress").path("step").asInt() >= 3, Duration.ofSeconds(60), "made progress")
                .path("worker").asText();
    }

    private static AppProcess workerNamed(String name) {
        return workers[name.equals("worker-1") ? 0 : 1];
    }

    private List<String> objects(String prefix) throws Exception {
        MinioClient s3 = MinioClient.builder().endpoint(stack.s3Endpoint())
                .credentials(stack.s3AccessKey(), stack.s3SecretKey()).build();
        List<String> keys = new ArrayList<>();
        for (Result<Item> item : s3.listObjects(ListObjectsArgs.builder().bucket("denoise").prefix(prefix).recursive(true).build())) {
            keys.add(item.get().objectName());
        }
        keys.sort(String::compareTo);
        return keys;
    }

    private static void delete(String id) throws Exception {
        HttpClient.newHttpClient().send(api.request("/v1/jobs/" + id).DELETE().build(),
                HttpResponse.BodyHandlers.discarding());
    }
}
