package io.denoise.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.postgresql.Driver;
import org.slf4j.Logger;

/**
 * Starts the stack from {@link LocalStack#main} in a child JVM and checks that every process it started goes away
 * when that JVM is SIGKILLed (no shutdown hook runs) or when the process that started it dies.
 */
class NoOrphanProcessTest {

    private static final Duration READY_TIMEOUT = Duration.ofMinutes(4);
    private static final Duration GONE_TIMEOUT = Duration.ofSeconds(20);
    /** Noticing a parent that is not ours takes up to 5 s of polling; a clean stop may take the components' graces. */
    private static final Duration STOPPED_TIMEOUT = Duration.ofSeconds(60);

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

    /**
     * A launcher JVM started by this test (directly, or under a shell that stands in for Maven). Its output goes to
     * a file rather than a pipe: a pipe's reading end closes when the direct child exits, and the launcher outlives
     * the shell.
     */
    private record Launched(Process process, Path log) {

        List<String> output() {
            try {
                // decoded leniently: the file is read while the launcher writes it
                return Files.exists(log) ? new String(Files.readAllBytes(log), StandardCharsets.UTF_8).lines().toList()
                        : List.of();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        void awaitReady() throws InterruptedException {
            Instant readyBy = Instant.now().plus(READY_TIMEOUT);
            while (!output().contains(LocalRun.READY)) {
                if (!process.isAlive() || Instant.now().isAfter(readyBy)) {
                    fail("The stack did not start in the child JVM:\n" + String.join("\n", output()));
                }
                Thread.sleep(200);
            }
        }

        void destroyAll() {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    private static Launched launch(String name, boolean underShell) throws Exception {
        Path projectDir = StackHome.locate().projectDir();
        Path data = projectDir.resolve("target/stack-test/" + name);
        ChildProcess.deleteTree(data);
        Path log = projectDir.resolve("target/stack-test/" + name + ".out");
        List<String> command = new ArrayList<>();
        if (underShell) {
            command.addAll(List.of("/bin/sh", "-c", "\"$@\" & wait", "sh"));
        }
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", launcherClasspath(),
                "-D" + StackHome.PROJECT_DIR + "=" + projectDir,
                LocalStack.class.getName(),
                "--data-dir=" + data, "--kafka-port=0", "--postgres-port=0", "--s3-port=0",
                "--exit-with-parent=" + underShell));
        Files.createDirectories(log.getParent());
        Process process = new ProcessBuilder(command).directory(projectDir.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new Launched(process, log);
    }

    /** Waits up to {@code timeout} for every process to exit; returns those still running. */
    private static List<ProcessHandle> awaitGone(List<ProcessHandle> processes, Duration timeout) throws InterruptedException {
        Instant deadline = Instant.now().plus(timeout);
        List<ProcessHandle> alive = processes;
        while (!alive.isEmpty() && Instant.now().isBefore(deadline)) {
            Thread.sleep(100);
            alive = alive.stream().filter(ProcessHandle::isAlive).toList();
        }
        return alive;
    }

    private static void assertEveryComponentRunsIn(List<ProcessHandle> processes) {
        String commands = String.join("\n", processes.stream().map(NoOrphanProcessTest::commandLine).toList());
        for (String component : List.of("kafka.Kafka", "org.gaul.s3proxy.Main", "bin/postgres")) {
            assertTrue(commands.contains(component), component + " runs under the launcher:\n" + commands);
        }
    }

    private static String describe(List<ProcessHandle> processes) {
        return processes.stream().map(p -> p.pid() + " " + commandLine(p)).toList().toString();
    }

    @Test
    void componentsDieWithTheLaunchingJvm() throws Exception {
        Launched launcher = launch("no-orphan", false);
        try {
            launcher.awaitReady();
            List<ProcessHandle> children = launcher.process().descendants().toList();
            assertEveryComponentRunsIn(children);

            launcher.process().destroyForcibly();
            assertTrue(launcher.process().waitFor(10, TimeUnit.SECONDS));
            assertEquals(137, launcher.process().exitValue(), "killed by SIGKILL");
            Instant killed = Instant.now();
            List<ProcessHandle> alive = awaitGone(children, GONE_TIMEOUT);
            System.out.printf("[stack] %d child processes gone %.1f s after SIGKILL of the launcher%n",
                    children.size(), Duration.between(killed, Instant.now()).toMillis() / 1000.0);
            assertTrue(alive.isEmpty(), "still running " + GONE_TIMEOUT.toSeconds() + " s after the launcher died: "
                    + describe(alive));
        } finally {
            launcher.destroyAll();
        }
    }

    /**
     * Maven killed on its own (not its whole process group), with {@code --exit-with-parent=true} as
     * {@code ./mvnw -Prun} passes it: the launcher notices and stops the stack cleanly.
     */
    @Test
    void theStackStopsWhenTheProcessThatStartedTheLauncherDies() throws Exception {
        Launched shell = launch("parent-exit", true);
        List<ProcessHandle> components = List.of();
        try {
            shell.awaitReady();
            ProcessHandle launcher = shell.process().children().findFirst().orElseThrow();
            components = concat(List.of(launcher), launcher.descendants().toList());
            assertEveryComponentRunsIn(components);

            shell.process().destroyForcibly();
            List<ProcessHandle> alive = awaitGone(components, STOPPED_TIMEOUT);
            assertTrue(alive.isEmpty(), "still running after the launcher's parent died: " + describe(alive));
            assertTrue(shell.output().stream().anyMatch(l -> l.contains("the launching process") && l.contains("exited; stopping")),
                    String.join("\n", shell.output()));
            assertTrue(shell.output().contains("[stack] stopped"), "stopped through the shutdown hook:\n"
                    + String.join("\n", shell.output()));
        } finally {
            shell.destroyAll();
            components.forEach(ProcessHandle::destroyForcibly); // orphans no longer under the dead shell
        }
    }

    private static List<ProcessHandle> concat(List<ProcessHandle> a, List<ProcessHandle> b) {
        List<ProcessHandle> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
