package io.denoise.auth;

import io.denoise.jobs.Priority;

import java.util.Set;
import java.util.UUID;

/** Who made a request: the key it carried, the key's tenant and scopes, and the highest priority its jobs may ask for. */
public record Caller(UUID keyId, String tenant, Set<Scope> scopes, Priority maxPriority) {

    public boolean may(Scope scope) {
        return scopes.contains(scope);
    }
}
