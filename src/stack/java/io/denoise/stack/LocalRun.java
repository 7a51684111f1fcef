package io.denoise.stack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The local run behind {@link LocalStack#main}: starts the stack on fixed ports (Kafka 9092, PostgreSQL
 * 5433, S3 9000) with its data in {@code .denoise/}, prints the endpoints, then optionally runs the
 * application against it. On Ctrl-C (SIGINT) or SIGTERM the application stops first, then the stack.
 *
 * <p>Options (each also a system property {@code denoise.stack.<name>}): {@code --data-dir=DIR},
 * {@code --kafka-port=N}, {@code --postgres-port=N}, {@code --s3-port=N}, and {@code --exit-with-parent=true},
 * which stops everything the same way when the process that started this one exits (what {@code ./mvnw -Prun}
 * asks for, so that killing Maven alone, as an IDE's stop button does, leaves nothing running; off by default,
 * so a launcher started in the background from a shell that then exits keeps running). Everything after them
 * (or after {@code --}) is the application's command, e.g. {@code java -jar target/quarkus-app/quarkus-run.jar}.
 */
final class LocalRun {

    /** Printed once every service answers, before the endpoints. */
    static final String READY = "[stack] ready";

    private static final long APP_STOP_SECONDS = 30;

    private LocalRun() {
    }

