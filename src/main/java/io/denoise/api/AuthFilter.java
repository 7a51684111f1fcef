package io.denoise.api;

import io.denoise.auth.ApiKeys;
import io.denoise.auth.Caller;
import io.denoise.auth.CurrentCaller;
import io.denoise.auth.Scope;
import jakarta.inject.Inject;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * Every {@code /v1} and {@code /sdapi} request carries a key: {@code Authorization: Bearer <key>} (the AUTOMATIC1111
 * routes also take HTTP Basic with the key as the password, as its {@code --api-auth} clients send). No key or an
 * unknown or revoked one is a 401 with {@code WWW-Authenticate: Bearer}; a key without the route's scope
 * ({@code admin} under {@code /v1/admin}, {@code jobs} elsewhere) a 403. Runs on the request's worker thread, where
 * the key's lookup may block.
 */
public class AuthFilter {

    static final String CHALLENGE = "Bearer realm=\"denoise\"";

    @Inject
    ApiKeys keys;

    @Inject
    CurrentCaller current;

    @ServerRequestFilter(priority = Priorities.AUTHENTICATION)
    public Optional<Response> authenticate(ContainerRequestContext request) {
        String path = request.getUriInfo().getPath();
        boolean automatic1111 = path.startsWith("/sdapi/");
        if (!path.startsWith("/v1/") && !automatic1111) {
            return Optional.empty();
        }
        String key = key(request.getHeaderString(HttpHeaders.AUTHORIZATION), automatic1111);
        if (key == null) {
            return Optional.of(unauthorized("an API key is required: Authorization: Bearer <key>"));
        }
        Optional<Caller> caller = keys.authenticate(key);
        if (caller.isEmpty()) {
            return Optional.of(unauthorized("the API key is unknown or revoked"));
        }
        Scope needed = path.startsWith("/v1/admin/") || path.equals("/v1/admin") ? Scope.ADMIN : Scope.JOBS;
        if (!caller.get().may(needed)) {
            return Optional.of(ApiExceptionMappers.json(Response.Status.FORBIDDEN,
                    ErrorBody.of("forbidden", "this key lacks the " + needed.id() + " scope")));
        }
        current.set(caller.get());
        return Optional.empty();
    }

    /** The key in an Authorization header, or null. */
    static String key(String authorization, boolean basicToo) {
        if (authorization == null) {
            return null;
        }
        String value = authorization.trim();
        if (value.regionMatches(true, 0, "Bearer ", 0, 7)) {
            String key = value.substring(7).trim();
            return key.isEmpty() ? null : key;
        }
        if (basicToo && value.regionMatches(true, 0, "Basic ", 0, 6)) {
            try {
                String pair = new String(Base64.getDecoder().decode(value.substring(6).trim()), StandardCharsets.UTF_8);
                int colon = pair.indexOf(':');
                return colon < 0 || colon == pair.length() - 1 ? null : pair.substring(colon + 1);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        return null;
    }

    private static Response unauthorized(String message) {
        return Response.fromResponse(ApiExceptionMappers.json(Response.Status.UNAUTHORIZED, ErrorBody.of("unauthorized", message)))
                .header(HttpHeaders.WWW_AUTHENTICATE, CHALLENGE).build();
    }
}
