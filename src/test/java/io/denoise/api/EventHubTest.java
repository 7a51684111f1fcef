package io.denoise.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.denoise.messaging.JobEvent;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The replay buffer's byte bound, the subscriber caps and the api-role switch, without Kafka or Quarkus. */
class EventHubTest {

    private static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule());
    private static final long BOUND = 64 * 1024;

    private static String progress(UUID job, long seq, int previewChars) throws Exception {
        return JSON.writeValueAsString(JobEvent.progress(job, 1, seq, (int) seq, 1000, 1.0, 1, 1,
                previewChars == 0 ? null : "A".repeat(previewChars)));
    }

    private static List<Long> replayed(EventHub hub, UUID job) {
        List<Long> seqs = new ArrayList<>();
        try (EventHub.Subscription s = hub.reserve(job)) {
            s.start(-1, e -> seqs.add(e.seq()));
        }
        return seqs;
    }

    @Test
    void retainedEventsStayUnderTheByteBoundDroppingTheJobsLeastRecentlyHeardFromFirst() throws Exception {
        EventHub hub = new EventHub(JSON, true, BOUND, 100, 100);
        List<UUID> jobs = new ArrayList<>();
        for (int j = 0; j < 20; j++) {
            UUID job = UUID.randomUUID();
            jobs.add(job);
            for (int seq = 1; seq <= 4; seq++) {
                hub.onRecord(progress(job, seq, 2_000));
                assertTrue(hub.retainedBytes() <= BOUND, "retained " + hub.retainedBytes() + " > " + BOUND);
            }
        }
        assertTrue(hub.retainedBytes() > BOUND - 4 * 2_500, "whole jobs are dropped, no more than needed: " + hub.retainedBytes());
        assertEquals(List.of(), replayed(hub, jobs.get(0)), "the oldest job is gone");
        assertEquals(List.of(1L, 2L, 3L, 4L), replayed(hub, jobs.get(19)), "the newest job is whole");
        assertTrue(hub.retainedJobs() < 20);
    }

    @Test
    void oneJobOverTheBoundKeepsItsNewestEvents() throws Exception {
        EventHub hub = new EventHub(JSON, true, BOUND, 100, 100);
        UUID job = UUID.randomUUID();
        for (int seq = 1; seq <= 100; seq++) {
            hub.onRecord(progress(job, seq, 4_000));
        }
        assertTrue(hub.retainedBytes() <= BOUND);
        List<Long> kept = replayed(hub, job);
        assertFalse(kept.isEmpty());
        assertEquals(100L, kept.get(kept.size() - 1));
        assertEquals(kept.size(), 101 - kept.get(0), "a contiguous tail");
    }

    @Test
    void anEventLargerThanTheWholeBoundIsDeliveredLiveButNotKept() throws Exception {
        EventHub hub = new EventHub(JSON, true, BOUND, 100, 100);
        UUID job = UUID.randomUUID();
        hub.onRecord(progress(job, 1, 10));
        List<Long> live = new ArrayList<>();
        try (EventHub.Subscription s = hub.reserve(job)) {
            s.start(-1, e -> live.add(e.seq()));
            hub.onRecord(progress(job, 2, (int) BOUND));
            hub.onRecord(progress(job, 3, 10));
        }
        assertEquals(List.of(1L, 2L, 3L), live);
        assertEquals(List.of(1L, 3L), replayed(hub, job));
        assertTrue(hub.retainedBytes() < 2_000);
    }

    @Test
    void withoutTheApiRoleNothingIsKeptOrRelayed() throws Exception {
        EventHub hub = new EventHub(JSON, false, BOUND, 100, 100);
        UUID job = UUID.randomUUID();
        List<Long> live = new ArrayList<>();
        try (EventHub.Subscription s = hub.reserve(job)) {
            s.start(-1, e -> live.add(e.seq()));
            hub.onRecord(progress(job, 1, 10));
        }
        assertEquals(List.of(), live);
        assertEquals(0, hub.retainedBytes());
    }

    @Test
    void streamsAreCappedPerJobAndInTotalAndClosingFreesThePlace() {
        EventHub hub = new EventHub(JSON, true, BOUND, 2, 3);
        UUID a = UUID.randomUUID();
        EventHub.Subscription a1 = hub.reserve(a);
        hub.reserve(a);
        assertTrue(assertThrows(EventHub.TooManySubscribersException.class, () -> hub.reserve(a)).perJob());
        hub.reserve(UUID.randomUUID());
        assertFalse(assertThrows(EventHub.TooManySubscribersException.class, () -> hub.reserve(UUID.randomUUID())).perJob());
        a1.close();
        a1.close();
        assertEquals(2, hub.subscribers(), "closing twice frees one place");
        hub.reserve(a).close();
    }
}
