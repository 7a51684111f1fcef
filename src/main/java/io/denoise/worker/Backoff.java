package io.denoise.worker;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential backoff with jitter for retrying a dependency that is down: each delay is drawn between half and
 * all of a ceiling that doubles from {@code initial} up to {@code max}, so workers that lost the database at
 * the same moment do not come back in lockstep. One instance per retry loop; not thread-safe.
 */
final class Backoff {

    private final long maxMs;
    private long ceilingMs;

    Backoff(Duration initial, Duration max) {
        if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("need 0 < initial <= max, got " + initial + " and " + max);
        }
        this.ceilingMs = initial.toMillis();
        this.maxMs = max.toMillis();
    }

    /** The next delay in milliseconds; the ceiling doubles after each call, up to the maximum. */
    long nextDelayMs() {
        long ceiling = ceilingMs;
        ceilingMs = Math.min(maxMs, ceilingMs * 2);
        long half = ceiling / 2;
        return half + ThreadLocalRandom.current().nextLong(ceiling - half + 1);
    }
}
