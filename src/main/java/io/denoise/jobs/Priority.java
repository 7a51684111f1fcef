package io.denoise.jobs;

import java.util.Locale;
import java.util.Optional;

/** How soon a job is started: every queued job of a higher priority is released before any of a lower one. */
public enum Priority {
    LOW,
    NORMAL,
    HIGH;

    /** The rank stored in {@code job.priority} and {@code api_key.max_priority}: 0, 1, 2. */
    public int rank() {
        return ordinal();
    }

    /** The API's name: {@code low}, {@code normal}, {@code high}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Priority ofRank(int rank) {
        return values()[rank];
    }

    /** The priority named {@code id}, if it is one. */
    public static Optional<Priority> parse(String id) {
        for (Priority p : values()) {
            if (p.id().equals(id)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
