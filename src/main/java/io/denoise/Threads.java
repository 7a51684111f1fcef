package io.denoise;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;

/** The service's background threads: named, and daemons, so none of them keeps a stopping process alive. */
public final class Threads {

    private Threads() {
    }

    /** Makes daemon threads with the given name. */
    public static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** A single daemon thread for periodic work. */
    public static ScheduledExecutorService scheduled(String name) {
        return Executors.newSingleThreadScheduledExecutor(daemon(name));
    }
}
