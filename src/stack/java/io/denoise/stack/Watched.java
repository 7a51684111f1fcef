package io.denoise.stack;

import java.lang.reflect.Method;
import java.util.Arrays;

/**
 * Entry point of every Java child of the stack: ties the child's life to the JVM that launched it.
 *
 * <p>Usage: {@code java -Ddenoise.stack.parent-pid=PID -cp ... io.denoise.stack.Watched MAIN_CLASS ARGS...}.
 * A daemon thread polls the parent process; once it is gone (even after a SIGKILL, which runs no
 * shutdown hook) the child exits through its own shutdown hooks, and is halted if that takes too long.
 * Then the real main class runs as usual.
 *
 * <p>This class is copied alone onto the child's classpath, so it must not use any other class of this
 * project (and no anonymous or inner classes).
 */
public final class Watched {

    /** System property naming the pid of the process whose death ends this JVM. */
    public static final String PARENT_PID = "denoise.stack.parent-pid";

    private static final long POLL_MILLIS = 500;
    private static final long HALT_AFTER_MILLIS = 10_000;

    private Watched() {
    }

    /**
     * Starts the parent watchdog, then runs {@code args[0]}'s main method with the remaining arguments.
     *
     * @param args the real main class, then its arguments
     * @throws Throwable whatever the real main method throws
     */
    public static void main(String[] args) throws Throwable {
        if (args.length == 0) {
            throw new IllegalArgumentException("usage: Watched MAIN_CLASS [ARGS...]");
        }
        String parentPid = System.getProperty(PARENT_PID);
        if (parentPid != null) {
            ProcessHandle parent = ProcessHandle.of(Long.parseLong(parentPid)).orElse(null);
            if (parent == null) {
                System.err.println("Parent process " + parentPid + " is already gone; exiting");
                System.exit(3);
            }
            Thread watchdog = new Thread(() -> watch(parent), "parent-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        }
        Method main = Class.forName(args[0]).getMethod("main", String[].class);
        main.invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
    }

    private static void watch(ProcessHandle parent) {
        try {
            while (parent.isAlive()) {
                Thread.sleep(POLL_MILLIS);
            }
        } catch (InterruptedException e) {
            return;
        }
        System.err.println("Parent process " + parent.pid() + " is gone; shutting down");
        Thread halter = new Thread(() -> {
            try {
                Thread.sleep(HALT_AFTER_MILLIS);
            } catch (InterruptedException ignored) {
                // halt anyway
            }
            Runtime.getRuntime().halt(4);
        }, "parent-watchdog-halt");
        halter.setDaemon(true);
        halter.start();
        System.exit(4);
    }
}
