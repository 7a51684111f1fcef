package io.denoise.api;

import io.denoise.jobs.JobStore;
import io.denoise.storage.ImageStore;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Maps failures to the API's error bodies; bad input is never a 500. */
public class ApiExceptionMappers {

    private static final Logger LOG = Logger.getLogger(ApiExceptionMappers.class);

    @ServerExceptionMapper
    public Response invalidField(InvalidFieldException e) {
        return json(Response.Status.BAD_REQUEST, ErrorBody.invalid(e.field(), e.getMessage()));
    }

    @ServerExceptionMapper
    public Response idempotencyConflict(JobStore.IdempotencyConflictException e) {
        return json(Response.Status.CONFLICT, ErrorBody.of("idempotency_conflict", e.getMessage()));
    }

    @ServerExceptionMapper
    public Response notFound(NotFoundException e) {
        return json(Response.Status.NOT_FOUND, ErrorBody.of("not_found", e.getMessage()));
    }

    @ServerExceptionMapper
    public Response storage(ImageStore.StorageException e) {
        LOG.warn("image store unavailable", e);
        return json(Response.Status.SERVICE_UNAVAILABLE, ErrorBody.of("storage_unavailable",
                "the image store is unavailable; try again"));
    }

    static Response json(Response.Status status, ErrorBody body) {
        return Response.status(status).type(MediaType.APPLICATION_JSON_TYPE).entity(body).build();
    }
}
