package io.denoise.auth;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/** What a key may do: {@code jobs} submits, reads and cancels its tenant's jobs and sweeps; {@code admin} manages keys. */
public enum Scope {
    JOBS, ADMIN;

    /** The scope as stored and shown: lower case. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    static String join(Set<Scope> scopes) {
        return scopes.stream().sorted().map(Scope::id).collect(Collectors.joining(","));
    }

    static Set<Scope> parse(String stored) {
        Set<Scope> scopes = EnumSet.noneOf(Scope.class);
        for (String s : stored.split(",")) {
            if (!s.isBlank()) {
                scopes.add(valueOf(s.trim().toUpperCase(Locale.ROOT)));
            }
        }
        return scopes;
    }
}
