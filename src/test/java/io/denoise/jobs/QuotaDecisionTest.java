package io.denoise.jobs;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** {@link Quotas#decide}: a group of one tenant's submits decided in order against its bucket and its active jobs. */
class QuotaDecisionTest {

    private static List<Quotas.QuotaExceededException> decide(double tokens, long active, int jobs, double rate, int max) {
        return Quotas.decide("acme", new Quotas.Standing(tokens, active), jobs, rate, 200, max, 5);
    }

    @Test
    void eachJobTakesAWholeTokenAndTheRestWaitForTheBucketToRefill() {
        // 2.5 tokens: two jobs admitted; the third needs 0.5 more tokens (1 s at 0.5/s), and so does the fourth, since
        // a refused job takes no token
        List<Quotas.QuotaExceededException> decided = decide(2.5, 0, 4, 0.5, 1000);
        assertNull(decided.get(0));
        assertNull(decided.get(1));
        assertEquals("rate_limited", decided.get(2).error());
        assertEquals(1, decided.get(2).retryAfterSeconds());
        assertEquals("rate_limited", decided.get(3).error());
        assertEquals(1, decided.get(3).retryAfterSeconds());
    }

    @Test
    void jobsAdmittedEarlierInTheGroupCountAgainstTheActiveLimit() {
        // 8 of 10 active: the group's first two fit, the third would make 11
        List<Quotas.QuotaExceededException> decided = decide(100, 8, 3, 50, 10);
        assertNull(decided.get(0));
        assertNull(decided.get(1));
        Quotas.QuotaExceededException third = decided.get(2);
        assertEquals("quota_exceeded", third.error());
        assertEquals(5, third.retryAfterSeconds());
        assertEquals("tenant acme may have 10 jobs queued or running; this would make 11", third.getMessage());
    }

    @Test
    void aRefusedJobLeavesItsTokenAndItsPlaceToTheNextOne() {
        // at the limit: every job refused, none of them using a token, so the bucket decides nothing
        List<Quotas.QuotaExceededException> decided = decide(1, 10, 2, 50, 10);
        assertEquals("quota_exceeded", decided.get(0).error());
        assertEquals("quota_exceeded", decided.get(1).error());
        // one token, room for more: the first admitted, the second rate limited, not quota-refused
        decided = decide(1.2, 0, 2, 0.2, 10);
        assertNull(decided.get(0));
        assertEquals("rate_limited", decided.get(1).error());
        assertEquals(4, decided.get(1).retryAfterSeconds());
    }

    @Test
    void aTenantWithNoRateWaitsAsLongAsItCan() {
        List<Quotas.QuotaExceededException> decided = decide(0, 0, 1, 0, 10);
        assertEquals(Long.MAX_VALUE, decided.get(0).retryAfterSeconds());
    }
}
