package io.denoise.api;

import io.denoise.Roles;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.util.Optional;

/** A process without the {@code api} role answers no API request (worker pods still serve health and metrics). */
public class ApiRoleFilter {

    @Inject
    Roles roles;

    @ServerRequestFilter(preMatching = true)
    public Optional<Response> onlyWithApiRole(ContainerRequestContext request) {
        if (!roles.api() && (request.getUriInfo().getPath().startsWith("/v1/")
                || request.getUriInfo().getPath().startsWith("/sdapi/"))) {
            return Optional.of(ApiExceptionMappers.json(Response.Status.NOT_FOUND,
                    ErrorBody.of("not_found", "this process does not run the api role")));
        }
        return Optional.empty();
    }
}
