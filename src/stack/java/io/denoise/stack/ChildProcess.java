package io.denoise.stack;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A child process of the stack with its log file: started, awaited until it answers, and stopped
 * together with everything it started (gracefully first, then killed), or killed outright like a crash.
 */
final class ChildProcess {

    private static final int TAIL_LINES = 40;
    private static final Duration POLL = Duration.ofMillis(200);

    private final String name;
    private final Process process;
    private final Path log;

    private ChildProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /** A readiness check: true when the component answers, false or an exception while it does not yet. */
    @FunctionalInterface
    interface Probe {
        /**
         * @return whether the component is ready
         * @throws Exception while it is not reachable yet
         */
        boolean ready() throws Exception;
    }

    /**
     * Starts a long-running child whose output is appended to {@code log}.
     *
     * @param name the component's name, for messages
     * @param command the command line
     * @param log the log file (appended to; created with its directory)
     * @param environment variables added to the inherited environment
     * @return the running child
     */
    static ChildProcess start(String name, List<String> command, Path log, Map<String, String> environment) {
        try {
            Files.createDirectories(log.getParent());
            Files.writeString(log, "%n==== %s: %s%n".formatted(Instant.now(), String.join(" ", command).replace('\n', ' ')),
                    StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            builder.environment().putAll(environment);
            return new ChildProcess(name, builder.start(), log);
        } catch (IOException e) {
            throw new StackException("Cannot start " + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * Runs a command to completion, failing with the tail of its log when it fails or times out.
     *
     * @param name what the command does, for messages
     * @param command the command line
     * @param log the log file (appended to)
     * @param environment variables added to the inherited environment
     * @param timeout how long it may take
     */
    static void run(String name, List<String> command, Path log, Map<String, String> environment, Duration timeout) {
        ChildProcess child = start(name, command, log, environment);
        try {
            if (!child.process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                child.stop(Duration.ofSeconds(2));
                throw new StackException(name + " did not finish within " + timeout.toSeconds() + " s" + child.tail());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            child.stop(Duration.ofSeconds(2));
            throw new StackException(name + " was interrupted", e);
        }
        if (child.process.exitValue() != 0) {
            throw new StackException(name + " failed with exit code " + child.process.exitValue() + child.tail());
        }
    }

    /**
     * Polls {@code probe} until it says ready.
     *
     * @param timeout how long to wait
     * @param probe the readiness check
     * @throws StackException when the process exits or the timeout passes, with the tail of the log
     */
    void awaitReady(Duration timeout, Probe probe) {
        Instant deadline = Instant.now().plus(timeout);
        Exception last = null;
        while (Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                throw new StackException(name + " exited with code " + process.exitValue() + " while starting" + tail());
            }
            try {
                if (probe.ready()) {
                    return;
                }
            } catch (StackException e) {
                throw e;
            } catch (Exception e) {
                last = e;
            }
            try {
                Thread.sleep(POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StackException("Interrupted while waiting for " + name, e);
            }
        }
        throw new StackException(name + " did not answer within " + timeout.toSeconds() + " s"
                + (last == null ? "" : " (last error: " + last + ")") + tail());
    }

    /**
     * Stops the child and all its descendants: SIGTERM to the child, then SIGKILL to whatever is left
     * after {@code grace}. Returns once they are gone.
     *
     * @param grace how long a graceful stop may take
     */
    void stop(Duration grace) {
        List<ProcessHandle> family = process.descendants().toList();
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }
        for (ProcessHandle member : family) {
            if (member.isAlive()) {
                member.destroyForcibly();
                member.onExit().orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> member).join();
            }
        }
    }

    /**
     * Kills the child and everything it started with SIGKILL, as a crash or an OOM killer would: no shutdown
     * hook, no clean shutdown of a server. The descendants go first, then the child; when the child leads a
     * session of its own (it was started under {@code setsid}), every process left in that session goes too, so
     * a grandchild orphaned meanwhile cannot survive. Returns once none of them runs any more.
     */
    void kill() {
        OptionalLong ownSession = Posix.sessionOf(process.pid());
        boolean sessionLeader = ownSession.isPresent() && ownSession.getAsLong() == process.pid();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        // every process seen once is waited for: a child reparented when its parent died is no descendant any more
        Set<Long> family = new LinkedHashSet<>();
        while (!refresh(family, sessionLeader).isEmpty() && System.nanoTime() < deadline) {
            for (long pid : family) {
                if (pid != process.pid()) {
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                }
            }
            process.destroyForcibly();
            try {
                process.waitFor(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StackException("Interrupted while killing " + name, e);
            }
        }
        if (!family.isEmpty()) {
            throw new StackException("Processes " + family + " of " + name + " still run 10 s after SIGKILL");
        }
    }

    /** Adds the processes of the family running now to {@code seen}, drops those that ended; returns it. */
    private Set<Long> refresh(Set<Long> seen, boolean sessionLeader) {
        seen.addAll(family(sessionLeader));
        seen.removeIf(pid -> !Posix.isRunning(pid));
        return seen;
    }

    /** @return the child, its descendants and (when it leads its session) the rest of the session, that still run */
    private Set<Long> family(boolean sessionLeader) {
        Set<Long> pids = new LinkedHashSet<>();
        process.descendants().forEach(h -> pids.add(h.pid()));
        if (sessionLeader) {
            pids.addAll(Posix.sessionMembers(process.pid()));
        }
        if (process.isAlive()) {
            pids.add(process.pid());
        }
        pids.removeIf(pid -> !Posix.isRunning(pid));
        return pids;
    }

    /** @return whether the child is still running */
    boolean isAlive() {
        return process.isAlive();
    }

    /** @return the child's process id */
    long pid() {
        return process.pid();
    }

    /** @return the log file */
    Path log() {
        return log;
    }

    /** @return the last lines of the log, formatted to be appended to an error message */
    String tail() {
        return "\n---- last lines of " + log + " ----\n" + String.join("\n", tail(log, TAIL_LINES));
    }

    /**
     * @param file a text file
     * @param lines how many lines
     * @return the file's last {@code lines} lines (reads at most its last 64 KiB)
     */
    static List<String> tail(Path file, int lines) {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            long length = raf.length();
            long start = Math.max(0, length - 65_536);
            byte[] bytes = new byte[(int) (length - start)];
            raf.seek(start);
            raf.readFully(bytes);
            List<String> all = List.of(new String(bytes, StandardCharsets.UTF_8).split("\\R"));
            return all.subList(Math.max(0, all.size() - lines), all.size());
        } catch (IOException e) {
            return List.of("(cannot read " + file + ": " + e.getMessage() + ")");
        }
    }

    /**
     * Deletes a file tree if it exists.
     *
     * @param root the tree's top
     */
    static void deleteTree(Path root) {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> tree = Files.walk(root)) {
            for (Path p : (Iterable<Path>) tree.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot delete " + root, e);
        }
    }
}
