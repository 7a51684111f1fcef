package io.denoise.jobs;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link FairDispatcher#order}: priority first, then tenants in turn, fewest active first, oldest job on a tie. */
class FairDispatcherTest {

    private final Map<UUID, String> names = new HashMap<>();
    private int clock;

    private FairDispatcher.Held job(String tenant, int priority, String name) {
        UUID id = UUID.randomUUID();
        names.put(id, name);
        return new FairDispatcher.Held(id, tenant, priority, Instant.EPOCH.plusSeconds(clock++));
    }

    private List<String> order(List<FairDispatcher.Held> held, Map<String, Long> active, int room) {
        return FairDispatcher.order(held, active, room).stream().map(names::get).toList();
    }

    @Test
    void aTenantsBacklogDoesNotStandInFrontOfAnotherTenantsFirstJob() {
        List<FairDispatcher.Held> held = new ArrayList<>();
        for (int i = 1; i <= 100; i++) {
            held.add(job("a", 1, "a" + i));
        }
        held.add(job("b", 1, "b1"));
        // a has 4 running: b's job goes first, then they alternate, b having no more
        assertEquals(List.of("b1", "a1", "a2", "a3"), order(held, Map.of("a", 4L), 4));
        // with nothing active, the oldest job's tenant goes first and b's comes second
        assertEquals(List.of("a1", "b1", "a2"), order(held, Map.of(), 3));
    }

    @Test
    void tenantsTakeTurnsByHowManyJobsTheyHaveActive() {
        List<FairDispatcher.Held> held = List.of(job("a", 1, "a1"), job("a", 1, "a2"), job("a", 1, "a3"),
                job("b", 1, "b1"), job("b", 1, "b2"), job("c", 1, "c1"));
        assertEquals(List.of("c1", "b1", "a1", "b2", "a2", "a3"), order(held, Map.of("a", 2L, "b", 1L), 10));
    }

    @Test
    void everyJobOfAHigherPriorityGoesBeforeAnyOfALowerOne() {
        List<FairDispatcher.Held> held = List.of(job("a", 1, "a-normal"), job("b", 0, "b-low"), job("a", 2, "a-high"),
                job("c", 2, "c-high"), job("c", 1, "c-normal"));
        assertEquals(List.of("a-high", "c-high", "a-normal", "c-normal", "b-low"), order(held, Map.of(), 10));
        assertEquals(List.of("a-high", "c-high"), order(held, Map.of(), 2), "room bounds the release");
    }
}
