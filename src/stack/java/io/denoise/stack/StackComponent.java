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

/**
 * One service of the local stack, run as a child process in a session of its own, with its output in a
 * log file. {@link #start} returns once the service answers; {@link #stop} returns once its processes are
 * gone; {@link #kill} ends them with SIGKILL, as a crash would. Either way the next {@link #start} brings the
 * service back on the same port with the data it had.
 *
 * <p>The start is the same for every service: refuse a second start, check that the port is free, resolve
 * the service's classpath, let the subclass {@linkplain #prepare prepare} the command line (writing config,
 * formatting data and so on), launch it and {@linkplain #awaitReady wait until it answers}. When it does
 * not answer, whatever was started is stopped again.
 */
abstract class StackComponent {

    /** Where the classpath and the binaries come from. */
    protected final StackHome home;
    /** The service's own directory (config and data). */
    protected final Path dir;
    /** The service's log file. */
    protected final Path log;
    /** The port the service listens on (fixed for the component's life, across restarts). */
    protected final int port;

    private final String name;
    private final String title;
    private final String classpathName;
    private final Duration stopGrace;
    private volatile ChildProcess process;

    /**
     * @param name a short name: kafka, postgres, s3
     * @param title the service's name in messages: Kafka, PostgreSQL, S3Proxy
     * @param classpathName the name of the classpath to resolve, see {@link StackHome#classpath}
     * @param stopGrace how long a graceful stop may take before the processes are killed
     * @param home where the classpath and the binaries come from
     * @param dir the service's directory
     * @param log its log file
     * @param port the port it listens on
     */
    StackComponent(String name, String title, String classpathName, Duration stopGrace,
            StackHome home, Path dir, Path log, int port) {
        this.name = name;
        this.title = title;
        this.classpathName = classpathName;
        this.stopGrace = stopGrace;
        this.home = home;
        this.dir = dir;
        this.log = log;
        this.port = port;
    }

    /** @return a short name: kafka, postgres, s3 */
    final String name() {
        return name;
    }

    /**
     * Prepares (first time only) and starts the service, and waits until it answers.
     *
     * @param timeout how long it may take to answer once launched
     * @return how long each phase took, in order
     * @throws StackException when it is already running, its port is taken, or it does not answer (with the
     *     tail of its log)
     */
    final synchronized Map<String, Duration> start(Duration timeout) {
        if (process != null && process.isAlive()) {
            throw new StackException(title + " is already running");
        }
        Ports.requireFree(port, name);
        Phases phases = new Phases();
        List<Path> classpath = home.classpath(classpathName);
        phases.done("classpath");
        List<String> command = new ArrayList<>(Posix.newSession());
        command.addAll(prepare(classpath, phases));
        process = ChildProcess.start(name, command, log, environment());
        try {
            awaitReady(process, timeout);
        } catch (RuntimeException e) {
            stop();
            throw e;
        }
        phases.done("ready");
        return phases.asMap();
    }

    /**
     * Prepares whatever the service needs before it runs and returns the command that runs it.
     *
     * @param classpath the resolved classpath
     * @param phases where to record the preparation's phases (unpack, format, initdb)
     * @return the command line (run in a new session)
     */
    protected abstract List<String> prepare(List<Path> classpath, Phases phases);

    /** @return variables added to the inherited environment of the service (none unless overridden) */
    protected Map<String, String> environment() {
        return Map.of();
    }

    /**
     * Waits until the just launched service answers, typically with {@link ChildProcess#awaitReady}, and
     * finishes its setup.
     *
     * @param child the service's process
     * @param timeout how long it may take
     * @throws StackException when it does not answer in time or exits
     */
    protected abstract void awaitReady(ChildProcess child, Duration timeout);

    /** Stops the service and its child processes, if running. */
    final void stop() {
        ChildProcess running = process;
        if (running != null) {
            running.stop(stopGrace);
        }
    }

    /**
     * Kills the service and its child processes with SIGKILL (no clean shutdown), if running, and returns once
     * they are gone.
     */
    final void kill() {
        ChildProcess running = process;
        if (running != null) {
            running.kill();
        }
    }

    /** @return whether the service's main process runs */
    final boolean isRunning() {
        ChildProcess running = process;
        return running != null && running.isAlive();
    }

    /** @return the main process id, or -1 when not running */
    final long pid() {
        ChildProcess running = process;
        return running != null && running.isAlive() ? running.pid() : -1;
    }

    /** @return the last lines of the log of the service started last, formatted to be appended to an error message */
    protected final String logTail() {
        return process.tail();
    }

    /**
     * Writes a file into the service's directory (created if needed), replacing it.
     *
     * @param fileName the file's name
     * @param text its content
     * @return the file
     */
    protected final Path write(String fileName, String text) {
        Path file = dir.resolve(fileName);
        try {
            Files.createDirectories(dir);
            Files.writeString(file, text);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write " + file, e);
        }
    }

    /** Measures the phases of a start. */
    static final class Phases {
        private final Map<String, Duration> phases = new LinkedHashMap<>();
        private long mark = System.nanoTime();

        /**
         * Records the time since the previous mark under {@code phase}.
         *
         * @param phase the phase that just ended
         */
        void done(String phase) {
            long now = System.nanoTime();
            phases.merge(phase, Duration.ofNanos(now - mark), Duration::plus);
            mark = now;
        }

        /** @return the recorded phases */
        Map<String, Duration> asMap() {
            return phases;
        }
    }
}
