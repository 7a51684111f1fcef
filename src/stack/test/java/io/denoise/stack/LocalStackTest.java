package io.denoise.stack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.minio.BucketExistsArgs;
import io.minio.GetObjectArgs;
import io.minio.GetObjectResponse;
import io.minio.GetPresignedObjectUrlArgs;
import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import io.minio.http.Method;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.SharePartitionOffsetInfo;
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
 * Starts the real stack once (fresh data under {@code target/stack-test/local-stack-test}) and checks each
 * service through the clients the application uses, Kafka restarted alone, and the whole stack restarted on its
 * data. Each test uses names of its own and starts with every service up, so they run in any order.
 */
class LocalStackTest {

    private static final Path DATA = Path.of("target/stack-test/local-stack-test");
    private static final byte[] IMAGE = "\u0089PNG fake image bytes".getBytes(StandardCharsets.ISO_8859_1);

    private static LocalStack stack;

    @BeforeAll
    static void startStack() {
        ChildProcess.deleteTree(StackHome.locate().projectDir().resolve(DATA));
        stack = newStack().start();
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.stop();
        }
    }

    /** Each test starts with every service up, whatever an earlier one left behind. */
    @BeforeEach
    void everyServiceUp() {
        for (LocalStack.Component component : LocalStack.Component.values()) {
            if (!stack.isRunning(component)) {
                stack.start(component);
            }
        }
    }

    private static LocalStack newStack() {
        return LocalStack.builder().dataDir(DATA).kafkaRecordLockDuration(Duration.ofSeconds(15)).build();
    }

    @Test
    void shareConsumerReceivesAndAcceptsAProducedRecord() throws Exception {
        StackClients.createTopic(stack, "accept-jobs", "accept-workers");
        StackClients.produce(stack, "accept-jobs", "job-1", "render a cat");

        StackClients.Accepted accepted = StackClients.acceptWithShareConsumer(stack, "accept-jobs", "accept-workers", "render a cat");

        assertEquals("job-1", accepted.record().key());
        assertEquals(1, accepted.record().deliveryCount().orElseThrow().intValue());
        assertFalse(accepted.commit().isEmpty(), "the acknowledgement was committed");
        accepted.commit().forEach((partition, error) ->
                assertTrue(error.isEmpty(), "ACCEPT of " + partition + " failed: " + error));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Optional<Long> lag = Optional.empty();
        while (!lag.equals(Optional.of(0L)) && System.nanoTime() < deadline) {
            SharePartitionOffsetInfo info = StackClients.shareGroupOffsets(stack, "accept-workers").get(new TopicPartition("accept-jobs", 0));
            lag = info == null ? Optional.empty() : info.lag();
            Thread.sleep(200);
        }
        assertEquals(Optional.of(0L), lag, "no record of the partition is left to deliver to the group");
    }

    @Test
    void postgresServesTheApplicationDatabase() throws Exception {
        try (Connection c = StackClients.jdbc(stack); Statement s = c.createStatement()) {
            s.execute("create table served (id bigint primary key, prompt text not null)");
            s.execute("insert into served values (1, 'a cat')");
            try (ResultSet r = s.executeQuery("select current_user, current_database(), "
                    + "(select rolsuper from pg_roles where rolname = current_user), "
                    + "(select prompt from served where id = 1)")) {
                assertTrue(r.next());
                assertEquals("denoise", r.getString(1));
                assertEquals("denoise", r.getString(2));
                assertFalse(r.getBoolean(3), "the application user is not a superuser");
                assertEquals("a cat", r.getString(4));
            }
        }
    }

    @Test
    void s3StoresObjectsAndServesPresignedUrls() throws Exception {
        MinioClient minio = MinioClient.builder()
                .endpoint(stack.s3Endpoint())
                .credentials(stack.s3AccessKey(), stack.s3SecretKey())
                .region("us-east-1")
                .build();
        minio.makeBucket(MakeBucketArgs.builder().bucket("images").build());
        assertTrue(minio.bucketExists(BucketExistsArgs.builder().bucket("images").build()));
        minio.putObject(PutObjectArgs.builder().bucket("images").object("jobs/1.png")
                .stream(new ByteArrayInputStream(IMAGE), IMAGE.length, -1).contentType("image/png").build());

        try (GetObjectResponse object = minio.getObject(GetObjectArgs.builder().bucket("images").object("jobs/1.png").build())) {
            assertArrayEquals(IMAGE, object.readAllBytes());
        }

        String url = minio.getPresignedObjectUrl(GetPresignedObjectUrlArgs.builder()
                .method(Method.GET).bucket("images").object("jobs/1.png").expiry(10, TimeUnit.MINUTES).build());
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode());
        assertArrayEquals(IMAGE, response.body());
        assertEquals("image/png", response.headers().firstValue("Content-Type").orElse(""));

        HttpResponse<Void> forged = http.send(HttpRequest.newBuilder(URI.create(url.replace("1.png", "2.png"))).build(),
                HttpResponse.BodyHandlers.discarding());
        assertEquals(403, forged.statusCode(), "a URL signed for another object is refused");
    }

    @Test
    void quarkusConfigPointsAtTheStack() {
        Map<String, String> config = stack.quarkusConfig();
        assertEquals(stack.kafkaBootstrap(), config.get("kafka.bootstrap.servers"));
        assertEquals(stack.jdbcUrl(), config.get("quarkus.datasource.jdbc.url"));
        assertEquals("denoise", config.get("quarkus.datasource.username"));
        assertEquals("denoise", config.get("quarkus.datasource.password"));
        assertEquals(stack.s3Endpoint(), config.get("denoise.storage.endpoint"));
        assertEquals("denoise", config.get("denoise.storage.access-key"));
        assertEquals("denoise-secret", config.get("denoise.storage.secret-key"));
        assertTrue(Files.isRegularFile(stack.dataDir().resolve("logs/kafka.log")));
    }

    @Test
    void aSecondStackOnTheSamePortFailsClearly() {
        int kafkaPort = Integer.parseInt(stack.kafkaBootstrap().split(":")[1]);
        LocalStack second = LocalStack.builder().dataDir(DATA.resolveSibling("local-stack-test-second"))
                .kafkaPort(kafkaPort).build();

        StackException error = assertThrows(StackException.class, second::start);

        assertTrue(error.getMessage().contains("Port " + kafkaPort + " for kafka is in use"), error.getMessage());
        assertTrue(second.pids().values().stream().allMatch(pid -> pid == -1), "the rest of the second stack is stopped");
        ChildProcess.deleteTree(second.dataDir());
    }

    @Test
    void kafkaStopsAndStartsAloneOnTheSamePort() throws Exception {
        String bootstrap = stack.kafkaBootstrap();
        long postgresPid = stack.pids().get("postgres");
        stack.stopKafka();
        assertEquals(-1L, stack.pids().get("kafka"));
        assertThrows(IOException.class, () -> StackClients.connect(bootstrap), "nothing listens while Kafka is down");
        try (Connection c = StackClients.jdbc(stack)) {
            assertTrue(c.isValid(5), "PostgreSQL is unaffected");
        }

        stack.startKafka();

        assertEquals(bootstrap, stack.kafkaBootstrap());
        assertEquals(postgresPid, stack.pids().get("postgres"));
        StackClients.createTopic(stack, "restart-jobs", "restart-workers");
        StackClients.produce(stack, "restart-jobs", "job-2", "render a dog");
        StackClients.Accepted accepted = StackClients.acceptWithShareConsumer(stack, "restart-jobs", "restart-workers", "render a dog");
        assertEquals("job-2", accepted.record().key());
    }

    @Test
    void restartWithTheSameDataDirKeepsTheData() throws Exception {
        StackClients.createTopic(stack, "kept", "kept-group");
        StackClients.produce(stack, "kept", "k", "still here");
        try (Connection c = StackClients.jdbc(stack); Statement s = c.createStatement()) {
            s.execute("create table kept (id bigint primary key, prompt text not null)");
            s.execute("insert into kept values (1, 'a cat')");
        }
        MinioClient before = MinioClient.builder().endpoint(stack.s3Endpoint())
                .credentials(stack.s3AccessKey(), stack.s3SecretKey()).region("us-east-1").build();
        before.makeBucket(MakeBucketArgs.builder().bucket("kept").build());
        before.putObject(PutObjectArgs.builder().bucket("kept").object("jobs/1.png")
                .stream(new ByteArrayInputStream(IMAGE), IMAGE.length, -1).contentType("image/png").build());
        Map<String, Long> pids = stack.pids();

        stack.stop();
        for (long pid : pids.values()) {
            assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "pid " + pid + " is gone");
        }
        stack = newStack().start();

        try (Connection c = StackClients.jdbc(stack); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("select prompt from kept where id = 1")) {
            assertTrue(r.next());
            assertEquals("a cat", r.getString(1));
        }
        MinioClient minio = MinioClient.builder().endpoint(stack.s3Endpoint())
                .credentials(stack.s3AccessKey(), stack.s3SecretKey()).region("us-east-1").build();
        try (GetObjectResponse object = minio.getObject(GetObjectArgs.builder().bucket("kept").object("jobs/1.png").build())) {
            assertArrayEquals(IMAGE, object.readAllBytes());
        }
        try (Admin admin = StackClients.admin(stack)) {
            assertTrue(admin.listTopics().names().get(30, TimeUnit.SECONDS).contains("kept"));
        }
        assertEquals("still here", StackClients.readFirst(stack, "kept").value());
        assertNotEquals(-1L, stack.pids().get("kafka"));
    }

}
