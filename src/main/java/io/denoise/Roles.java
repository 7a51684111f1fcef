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

    @ConfigProperty(name = "denoise.roles", defaultValue = "api,worker")
    Set<String> roles;

    public boolean api() {
        return roles.contains("api");
    }

    public boolean worker() {
        return roles.contains("worker");
    }
}