    /**
     * @param args options, then the optional application command
     * @throws InterruptedException if interrupted while waiting
     */
    static void main(String[] args) throws InterruptedException {
        Map<String, String> options = new LinkedHashMap<>(Map.of(
                "data-dir", ".denoise", "kafka-port", "9092", "postgres-port", "5433", "s3-port", "9000",
                "exit-with-parent", "false"));
        options.replaceAll((name, value) -> System.getProperty("denoise.stack." + name, value));
        List<String> command = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--")) {
                command.addAll(Arrays.asList(args).subList(i + 1, args.length));
                break;
            }
            if (!arg.startsWith("--")) {
                command.addAll(Arrays.asList(args).subList(i, args.length));
                break;
            }
            String[] kv = arg.substring(2).split("=", 2);
            if (kv.length != 2 || !options.containsKey(kv[0])) {
                System.err.println("Unknown option " + arg + "; known: " + options.keySet().stream().map(k -> "--" + k + "=...").toList());
                System.exit(2);
            }
            options.put(kv[0], kv[1]);
        }

        LocalStack stack = LocalStack.builder()
                .dataDir(Path.of(options.get("data-dir")))
                .kafkaPort(Integer.parseInt(options.get("kafka-port")))
                .postgresPort(Integer.parseInt(options.get("postgres-port")))
                .s3Port(Integer.parseInt(options.get("s3-port")))
                .shutdownHook(false)
                .build();
        AtomicReference<Process> app = new AtomicReference<>();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopApp(app.get());
            stack.stop();
            System.out.println("[stack] stopped");
        }, "local-run-shutdown"));
        if (Boolean.parseBoolean(options.get("exit-with-parent"))) {
            ProcessHandle.current().parent().ifPresent(parent -> parent.onExit().thenRun(() -> {
                System.out.println("[stack] the launching process (pid " + parent.pid() + ") exited; stopping");
                System.exit(0);
            }));
        }
        try {
            stack.start();
        } catch (RuntimeException e) {
            System.err.println("[stack] start failed: " + e.getMessage());
            System.exit(1);
        }
        Map<String, String> appConfig = appConfig(stack);
        printEndpoints(stack, appConfig);
        if (command.isEmpty()) {
            System.out.println("Press Ctrl-C to stop.");
            new CountDownLatch(1).await();
        }
        try {
            app.set(launchApp(command, appConfig));
            announceKey(keyFile(stack), app.get());
        } catch (IOException e) {
            System.err.println("[stack] cannot start " + command + ": " + e.getMessage());
            System.exit(1);
        }
        System.exit(app.get().waitFor());
    }

    /**
     * Starts the application against the stack, with its output on this terminal. The configuration goes
     * in as environment variables ({@code kafka.bootstrap.servers} becomes {@code KAFKA_BOOTSTRAP_SERVERS},
     * which Quarkus reads), and also as {@code -D} options when the command starts with {@code java}.
     *
     * @param command the application's command line
     * @param config the stack's {@link LocalStack#quarkusConfig()}
     * @return the running application
     * @throws IOException if it cannot be started
     */
    static Process launchApp(List<String> command, Map<String, String> config) throws IOException {
        List<String> line = new ArrayList<>(command);
        if (Path.of(line.get(0)).getFileName().toString().equals("java")) {
            List<String> properties = new ArrayList<>();
            config.forEach((key, value) -> properties.add("-D" + key + "=" + value));
            line.addAll(1, properties);
        }
        ProcessBuilder builder = new ProcessBuilder(line).inheritIO();
        builder.environment().putAll(environment(config));
        System.out.println("[stack] starting " + String.join(" ", command));
        return builder.start();
    }

    /**
     * @param config configuration properties
     * @return the same as environment variables, named the way Quarkus maps them back
     */
    static Map<String, String> environment(Map<String, String> config) {
        Map<String, String> env = new LinkedHashMap<>();
        config.forEach((key, value) -> env.put(key.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_"), value));
        return env;
    }

    private static void stopApp(Process app) {
        if (app == null || !app.isAlive()) {
            return;
        }
        app.destroy();
        try {
            if (!app.waitFor(APP_STOP_SECONDS, TimeUnit.SECONDS)) {
                app.destroyForcibly();
            }
        } catch (InterruptedException e) {
            app.destroyForcibly();
        }
    }

    /**
     * The stack's settings, plus the local run's own: the service (and its management port) listens on 127.0.0.1
     * only, and keeps the API key
     * of tenant {@code local} in {@code <data-dir>/api-key} (created, mode 0600, on its first start).
     */
    static Map<String, String> appConfig(LocalStack stack) {
        Map<String, String> config = new LinkedHashMap<>(stack.quarkusConfig());
        config.put("quarkus.http.host", "127.0.0.1");
        config.put("quarkus.management.host", "127.0.0.1");
        config.put("denoise.auth.local-key-file", keyFile(stack).toString());
        return config;
    }

    /** Prints the key once the service has written it (on its first start), while the service runs. */
    private static void announceKey(Path file, Process service) {
        Thread t = new Thread(() -> {
            try {
                while (service.isAlive() && !Files.exists(file)) {
                    Thread.sleep(250);
                }
                if (Files.exists(file)) {
                    System.out.println("[stack] API key of tenant local (" + file + "): " + Files.readString(file).trim());
                }
            } catch (IOException | InterruptedException e) {
                System.out.println("[stack] API key in " + file);
            }
        }, "announce-key");
        t.setDaemon(true);
        t.start();
    }

    static Path keyFile(LocalStack stack) {
        return stack.dataDir().resolve("api-key");
    }

    private static void printEndpoints(LocalStack stack, Map<String, String> appConfig) {
        System.out.println(READY);
        System.out.println("  Kafka       " + stack.kafkaBootstrap() + "  (KRaft, share groups on)");
        System.out.println("  PostgreSQL  " + stack.jdbcUrl() + "  user " + stack.dbUser() + " / " + stack.dbPassword());
        System.out.println("  S3          " + stack.s3Endpoint() + "  key " + stack.s3AccessKey() + " / " + stack.s3SecretKey()
                + "  (path-style, region us-east-1)");
        System.out.println("  Logs        " + stack.dataDir().resolve("logs"));
        System.out.println("  pids        " + stack.pids());
        System.out.println("  Application environment:");
        environment(appConfig).forEach((k, v) -> System.out.println("    " + k + "=" + v));
        Path key = keyFile(stack);
        System.out.println("  API key     " + key + (Files.exists(key) ? "" : " (written by the service on its first start)")
                + ": -H \"Authorization: Bearer $(cat " + key + ")\"");
        System.out.println("  Service     http://127.0.0.1:8080/ (studio, /v1, /sdapi/v1)");
        System.out.println("  Management  http://127.0.0.1:9180/q/health, /q/metrics, /q/openapi, /q/swagger-ui");
    }
}
