package io.denoise.jobs;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link Quotas#overCapacity}: when a model's queue is longer than its workers clear within the configured wait. */
class AdmissionTest {

    private static final Duration WINDOW = Duration.ofMinutes(2);

    private static AdmissionConfig config(Duration maxWait, int minQueued) {
        return new AdmissionConfig() {
            public Duration maxQueueWait() {
                return maxWait;
            }

            public int minQueued() {
                return minQueued;
            }

            public Duration rateWindow() {
                return WINDOW;
            }

            public Duration refresh() {
                return Duration.ofSeconds(2);
            }

            public Duration retryAfter() {
                return Duration.ofSeconds(30);
            }
        };
    }

    /** A queue of {@code queued} whose workers finished {@code perSecond} jobs a second over the window. */
    private static QueueMetrics.ModelQueue queue(long queued, double perSecond) {
        return new QueueMetrics.ModelQueue(queued, 2, Math.round(perSecond * WINDOW.toSeconds()), WINDOW);
    }

    @Test
    void aQueueTheWorkersClearWithinTheWaitIsAdmitted() {
        AdmissionConfig tenMinutes = config(Duration.ofMinutes(10), 100);
        // 1 job/s clears 599 + 1 in 600 s: just within
        assertEquals(OptionalLong.empty(), Quotas.overCapacity(queue(599, 1), 1, tenMinutes));
        // one more, and the new job would wait 601 s: wait for the 1 s it takes the queue to shorten
        assertEquals(OptionalLong.of(1), Quotas.overCapacity(queue(600, 1), 1, tenMinutes));
        // 1200 queued at 1/s: 600 s too many
        assertEquals(OptionalLong.of(601), Quotas.overCapacity(queue(1200, 1), 1, tenMinutes));
        // a sweep of 50 cells counts as 50 jobs
        assertEquals(OptionalLong.of(50), Quotas.overCapacity(queue(600, 1), 50, tenMinutes));
    }

    @Test
    void aShortQueueIsAlwaysAdmittedAndOneNoWorkerClearsWaitsTheConfiguredRetry() {
        AdmissionConfig config = config(Duration.ofSeconds(1), 100);
        // nothing finished lately (a cold start, or no worker at all): under min-queued still admitted
        assertEquals(OptionalLong.empty(), Quotas.overCapacity(queue(98, 0), 1, config));
        assertEquals(OptionalLong.of(30), Quotas.overCapacity(queue(99, 0), 1, config));
        assertEquals(0.0, queue(99, 0).clearRate());
        assertEquals(2.5, queue(0, 2.5).clearRate(), 1e-9);
    }

    @Test
    void aZeroWaitTurnsAdmissionByCapacityOff() {
        assertEquals(OptionalLong.empty(), Quotas.overCapacity(queue(1_000_000, 0), 1, config(Duration.ZERO, 100)));
    }
}
