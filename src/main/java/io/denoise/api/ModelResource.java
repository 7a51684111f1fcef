package io.denoise.api;

import io.denoise.jobs.ModelCard;
import io.denoise.jobs.ModelRegistry;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.List;

/** {@code GET /v1/models}: the models workers serve, with their defaults and limits. */
@Path("/v1/models")
@Produces(MediaType.APPLICATION_JSON)
public class ModelResource {

    @Inject
    ModelRegistry models;

    /** The response body. */
    public record Models(List<ModelCard> models) {
    }

    @GET
    @Tag(name = "models", description = "What the workers serve")
    @Operation(operationId = "listModels", summary = "Models the workers serve, with defaults, limits and schedulers")
    @APIResponse(responseCode = "200", description = "The models",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Models.class)))
    public Models list() {
        return new Models(List.copyOf(models.all().values()));
    }
}
