package io.denoise.stack;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One service of the local stack, run as a child process. {@link #start} returns once the service
 * answers; {@link #stop} returns once its processes are gone.
 */
interface StackComponent {

    /** @return a short name: kafka, postgres, s3 */
    String name();

    /**
     * Prepares (first time only) and starts the service, and waits until it answers.
     *
     * @param timeout how long it may take to answer once launched
     * @return how long each phase took, in order
     */
    Map<String, Duration> start(Duration timeout);

    /** Stops the service and its child processes, if running. */
    void stop();

    /** @return the main process id, or -1 when not running */
    long pid();

    /** Measures the phases of a start. */
    final class Phases {
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
