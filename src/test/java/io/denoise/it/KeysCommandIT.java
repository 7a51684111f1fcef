package io.denoise.it;

import io.denoise.stack.LocalStack;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code java -jar quarkus-run.jar keys …} against the stack's database, beside a running service: a key it creates
 * is accepted by the service, {@code keys list} shows it without the key, and once {@code keys revoke} ran the
 * service refuses it within seconds (the service caches a key for {@code denoise.auth.cache-ttl}, 2 s).
 */
class KeysCommandIT {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    record Run(int exit, String out, String err) {
    }

    private static Run keys(LocalStack stack, String... args) throws IOException, InterruptedException {
        Path jar = Path.of(System.getProperty("denoise.app.jar", "target/quarkus-app/quarkus-run.jar")).toAbsolutePath();
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java")));
        stack.quarkusConfig().forEach((k, v) -> command.add("-D" + k + "=" + v));
        command.addAll(List.of("-jar", jar.toString(), "keys"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).start();
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("keys " + String.join(" ", args) + " did not finish within 90 s");
        }
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    private static int listJobs(AppProcess app, String key) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(app.uri("/v1/jobs")).header("Authorization", "Bearer " + key).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    @Test
    void aKeyTheCommandCreatesWorksUntilTheCommandRevokesIt() throws Exception {
        try (LocalStack stack = Faults.stack("keys-command").build().start();
             AppProcess app = AppProcess.start("keys-command-api", stack, "api", Map.of(), true)) {
            Run created = keys(stack, "create", "--tenant", "zed");
            assertEquals(0, created.exit(), created.err());
            String key = created.out().trim();
            assertTrue(key.startsWith("dn_") && !key.contains("\n"), "only the key on stdout: " + created.out());
            assertEquals(200, listJobs(app, key));

            Run listed = keys(stack, "list");
            assertEquals(0, listed.exit(), listed.err());
            String line = listed.out().lines().filter(l -> l.contains("\tzed\t")).findFirst()
                    .orElseThrow(() -> new AssertionError("no zed key in\n" + listed.out()));
            assertTrue(!listed.out().contains(key) && line.contains(key.substring(0, 9)), line);

            Run revoked = keys(stack, "revoke", line.split("\t")[0]);
            assertEquals(0, revoked.exit(), revoked.err());
            long start = System.nanoTime();
            while (listJobs(app, key) == 200) {
                assertTrue(System.nanoTime() - start < Duration.ofSeconds(10).toNanos(), "still accepted 10 s after revoke");
                Thread.sleep(100);
            }
            assertEquals(401, listJobs(app, key));
            assertEquals(2, keys(stack, "create").exit(), "--tenant is required");
        }
    }
}
