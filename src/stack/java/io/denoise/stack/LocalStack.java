package io.denoise.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;

/**
 * Real services for tests and local runs, started as child processes without Docker: Kafka (KRaft,
 * share groups on), PostgreSQL and an S3 server (S3Proxy). See {@code src/stack/README.md}.
 *
 * <pre>{@code
 * try (LocalStack stack = LocalStack.builder().dataDir(dir).build().start()) {
 *     Map<String, String> config = stack.quarkusConfig();
 *     ...
 * }
 * }</pre>
 *
 * <p>The three start in parallel; {@link #start()} returns once each answers. Data survives a restart with
 * the same data directory. Each service can also be stopped ({@link #stop(Component)}), killed with SIGKILL
 * ({@link #kill(Component)}) and started again ({@link #start(Component)}) alone, on the same port with the
 * data it had, while the others keep running:
 *
 * <pre>{@code
 * stack.kill(Component.POSTGRES);   // the server and its backends, SIGKILL
 * stack.start(Component.POSTGRES);  // same port, same cluster: crash recovery, no initdb
 * }</pre>
 * Children never outlive this JVM: {@link #stop()} stops them, a shutdown hook
 * calls it, and each child also exits by itself when this JVM is killed.
 *
 * <p>Data directory layout: {@code logs/<component>.log}, {@code kafka/} (config, {@code data/} log dirs),
 * {@code postgres/data/} (the cluster), {@code s3/blobs/<bucket>/} (objects).
 */
public final class LocalStack implements AutoCloseable {

    /** A service of the stack, for {@link #stop(Component)}, {@link #kill(Component)} and {@link #start(Component)}. */
    public enum Component {
        /** The Kafka broker (KRaft, one node). */
        KAFKA,
        /** The PostgreSQL server. */
        POSTGRES,
        /** The S3 server (S3Proxy). */
        S3
    }

    private final StackHome home;
    private final Path dataDir;
    private final Duration startTimeout;
    private final boolean shutdownHook;
    private final KafkaBroker kafka;
    private final Postgres postgres;
    private final S3Server s3;
    private final Map<String, Map<String, Duration>> startTimes = new ConcurrentHashMap<>();
    private volatile Thread hook;

    private LocalStack(Builder builder) {
        this.home = StackHome.locate();
        this.dataDir = home.projectDir().resolve(builder.dataDir).normalize();
        this.startTimeout = builder.startTimeout;
        this.shutdownHook = builder.shutdownHook;
        Path logs = dataDir.resolve("logs");
        this.kafka = new KafkaBroker(home, dataDir.resolve("kafka"), logs.resolve("kafka.log"),
                Ports.orFree(builder.kafkaPort), builder.recordLockDuration, builder.kafkaProperties);
        this.postgres = new Postgres(home, dataDir.resolve("postgres"), logs.resolve("postgres.log"),
                Ports.orFree(builder.postgresPort));
        this.s3 = new S3Server(home, dataDir.resolve("s3"), logs.resolve("s3.log"), Ports.orFree(builder.s3Port));
    }

