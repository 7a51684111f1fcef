package io.denoise.worker;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackoffTest {

    @Test
    void delaysDoubleWithJitterBetweenHalfAndAllOfTheCeilingUpToTheMaximum() {
        for (int run = 0; run < 200; run++) {
            Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000));
            long[] ceilings = {100, 200, 400, 800, 1000, 1000, 1000};
            for (long ceiling : ceilings) {
                long delay = backoff.nextDelayMs();
                assertTrue(delay >= ceiling / 2 && delay <= ceiling, delay + " not in [" + ceiling / 2 + ", " + ceiling + "]");
            }
        }
    }

    @Test
    void delaysAreSpreadSoWorkersDoNotRetryInLockstep() {
        java.util.Set<Long> first = new java.util.HashSet<>();
        for (int i = 0; i < 50; i++) {
            first.add(new Backoff(Duration.ofMillis(1000), Duration.ofMillis(1000)).nextDelayMs());
        }
        assertTrue(first.size() > 10, "50 backoffs drew only " + first.size() + " distinct delays");
    }

    @Test
    void aMaximumBelowTheFirstDelayIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ZERO, Duration.ofSeconds(1)));
    }
}
