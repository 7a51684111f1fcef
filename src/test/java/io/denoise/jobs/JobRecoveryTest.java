package io.denoise.jobs;

import io.denoise.api.TestKeys;
import io.denoise.api.JobServiceTest;
import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.denoise.api.JobServiceTest.awaitStatus;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Jobs stranded with no Kafka record left end without a human: recovery (on a one-second interval and a
 * ten-second staleness in tests) re-drives them or fails them with a reason. The stranded states are made
 * directly in the database, the way an outage leaves them, against the real stack.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class JobRecoveryTest {

    @ConfigProperty(name = "quarkus.datasource.jdbc.url")
    String jdbcUrl;

    @ConfigProperty(name = "denoise.worker.max-batch-jobs")
    int maxBatchJobs;

    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    private String template;

    /** A job that ran normally: the group's start offset is past offset 0 and its parameters are a template. */
    @BeforeEach
    void runOneJob() throws Exception {
        TestKeys.useDefault();
        template = given().contentType(ContentType.JSON).body("{\"prompt\":\"a red circle\",\"numInferenceSteps\":2,\"seed\":4}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        awaitStatus(template, "SUCCEEDED");
    }

    @Test
    void aQueuedJobWhoseRecordWasArchivedIsRedrivenAndSucceeds() throws Exception {
        UUID id = strand("QUEUED", 0, null, 0L);
        Response done = awaitStatus(id.toString(), "SUCCEEDED");
        assertEquals(1, done.<java.util.List<?>>path("images").size());
        assertEquals(1, column(id, "redrives"));
    }

    @Test
    void aRunningJobWhoseWorkerVanishedWithItsRecordIsRedrivenAndSucceeds() throws Exception {
        UUID id = strand("RUNNING", 1, "now() - interval '1 hour'", 0L);
        Response done = awaitStatus(id.toString(), "SUCCEEDED");
        assertEquals(2, (int) done.path("attempt"));
        assertEquals(1, column(id, "redrives"));
    }

    @Test
    void aStrandedJobThatUsedUpItsAttemptsFailsWithThatReason() throws Exception {
        UUID id = strand("RUNNING", 3, "now() - interval '1 hour'", 0L);
        Response failed = awaitStatus(id.toString(), "FAILED");
        assertEquals(JobStore.ATTEMPTS_EXHAUSTED, failed.path("error.code"));
    }

    @Test
    void aStrandedJobWhoseRecordWasLostTooOftenFailsAsUndeliverable() throws Exception {
        UUID id = strand("QUEUED", 0, null, 0L);
        try (Connection db = db(); PreparedStatement update = db.prepareStatement("update job set redrives = 5 where id = ?")) {
            update.setObject(1, id);
            update.executeUpdate();
        }
        Response failed = awaitStatus(id.toString(), "FAILED");
        assertEquals(JobRecovery.UNDELIVERABLE, failed.path("error.code"));
    }

    @Test
    void aJobWaitingLongBehindAnotherIsLeftAloneBecauseItsRecordIsStillComing() throws Exception {
        List<String> blockers = JobServiceTest.fillTheWorker(maxBatchJobs,
                "{\"prompt\":\"a red circle\",\"numInferenceSteps\":150,\"width\":256,\"height\":256,\"numImages\":4}");
        String waiting = given().contentType(ContentType.JSON).body("{\"prompt\":\"a blue circle\",\"numInferenceSteps\":2}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        UUID id = UUID.fromString(waiting);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (column(id, "case when dispatched_at is null then 0 else 1 end") == 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        try (Connection db = db(); PreparedStatement update = db.prepareStatement(
                "update job set dispatched_at = now() - interval '1 hour', created_at = now() - interval '1 hour' where id = ?")) {
            update.setObject(1, id);
            update.executeUpdate();
        }
        Thread.sleep(3000);
        for (String blocker : blockers) {
            assertEquals("RUNNING", given().get("/v1/jobs/" + blocker).path("status"), "a blocker ended too early to prove anything");
        }
        assertEquals("QUEUED", given().get("/v1/jobs/" + waiting).path("status"), "the job waits behind the blockers");
        for (String blocker : blockers) {
            given().delete("/v1/jobs/" + blocker).then().statusCode(202);
        }
        Response done = awaitStatus(waiting, "SUCCEEDED");
        assertEquals(0, column(id, "redrives"));
        assertEquals(1, (int) done.path("attempt"));
    }

    @Test
    void aRecordForAJobThatUsedUpItsAttemptsFailsTheJobInsteadOfStartingAFourthAttempt() throws Exception {
        UUID id = strand("RUNNING", 3, "now() - interval '1 second'", 1_000_000_000L);
        try (Connection db = db(); PreparedStatement update = db.prepareStatement("update job set dispatched_at = now() where id = ?")) {
            update.setObject(1, id);
            update.executeUpdate();
        }
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap),
                new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>("denoise.jobs.tiny-random", id.toString(),
                    "{\"jobId\":\"" + id + "\",\"model\":\"tiny-random\"}")).get();
        }
        Response failed = awaitStatus(id.toString(), "FAILED");
        assertEquals(JobStore.ATTEMPTS_EXHAUSTED, failed.path("error.code"));
        assertEquals(3, (int) failed.path("attempt"));
    }

    /**
     * A copy of the template job in the given state, dispatched an hour ago as record {@code offset} of
     * partition 0, with no outbox row.
     */
    private UUID strand(String status, int attempt, String leaseUntil, long offset) throws Exception {
        UUID id = UUID.randomUUID();
        try (Connection db = db(); PreparedStatement insert = db.prepareStatement("""
                insert into job (id, tenant, model, status, params, total_steps, created_at, attempt, lease_until,
                                 dispatched_at, record_partition, record_offset, started_at)
                select ?, tenant, model, ?, params, total_steps, now() - interval '1 hour', ?, %s,
                       now() - interval '1 hour', 0, ?, case when ? = 'RUNNING' then now() - interval '1 hour' end
                  from job where id = ?""".formatted(leaseUntil == null ? "null" : leaseUntil))) {
            insert.setObject(1, id);
            insert.setString(2, status);
            insert.setInt(3, attempt);
            insert.setLong(4, offset);
            insert.setString(5, status);
            insert.setObject(6, UUID.fromString(template));
            assertEquals(1, insert.executeUpdate());
        }
        return id;
    }

    private int column(UUID id, String name) throws Exception {
        try (Connection db = db(); PreparedStatement select = db.prepareStatement("select " + name + " from job where id = ?")) {
            select.setObject(1, id);
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private Connection db() throws Exception {
        return DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
    }
}