    /** @return a builder with a data dir of {@code target/stack-data} and free ports */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts the three services in parallel and waits until each answers. On failure, whatever started is
     * stopped again.
     *
     * @return this
     * @throws StackException naming the component that failed, with the tail of its log
     */
    public synchronized LocalStack start() {
        try {
            Files.createDirectories(dataDir.resolve("logs"));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create " + dataDir, e);
        }
        if (shutdownHook && hook == null) {
            hook = new Thread(this::stopQuietly, "local-stack-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
        }
        long begin = System.nanoTime();
        runAll(components(), c -> {
            Map<String, Duration> phases = c.start(startTimeout);
            report(c, phases);
            return null;
        }, this::stopQuietly);
        System.out.printf("[stack] all up in %.1f s (data in %s)%n", (System.nanoTime() - begin) / 1e9, dataDir);
        return this;
    }

    /**
     * Stops the three services (in parallel) and waits until their processes are gone. Safe to call at any
     * time, also while {@link #start()} runs (which then fails).
     */
    public void stop() {
        runAll(components(), c -> {
            c.stop();
            return null;
        }, () -> { });
        Thread registered = hook;
        if (registered != null && registered != Thread.currentThread()) {
            try {
                Runtime.getRuntime().removeShutdownHook(registered);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or about to
            }
            hook = null;
        }
    }

    /** Same as {@link #stop()}. */
    @Override
    public void close() {
        stop();
    }

    /**
     * Stops one service gracefully (SIGTERM, then SIGKILL after its grace) and waits until its processes are gone;
     * the others keep running. {@link #start(Component)} brings it back.
     *
     * @param component the service
     */
    public void stop(Component component) {
        component(component).stop();
    }

    /**
     * Kills one service with SIGKILL, its main process and every process it started, as a crash would (no clean
     * shutdown: PostgreSQL recovers from its write-ahead log, Kafka recovers its logs at the next start), and
     * waits until they are gone; the others keep running. {@link #start(Component)} brings it back.
     *
     * @param component the service
     */
    public void kill(Component component) {
        StackComponent c = component(component);
        long pid = c.pid();
        c.kill();
        System.out.printf("[stack] %s killed with SIGKILL (pid %d)%n", c.name(), pid);
    }

    /**
     * Starts one service again after {@link #stop(Component)} or {@link #kill(Component)}, on the same port with
     * the same data (no format, no initdb), and waits until it answers.
     *
     * @param component the service
     * @throws StackException when it is running already or does not answer
     */
    public synchronized void start(Component component) {
        StackComponent c = component(component);
        report(c, c.start(startTimeout));
    }

    /**
     * @param component the service
     * @return whether its main process runs
     */
    public boolean isRunning(Component component) {
        return component(component).isRunning();
    }

    /** Stops Kafka alone; {@link #startKafka()} brings it back on the same port with the same data. */
    public void stopKafka() {
        stop(Component.KAFKA);
    }

    /** Starts Kafka again after {@link #stopKafka()} and waits until it answers. */
    public void startKafka() {
        start(Component.KAFKA);
    }

    /** @return Kafka's bootstrap servers, {@code 127.0.0.1:<port>} */
    public String kafkaBootstrap() {
        return kafka.bootstrapServers();
    }

    /** @return the JDBC URL of database {@code denoise} */
    public String jdbcUrl() {
        return postgres.jdbcUrl();
    }

    /** @return the database user, {@code denoise} (owner of the database, not a superuser) */
    public String dbUser() {
        return Postgres.USER;
    }

    /** @return the database password */
    public String dbPassword() {
        return Postgres.PASSWORD;
    }

    /** @return the S3 endpoint, {@code http://127.0.0.1:<port>} (path-style, any region) */
    public String s3Endpoint() {
        return s3.endpoint();
    }

    /** @return the S3 access key id */
    public String s3AccessKey() {
        return S3Server.ACCESS_KEY;
    }

    /** @return the S3 secret key */
    public String s3SecretKey() {
        return S3Server.SECRET_KEY;
    }

    /** @return the data directory */
    public Path dataDir() {
        return dataDir;
    }

    /**
     * @return the application configuration that points at this stack: {@code kafka.bootstrap.servers},
     *     {@code quarkus.datasource.jdbc.url|username|password}, {@code denoise.storage.endpoint|access-key|secret-key}
     */
    public Map<String, String> quarkusConfig() {
        Map<String, String> config = new LinkedHashMap<>();
        config.put("kafka.bootstrap.servers", kafkaBootstrap());
        config.put("quarkus.datasource.jdbc.url", jdbcUrl());
        config.put("quarkus.datasource.username", dbUser());
        config.put("quarkus.datasource.password", dbPassword());
        config.put("denoise.storage.endpoint", s3Endpoint());
        config.put("denoise.storage.access-key", s3AccessKey());
        config.put("denoise.storage.secret-key", s3SecretKey());
        return config;
    }

    /** @return per component, how long each phase of its last start took (classpath, unpack, format/initdb, ready) */
    public Map<String, Map<String, Duration>> startTimes() {
        return Map.copyOf(startTimes);
    }

    /** @return per component, the pid of its main child process (-1 when not running) */
    public Map<String, Long> pids() {
        Map<String, Long> pids = new LinkedHashMap<>();
        components().forEach(c -> pids.put(c.name(), c.pid()));
        return pids;
    }

    /**
     * The local run: starts the stack on fixed ports and optionally the application. See {@link LocalRun}.
     *
     * @param args {@code [--data-dir=DIR] [--kafka-port=N] [--postgres-port=N] [--s3-port=N] [--] [APP COMMAND...]}
     * @throws Exception when the stack cannot start
     */
    public static void main(String[] args) throws Exception {
        LocalRun.main(args);
    }

    private List<StackComponent> components() {
        return List.of(kafka, postgres, s3);
    }

    private StackComponent component(Component component) {
        return switch (component) {
            case KAFKA -> kafka;
            case POSTGRES -> postgres;
            case S3 -> s3;
        };
    }

    private void report(StackComponent component, Map<String, Duration> phases) {
        startTimes.put(component.name(), Map.copyOf(phases));
        Duration total = phases.values().stream().reduce(Duration.ZERO, Duration::plus);
        StringBuilder detail = new StringBuilder();
        phases.forEach((phase, d) -> detail.append(detail.length() == 0 ? "" : ", ")
                .append(phase).append(' ').append(String.format("%.1f s", d.toMillis() / 1000.0)));
        System.out.printf("[stack] %s up in %.1f s (%s), pid %d%n", component.name(), total.toMillis() / 1000.0,
                detail, component.pid());
    }

    private void stopQuietly() {
        try {
            stop();
        } catch (RuntimeException e) {
            System.err.println("[stack] stop failed: " + e);
        }
    }

    /** Runs {@code action} on each component in parallel; on any failure runs {@code onFailure} and rethrows. */
    private static void runAll(List<StackComponent> components, Function<StackComponent, Void> action, Runnable onFailure) {
        ExecutorService pool = Executors.newFixedThreadPool(components.size(), r -> {
            Thread t = new Thread(r, "local-stack");
            t.setDaemon(true);
            return t;
        });
        try {
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            for (StackComponent c : components) {
                futures.add(CompletableFuture.supplyAsync(() -> action.apply(c), pool));
            }
            List<Throwable> failures = new ArrayList<>();
            for (CompletableFuture<Void> f : futures) {
                try {
                    f.join();
                } catch (CompletionException e) {
                    failures.add(e.getCause());
                }
            }
            if (!failures.isEmpty()) {
                onFailure.run();
                RuntimeException first = failures.get(0) instanceof RuntimeException r ? r
                        : new StackException(failures.get(0).toString(), failures.get(0));
                failures.subList(1, failures.size()).forEach(first::addSuppressed);
                throw first;
            }
        } finally {
            pool.shutdown();
        }
    }

    /** Configures a {@link LocalStack}. */
    public static final class Builder {
        private Path dataDir = Path.of("target/stack-data");
        private int kafkaPort;
        private int postgresPort;
        private int s3Port;
        private Duration startTimeout = Duration.ofMinutes(3);
        private Duration recordLockDuration = Duration.ofSeconds(30);
        private final Map<String, String> kafkaProperties = new LinkedHashMap<>();
        private boolean shutdownHook = true;

        private Builder() {
        }

        /**
         * @param dir where logs and the services' data live, relative to the project directory unless absolute;
         *     reused (not reformatted) when it exists
         * @return this
         */
        public Builder dataDir(Path dir) {
            this.dataDir = dir;
            return this;
        }

        /**
         * @param port Kafka's client port, 0 for a free one
         * @return this
         */
        public Builder kafkaPort(int port) {
            this.kafkaPort = port;
            return this;
        }

        /**
         * @param port PostgreSQL's port, 0 for a free one
         * @return this
         */
        public Builder postgresPort(int port) {
            this.postgresPort = port;
            return this;
        }

        /**
         * @param port the S3 server's port, 0 for a free one
         * @return this
         */
        public Builder s3Port(int port) {
            this.s3Port = port;
            return this;
        }

        /**
         * @param timeout how long each service may take to answer once launched (default 3 minutes)
         * @return this
         */
        public Builder startTimeout(Duration timeout) {
            this.startTimeout = timeout;
            return this;
        }

        /**
         * @param duration the broker's default share-group record lock ({@code group.share.record.lock.duration.ms},
         *     default 30 s): how long a delivered record stays with one consumer before redelivery
         * @return this
         */
        public Builder kafkaRecordLockDuration(Duration duration) {
            this.recordLockDuration = duration;
            return this;
        }

        /**
         * @param key a Kafka broker property
         * @param value its value, overriding the stack's own setting
         * @return this
         */
        public Builder kafkaProperty(String key, String value) {
            this.kafkaProperties.put(key, value);
            return this;
        }

        /**
         * @param enabled whether {@link #start()} registers a JVM shutdown hook that stops the stack (default
         *     true; turn off only when the caller orders the shutdown itself)
         * @return this
         */
        public Builder shutdownHook(boolean enabled) {
            this.shutdownHook = enabled;
            return this;
        }

        /** @return the stack, not started */
        public LocalStack build() {
            return new LocalStack(this);
        }
    }
}
