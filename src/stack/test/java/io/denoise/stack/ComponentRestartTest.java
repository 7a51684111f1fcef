package io.denoise.stack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.denoise.stack.LocalStack.Component;
import io.minio.BucketExistsArgs;
import io.minio.GetObjectArgs;
import io.minio.GetObjectResponse;
import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Each service of one stack (fresh data under {@code target/stack-test/component-restart-test}) is killed with
 * SIGKILL or stopped alone and started again: same port, the data written before is there, the other services
 * never noticed. The tests share the stack but not their data, and each starts with every service running, so
 * they run in any order.
 */
class ComponentRestartTest {

    private static final Path DATA = Path.of("target/stack-test/component-restart-test");

    private static LocalStack stack;

    @BeforeAll
    static void startStack() {
        ChildProcess.deleteTree(StackHome.locate().projectDir().resolve(DATA));
        stack = LocalStack.builder().dataDir(DATA).build().start();
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.stop();
        }
    }

    /** A test that failed half-way may have left a service down; every test starts with all three up. */
    @BeforeEach
    void everyServiceRuns() {
        for (Component c : Component.values()) {
            if (!stack.isRunning(c)) {
                stack.start(c);
            }
        }
    }

    @Test
    void postgresKilledWithSigkillRecoversItsCommittedRowsOnTheSamePortWithoutInitdb() throws Exception {
        String table = "kept_" + UUID.randomUUID().toString().replace("-", "");
        String url = stack.jdbcUrl();
        try (Connection c = StackClients.jdbc(stack); Statement s = c.createStatement()) {
            s.execute("create table " + table + " (id int primary key, prompt text not null)");
            s.execute("insert into " + table + " values (1, 'a cat')");
        }
        Connection open = StackClients.jdbc(stack);
        long pid = stack.pids().get("postgres");
        List<ProcessHandle> family = ProcessHandle.of(pid).orElseThrow().descendants().toList();
        assertFalse(family.isEmpty(), "the server and a backend for the open connection run under the watchdog");
        Map<Component, Long> others = otherPids(Component.POSTGRES);
        long logMark = Files.size(postgresLog());

        stack.kill(Component.POSTGRES);

        assertFalse(stack.isRunning(Component.POSTGRES));
        for (ProcessHandle p : family) {
            assertFalse(Posix.isRunning(p.pid()), "process " + p.pid() + " of PostgreSQL is gone");
        }
        assertThrows(IOException.class, () -> StackClients.connect(url.replaceFirst("jdbc:postgresql://([^/]+)/.*", "$1")),
                "nothing listens while PostgreSQL is down");
        assertFalse(open.isValid(2), "the open connection died with its backend");
        open.close();

        stack.start(Component.POSTGRES);

        assertEquals(url, stack.jdbcUrl());
        assertFalse(stack.startTimes().get("postgres").containsKey("initdb"), "the cluster was reused");
        try (Connection c = StackClients.jdbc(stack); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("select prompt from " + table + " where id = 1")) {
            assertTrue(r.next());
            assertEquals("a cat", r.getString(1));
        }
        String restart = logSince(postgresLog(), logMark);
        assertTrue(restart.contains("automatic recovery in progress"), "the restart ran crash recovery:\n" + restart);
        assertEquals(others, otherPids(Component.POSTGRES), "Kafka and S3 kept running");
    }

    @Test
    void kafkaKilledWithSigkillKeepsItsRecordsOnTheSamePort() throws Exception {
        String topic = "kept-" + UUID.randomUUID();
        String bootstrap = stack.kafkaBootstrap();
        StackClients.createTopic(stack, topic, topic + "-group");
        StackClients.produce(stack, topic, "job-1", "before the crash");
        Map<Component, Long> others = otherPids(Component.KAFKA);

        stack.kill(Component.KAFKA);

        assertFalse(stack.isRunning(Component.KAFKA));
        assertThrows(IOException.class, () -> StackClients.connect(bootstrap), "nothing listens while Kafka is down");

        stack.start(Component.KAFKA);

        assertEquals(bootstrap, stack.kafkaBootstrap());
        assertFalse(stack.startTimes().get("kafka").containsKey("format"), "the log dirs were reused");
        assertEquals("before the crash", StackClients.readFirst(stack, topic).value());
        StackClients.produce(stack, topic, "job-2", "after the crash");
        StackClients.Accepted accepted = StackClients.acceptWithShareConsumer(stack, topic, topic + "-group", "after the crash");
        assertEquals("job-2", accepted.record().key());
        assertEquals(others, otherPids(Component.KAFKA), "PostgreSQL and S3 kept running");
    }

    @Test
    void s3KilledWithSigkillServesItsObjectsOnTheSamePort() throws Exception {
        String bucket = "kept-" + UUID.randomUUID().toString().substring(0, 8);
        byte[] image = ("\u0089PNG " + bucket).getBytes(StandardCharsets.ISO_8859_1);
        String endpoint = stack.s3Endpoint();
        minio().makeBucket(MakeBucketArgs.builder().bucket(bucket).build());
        minio().putObject(PutObjectArgs.builder().bucket(bucket).object("jobs/1/0.png")
                .stream(new ByteArrayInputStream(image), image.length, -1).contentType("image/png").build());
        Map<Component, Long> others = otherPids(Component.S3);

        stack.kill(Component.S3);

        assertFalse(stack.isRunning(Component.S3));
        assertThrows(IOException.class, () -> StackClients.connect(endpoint.replace("http://", "")), "nothing listens while S3 is down");

        stack.start(Component.S3);

        assertEquals(endpoint, stack.s3Endpoint());
        assertTrue(minio().bucketExists(BucketExistsArgs.builder().bucket(bucket).build()));
        try (GetObjectResponse object = minio().getObject(GetObjectArgs.builder().bucket(bucket).object("jobs/1/0.png").build())) {
            assertArrayEquals(image, object.readAllBytes());
        }
        assertEquals(others, otherPids(Component.S3), "Kafka and PostgreSQL kept running");
    }

    @Test
    void eachServiceStoppedGracefullyStartsAgainWithANewProcessOnTheSamePort() throws Exception {
        String table = "stopped_" + UUID.randomUUID().toString().replace("-", "");
        try (Connection c = StackClients.jdbc(stack); Statement s = c.createStatement()) {
            s.execute("create table " + table + " (id int primary key)");
            s.execute("insert into " + table + " values (7)");
        }
        Map<Component, String> endpoints = endpoints();
        long logMark = Files.size(postgresLog());
        for (Component c : Component.values()) {
            long before = pid(c);

            stack.stop(c);
            assertFalse(stack.isRunning(c), c + " is down");
            stack.start(c);

            assertTrue(stack.isRunning(c), c + " is up");
            assertNotEquals(before, pid(c), c + " runs in a new process");
        }
        assertEquals(endpoints, endpoints());
        String restart = logSince(postgresLog(), logMark);
        assertTrue(restart.contains("database system was shut down at"), "PostgreSQL shut down cleanly:\n" + restart);
        assertFalse(restart.contains("automatic recovery in progress"), "a graceful stop needs no recovery:\n" + restart);
        try (Connection c = StackClients.jdbc(stack); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("select id from " + table)) {
            assertTrue(r.next());
            assertEquals(7, r.getInt(1));
        }
    }

    private static Path postgresLog() {
        return stack.dataDir().resolve("logs/postgres.log");
    }

    /** @return what was appended to {@code log} after it was {@code mark} bytes long */
    private static String logSince(Path log, long mark) throws IOException {
        byte[] all = Files.readAllBytes(log);
        return new String(all, (int) mark, all.length - (int) mark, StandardCharsets.UTF_8);
    }

    private static long pid(Component c) {
        return stack.pids().get(switch (c) {
            case KAFKA -> "kafka";
            case POSTGRES -> "postgres";
            case S3 -> "s3";
        });
    }

    private static Map<Component, Long> otherPids(Component except) {
        Map<Component, Long> pids = new EnumMap<>(Component.class);
        for (Component c : Component.values()) {
            if (c != except) {
                pids.put(c, pid(c));
            }
        }
        return pids;
    }

    private static Map<Component, String> endpoints() {
        return Map.of(Component.KAFKA, stack.kafkaBootstrap(), Component.POSTGRES, stack.jdbcUrl(),
                Component.S3, stack.s3Endpoint());
    }

    private static MinioClient minio() {
        return MinioClient.builder().endpoint(stack.s3Endpoint())
                .credentials(stack.s3AccessKey(), stack.s3SecretKey()).region("us-east-1").build();
    }

}
