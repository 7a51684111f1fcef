package io.denoise.stack;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.FinalizedVersionRange;
import org.apache.kafka.common.Uuid;

/**
 * A single-node Apache Kafka (KRaft, broker and controller in one JVM) with share groups (KIP-932)
 * enabled.
 *
 * <p>Data lives in {@code <dir>/data} and is formatted only when absent, with the {@code share.version=1}
 * feature. The broker listens on {@code 127.0.0.1:<port>} (PLAINTEXT), the controller on a free port
 * chosen at each start. The broker runs {@code kafka.Kafka} in its own JVM, with the classpath of
 * {@code src/stack/kafka/pom.xml}.
 */
final class KafkaBroker extends StackComponent {

    /** The feature level that turns share groups on; the readiness check insists on it. */
    static final String SHARE_FEATURE = "share.version";

    private static final Duration STOP_GRACE = Duration.ofSeconds(20);
    private static final Duration FORMAT_TIMEOUT = Duration.ofMinutes(2);

    private final Duration recordLockDuration;
    private final Map<String, String> overrides;

    /**
     * @param home where the classpath comes from
     * @param dir the broker's directory (config and data)
     * @param log its log file
     * @param port the client port (fixed for the broker's life, across restarts)
     * @param recordLockDuration how long a share-group consumer holds a delivered record
     *     ({@code group.share.record.lock.duration.ms})
     * @param overrides further broker properties, applied last
     */
    KafkaBroker(StackHome home, Path dir, Path log, int port, Duration recordLockDuration, Map<String, String> overrides) {
        super("kafka", "Kafka", "kafka", STOP_GRACE, home, dir, log, port);
        this.recordLockDuration = recordLockDuration;
        this.overrides = Map.copyOf(overrides);
    }

    /** @return the bootstrap servers clients use */
    String bootstrapServers() {
        return "127.0.0.1:" + port;
    }

    /** Writes the config (with a fresh controller port), formats the data directory when absent. */
    @Override
    protected List<String> prepare(List<Path> classpath, Phases phases) {
        Path config = writeConfig(Ports.orFree(0));
        List<String> jvm = jvmOptions(writeLogConfig());
        if (!Files.exists(dataDir().resolve("meta.properties"))) {
            ChildProcess.run("Kafka storage format",
                    home.javaCommand(jvm, classpath, "kafka.tools.StorageTool", "format",
                            "--cluster-id", Uuid.randomUuid().toString(), "--config", config.toString(),
                            "--feature", SHARE_FEATURE + "=1"),
                    log, Map.of(), FORMAT_TIMEOUT);
            phases.done("format");
        }
        return home.javaCommand(jvm, classpath, "kafka.Kafka", config.toString());
    }

    @Override
    protected void awaitReady(ChildProcess child, Duration timeout) {
        try (ReadinessProbe probe = new ReadinessProbe()) {
            child.awaitReady(timeout, probe::answers);
        }
    }

    /**
     * The broker answers when its port accepts connections, it reports its node, and share groups are
     * finalized. The admin client is created only once the port is open, to keep its retries out of the log.
     */
    private final class ReadinessProbe implements AutoCloseable {
        private Admin admin;

        boolean answers() throws Exception {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            }
            if (admin == null) {
                admin = Admin.create(Map.of(
                        AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers(),
                        AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 3000,
                        AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000));
            }
            if (admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
                return false;
            }
            FinalizedVersionRange share = admin.describeFeatures().featureMetadata().get(5, TimeUnit.SECONDS)
                    .finalizedFeatures().get(SHARE_FEATURE);
            if (share == null || share.maxVersionLevel() < 1) {
                throw new StackException("Kafka is up but share groups are off (" + SHARE_FEATURE + " = "
                        + (share == null ? "unset" : share.maxVersionLevel()) + "); was " + dataDir()
                        + " formatted by something else? Delete it to reformat." + logTail());
            }
            return true;
        }

        @Override
        public void close() {
            if (admin != null) {
                admin.close(Duration.ofSeconds(2));
            }
        }
    }

    private Path dataDir() {
        return dir.resolve("data");
    }

    private Path writeConfig(int controllerPort) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("log.dirs", dataDir().toString());
        p.put("num.partitions", "1");
        p.put("auto.create.topics.enable", "true");
        p.put("group.initial.rebalance.delay.ms", "0");
        // Internal topics of a single node: replication factor 1 and few partitions (quick creation).
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "1");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "1");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("share.coordinator.state.topic.num.partitions", "1");
        // Share groups: the lock a consumer holds on a delivered record before it is redelivered.
        long lockMs = recordLockDuration.toMillis();
        p.put("group.share.record.lock.duration.ms", Long.toString(lockMs));
        p.put("group.share.min.record.lock.duration.ms", Long.toString(Math.min(lockMs, 1000)));
        p.put("group.share.max.record.lock.duration.ms", Long.toString(Math.max(lockMs, 60_000)));
        p.putAll(overrides);
        StringBuilder text = new StringBuilder("# Written by io.denoise.stack.KafkaBroker at each start.\n");
        p.forEach((key, value) -> text.append(key).append('=').append(value).append('\n'));
        return write("server.properties", text.toString());
    }

    private Path writeLogConfig() {
        return write("log4j2.properties", """
                status = warn
                appender.out.type = Console
                appender.out.name = OUT
                appender.out.layout.type = PatternLayout
                appender.out.layout.pattern = [%d] %p %m (%c)%n
                rootLogger.level = INFO
                rootLogger.appenderRef.out.ref = OUT
                logger.controller.name = org.apache.kafka.controller
                logger.controller.level = WARN
                logger.raft.name = org.apache.kafka.raft
                logger.raft.level = WARN
                logger.state.name = state.change.logger
                logger.state.level = WARN
                """);
    }

    private static List<String> jvmOptions(Path logConfig) {
        return List.of("-Xms128m", "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
                "-Dlog4j2.configurationFile=" + logConfig);
    }
}
