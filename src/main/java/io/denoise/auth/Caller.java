package io.denoise.auth;

import java.util.Set;
import java.util.UUID;

/** Who made a request: the key it carried, the key's tenant and scopes. */
public record Caller(UUID keyId, String tenant, Set<Scope> scopes) {

    public boolean may(Scope scope) {
        return scopes.contains(scope);
    }
}
