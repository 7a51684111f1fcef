package io.denoise.it;

import io.denoise.stack.LocalStack;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The packaged service ({@code target/quarkus-app/quarkus-run.jar}) run as a separate process against a local
 * stack, in the roles a test asks for — so a test can kill it with SIGKILL like a crashed pod.
 */
final class AppProcess implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final Process process;
    private final int port;
    private final int managementPort;
    private final Path log;
    private final Path keyFile;
    /** The key, once read: written once per stack, read here for every request. */
    private volatile String apiKey;
    private final List<String> command;
    private final Map<String, String> environment;

    private AppProcess(Process process, int port, int managementPort, Path log, Path keyFile, List<String> command, Map<String, String> environment) {
        this.process = process;
        this.port = port;
        this.managementPort = managementPort;
        this.log = log;
        this.keyFile = keyFile;
        this.command = command;
        this.environment = environment;
    }

    static AppProcess start(String name, LocalStack stack, String roles, Map<String, String> extra, boolean waitReady)
            throws IOException, InterruptedException {
        Path jar = Path.of(System.getProperty("denoise.app.jar", "target/quarkus-app/quarkus-run.jar")).toAbsolutePath();
        int port = freePort();
        int managementPort = freePort();
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java")));
        command.add("-Xmx1g");
        command.addAll(jvmOptions());
        Map<String, String> config = new java.util.LinkedHashMap<>(stack.quarkusConfig());
        config.put("quarkus.http.port", Integer.toString(port));
        config.put("quarkus.management.port", Integer.toString(managementPort));
        config.put("denoise.roles", roles);
        config.put("denoise.models.serve", "tiny-random");
        config.put("denoise.api.default-model", "tiny-random");
        config.put("denoise.models.device", "cpu");
        config.put("denoise.models.intra-op-threads", "1");
        // as in the local run: the API role creates a key of tenant local there on first start (one per stack)
        Path keyFile = stack.dataDir().resolve("api-key").toAbsolutePath();
        config.put("denoise.auth.local-key-file", keyFile.toString());
        // a short warm-up: its path runs in every process the tests start, without a production start's seconds
        config.put("denoise.api.warm-up-requests", "50");
        config.putAll(extra);
        config.forEach((k, v) -> command.add("-D" + k + "=" + v));
        command.add("-jar");
        command.add(jar.toString());
        Map<String, String> environment = Map.of();
        Path log = Path.of("target", "it-logs", name + ".log");
        Files.createDirectories(log.getParent());
        Files.deleteIfExists(log);
        return launch(command, environment, port, managementPort, log, keyFile, waitReady);
    }

    /**
     * A benchmark's {@code --app-jvm} option: comma-separated JVM options (one shell word), or {@code default}; none
     * (null) keeps the production ones.
     */
    static void useJvmOptions(String commaSeparated) {
        if (commaSeparated != null) {
            System.setProperty("denoise.it.app-jvm-options", commaSeparated.replace(',', ' '));
        }
    }

    /**
     * JVM options for every service process started here: those the container image and the local run use
     * ({@code -XX:TieredStopAtLevel=1}, see the README), unless {@code denoise.it.app-jvm-options} names others
     * (separated by spaces; {@code default} for the JVM's own), as a benchmark comparing them does.
     */
    static List<String> jvmOptions() {
        String options = System.getProperty("denoise.it.app-jvm-options", "").trim();
        if (options.isEmpty()) {
            return List.of("-XX:TieredStopAtLevel=1");
        }
        return options.equals("default") ? List.of() : List.of(options.split("\\s+"));
    }

    /**
     * Starts the same service again, on the same port with the same configuration (its log is appended to), once
     * this process has ended, as an orchestrator restarts a crashed container; waits as {@link #start} does.
     *
     * @return the new process
     * @throws IllegalStateException while this process still runs
     */
    AppProcess restart(boolean waitReady) throws IOException, InterruptedException {
        if (process.isAlive()) {
            throw new IllegalStateException("pid " + process.pid() + " still runs");
        }
        return launch(command, environment, port, managementPort, log, keyFile, waitReady);
    }

    private static AppProcess launch(List<String> command, Map<String, String> environment, int port, int managementPort,
            Path log, Path keyFile, boolean waitReady) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(environment);
        AppProcess app = new AppProcess(builder.start(), port, managementPort, log, keyFile, command, environment);
        app.await(waitReady ? "/q/health/ready" : "/q/health/live", Duration.ofSeconds(120));
        return app;
    }

    URI uri(String path) {
        return URI.create("http://localhost:" + port + path);
    }

    /** {@code path} on the management interface: health, metrics, the OpenAPI document. */
    URI managementUri(String path) {
        return URI.create("http://localhost:" + managementPort + path);
    }

    /** The key of tenant local that the stack's API role wrote on its first start. */
    String apiKey() {
        String known = apiKey;
        if (known != null) {
            return known;
        }
        try {
            return apiKey = Files.readString(keyFile).trim();
        } catch (IOException e) {
            throw new IllegalStateException("no API key in " + keyFile + " (has an api role started on this stack?)", e);
        }
    }

    /** A request to {@code path} carrying the API key. */
    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(uri(path)).header("Authorization", "Bearer " + apiKey());
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /**
     * SIGTERM, as an orchestrator stops a container, and waits for the process to exit by itself.
     *
     * @return whether it exited within {@code timeout} (if not, it is killed)
     */
    boolean terminate(Duration timeout) throws InterruptedException {
        process.destroy();
        if (process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return true;
        }
        kill();
        return false;
    }

    /** SIGKILL: no shutdown hook, no goodbye to Kafka or the database. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    private void await(String path, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("service exited with " + process.exitValue() + "; log: " + tail());
            }
            try {
                HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(managementUri(path)).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        throw new IllegalStateException("service not ready on " + path + " within " + timeout + "; log: " + tail());
    }

    String tail() throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
