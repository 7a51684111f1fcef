package io.denoise.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.postgresql.Driver;
import org.slf4j.Logger;

/**
 * Starts the stack from {@link LocalStack#main} in a child JVM, SIGKILLs that JVM (no shutdown hook runs)
 * and checks that every process it had started goes away on its own.
 */
class NoOrphanProcessTest {

    private static final Duration READY_TIMEOUT = Duration.ofMinutes(4);
    private static final Duration GONE_TIMEOUT = Duration.ofSeconds(20);

    /** The launcher needs this project's test classes, the Kafka admin client (and SLF4J) and the JDBC driver. */
    private static String launcherClasspath() throws Exception {
        List<String> entries = new ArrayList<>();
        for (Class<?> type : List.of(LocalStack.class, Admin.class, Logger.class, Driver.class)) {
            entries.add(Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        }
        return String.join(File.pathSeparator, entries);
    }

    /** @return the process's full command line (ProcessHandle.Info drops long ones such as a JVM's) */
    private static String commandLine(ProcessHandle process) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(process.pid()), "cmdline")).replace('\0', ' ');
        } catch (IOException e) {
            return process.info().commandLine().orElse("?");
        }
    }

    @Test
    void componentsDieWithTheLaunchingJvm() throws Exception {
        Path projectDir = StackHome.locate().projectDir();
        Path data = projectDir.resolve("target/stack-test/no-orphan");
        ChildProcess.deleteTree(data);
        Process launcher = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", launcherClasspath(),
                "-D" + StackHome.PROJECT_DIR + "=" + projectDir,
                LocalStack.class.getName(),
                "--data-dir=" + data, "--kafka-port=0", "--postgres-port=0", "--s3-port=0")
                .directory(projectDir.toFile())
                .redirectErrorStream(true)
                .start();
        List<String> output = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch ready = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    output.add(line);
                    if (line.equals(LocalRun.READY)) {
                        ready.countDown();
                    }
                }
            } catch (IOException ignored) {
                // the launcher was killed
            }
        }, "launcher-output");
        reader.setDaemon(true);
        reader.start();
        try {
            Instant readyBy = Instant.now().plus(READY_TIMEOUT);
            while (!ready.await(200, TimeUnit.MILLISECONDS)) {
                if (!launcher.isAlive() || Instant.now().isAfter(readyBy)) {
                    fail("The stack did not start in the child JVM:\n" + String.join("\n", output));
                }
            }
            List<ProcessHandle> children = launcher.descendants().toList();
            String commands = String.join("\n", children.stream().map(NoOrphanProcessTest::commandLine).toList());
            for (String component : List.of("kafka.Kafka", "org.gaul.s3proxy.Main", "bin/postgres")) {
                assertTrue(commands.contains(component), component + " runs under the launcher:\n" + commands);
            }

            launcher.destroyForcibly();
            assertTrue(launcher.waitFor(10, TimeUnit.SECONDS));
            assertEquals(137, launcher.exitValue(), "killed by SIGKILL");
            Instant killed = Instant.now();
            Instant deadline = killed.plus(GONE_TIMEOUT);
            List<ProcessHandle> alive = children;
            while (!alive.isEmpty() && Instant.now().isBefore(deadline)) {
                Thread.sleep(100);
                alive = alive.stream().filter(ProcessHandle::isAlive).toList();
            }
            System.out.printf("[stack] %d child processes gone %.1f s after SIGKILL of the launcher%n",
                    children.size(), Duration.between(killed, Instant.now()).toMillis() / 1000.0);
            assertTrue(alive.isEmpty(), "still running " + GONE_TIMEOUT.toSeconds() + " s after the launcher died: "
                    + alive.stream().map(p -> p.pid() + " " + commandLine(p)).toList());
        } finally {
            launcher.destroyForcibly();
            launcher.descendants().forEach(ProcessHandle::destroyForcibly);
        }
    }
}
