package io.denoise;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.Set;

/**
 * Which roles this process runs, chosen at start from {@code denoise.roles} ({@code api}, {@code worker}, or both —
 * the default, for local runs and tests), so one image serves both Deployments.
 */
@ApplicationScoped
public class Roles {

    public static final String API = "api";
    public static final String WORKER = "worker";
    public static final String DEFAULT = API + "," + WORKER;

    @ConfigProperty(name = "denoise.roles", defaultValue = DEFAULT)
    Set<String> roles;

    /** Roles given directly rather than by configuration (the command line, tests). */
    public static Roles of(String... names) {
        Roles r = new Roles();
        r.roles = Set.of(names);
        return r;
    }

    public boolean api() {
        return roles.contains(API);
    }

    public boolean worker() {
        return roles.contains(WORKER);
    }
}
