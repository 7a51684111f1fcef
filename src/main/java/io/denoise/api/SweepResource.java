package io.denoise.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.denoise.auth.CurrentCaller;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobStore;
import io.denoise.jobs.ModelCard;
import io.denoise.jobs.Quotas;
import io.denoise.jobs.Sweep;
import io.denoise.jobs.SweepStore;
import io.denoise.messaging.JobRecord;
import io.denoise.messaging.Topics;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.recipe.SweepPlan;
import io.denoise.storage.ImageStore;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.io.InputStream;
import java.math.BigInteger;
import java.net.URI;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Sweeps: one request fans out into one ordinary job per cell (each with its own id, events, images and
 * cancellation) under one sweep id; when every cell has ended, the grid is drawn and stored beside the images.
 */
@Path("/v1/sweeps")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "sweeps", description = "Comparison studies: one recipe over one or two axes, and their grid")
@APIResponse(responseCode = "503", description = "The job database or image store cannot be reached, or (on submit) the "
        + "model's queue is longer than its workers can clear in time; retry after Retry-After seconds (error "
        + "database_unavailable, storage_unavailable or over_capacity)",
        headers = @Header(name = "Retry-After", description = "Seconds to wait", schema = @Schema(type = SchemaType.INTEGER)),
        content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
public class SweepResource {

    /** A sweep's submit body, as the OpenAPI document types it. */
    @Schema(name = "SweepRequest")
    public record SweepRequest(
            @Schema(required = true, description = "The recipe every cell starts from: any POST /v1/jobs body. "
                    + "Without a seed, one random seed is drawn and shared by every cell.") JobSubmission base,
            @Schema(required = true) AxisRequest x,
            @Schema(description = "A second axis (rows)") AxisRequest y) {
    }

    /** An axis of a sweep request. */
    @Schema(name = "SweepAxis")
    public record AxisRequest(
            @Schema(required = true, enumeration = {"guidanceScale", "seed", "numInferenceSteps", "scheduler", "strength",
                    "eta", "negativePrompt", "prompt"}, description = "The field the axis varies; prompt is a search "
                    + "and replace: the first value must appear in base.prompt and each value replaces it") String field,
            @Schema(required = true, description = "The values, numbers or strings as the field takes them; no repeats",
                    minItems = 1, type = SchemaType.ARRAY) List<Object> values) {
    }

    @Inject
    SweepStore sweeps;

    @Inject
    JobRequestValidator validator;

    @Inject
    ImageStore images;

    @Inject
    Topics topics;

    @Inject
    ObjectMapper json;

    @Inject
    ApiConfig config;

    @Inject
    JobCancels cancels;

    @Inject
    SweepGrids grids;

    @Inject
    CurrentCaller caller;

    @Inject
    Quotas quotas;

    private final SecureRandom random = new SecureRandom();

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(operationId = "submitSweep", summary = "Submit a sweep: a recipe over one or two axes",
            description = "Every cell is checked before anything is stored (a 400 names the axis value, e.g. "
                    + "x.values[3], or base.<field>, and the rule); at most denoise.api.max-sweep-cells (64) cells.")
    @RequestBody(required = true, content = @Content(mediaType = MediaType.APPLICATION_JSON,
            schema = @Schema(implementation = SweepRequest.class),
            examples = @ExampleObject(name = "guidance study", value = "{\"base\":{\"prompt\":\"a red circle on a white "
                    + "background\",\"seed\":\"7\"},\"x\":{\"field\":\"guidanceScale\",\"values\":[0.25,0.5,1,2,4,6,8,10,20]}}")))
    @APIResponse(responseCode = "202", description = "Accepted: the sweep, its cells QUEUED",
            headers = @Header(name = "Location", description = "The sweep's URL", schema = @Schema(type = SchemaType.STRING)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = SweepView.class)))
    @APIResponse(responseCode = "429", description = "The tenant has its most jobs queued or running (quota_exceeded) "
            + "or submits faster than its rate (rate_limited); retry after Retry-After seconds",
            headers = @Header(name = "Retry-After", description = "Seconds to wait", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "400", description = "The study or a cell breaks a rule (invalid_request, field names it)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Response submit(InputStream body) throws ImageStore.StorageException {
        SweepPlan asked = SweepPlan.read(JobResource.parse(json, body), config.maxSweepCells());
        ObjectNode base = asked.base();
        UUID id = UUID.randomUUID();
        ModelCard model;
        byte[] initImage;
        JobStore.Handling handling;
        try {
            validator.checkShape(base);
            model = validator.model(base);
            initImage = validator.initImage(base, model);
            handling = validator.handling(base, caller.maxPriority());
        } catch (InvalidRequestException e) {
            throw new InvalidRequestException("base." + e.field(), e.rule());
        }
        base.remove("initImage"); // uploaded once, read by every cell
        boolean seedAxis = asked.x().field().equals("seed") || (asked.y() != null && asked.y().field().equals("seed"));
        if (!seedAxis && !base.hasNonNull("seed")) {
            base.put("seed", new BigInteger(64, random).toString());
        }
        SweepPlan plan = new SweepPlan(base, asked.x(), asked.y());
        String initKey = initImage == null ? null : ImageStore.sweepInitImageKey(caller.tenant(), id);
        String topic = topics.jobs(model.name());
        List<SweepStore.Cell> cells = new ArrayList<>();
        for (int i = 0; i < plan.cells(); i++) {
            ObjectNode cell = plan.cell(i);
            GenerationRequest request;
            try {
                validator.checkShape(cell);
                request = validator.request(cell, model, initKey);
                quotas.checkSize(caller.tenant(), request);
            } catch (InvalidRequestException e) {
                throw plan.blame(i, e);
            }
            UUID jobId = UUID.randomUUID();
            cells.add(new SweepStore.Cell(jobId, request, new JobRecord(jobId, model.name()).toJson()));
        }
        quotas.checkCapacity(caller.tenant(), model.name(), cells.size());
        if (initKey != null) {
            images.put(initKey, initImage, "application/octet-stream");
        }
        Sweep sweep;
        try {
            sweep = sweeps.submit(caller.tenant(), id, model.name(), plan.toJson().toString(), plan.columns(), plan.rows(), topic, cells,
                    handling);
        } catch (RuntimeException e) {
            if (initKey != null) {
                images.deleteQuietly(initKey);
            }
            throw e;
        }
        quotas.submitted(caller.tenant(), cells.size());
        return Response.accepted(SweepView.of(sweep, plan, sweeps.cells(id)))
                .location(URI.create("/v1/sweeps/" + id)).build();
    }

    @GET
    @Path("/{id}")
    @Operation(operationId = "getSweep", summary = "A sweep's cells, progress and grid")
    @APIResponse(responseCode = "200", description = "The sweep",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = SweepView.class)))
    @APIResponse(responseCode = "404", description = "No such sweep (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public SweepView get(@PathParam("id") String id) {
        return view(find(id));
    }

    @DELETE
    @Path("/{id}")
    @Operation(operationId = "cancelSweep", summary = "Cancel the cells of a sweep still to run",
            description = "Queued cells end CANCELLED at once, running ones within a step; finished cells keep their "
                    + "images, and the grid marks the cancelled ones. 409 once every cell has ended.")
    @APIResponse(responseCode = "202", description = "Cancelled or asked to stop: the sweep",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = SweepView.class)))
    @APIResponse(responseCode = "404", description = "No such sweep (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "409", description = "Every cell has already ended (already_finished)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Response cancel(@PathParam("id") String id) {
        Sweep sweep = find(id);
        int asked = 0;
        for (Job cell : sweeps.cells(sweep.id)) {
            if (!cell.status.isTerminal()) {
                switch (cancels.cancel(cell.id)) {
                    case CANCELLED, REQUESTED -> asked++;
                    default -> { }
                }
            }
        }
        if (asked == 0) {
            return ApiExceptionMappers.json(Response.Status.CONFLICT,
                    ErrorBody.of("already_finished", "every cell of sweep " + id + " has already ended"));
        }
        return Response.accepted(view(sweep)).build();
    }

    @GET
    @Path("/{id}/grid")
    @Produces({"image/png", MediaType.APPLICATION_JSON})
    @Operation(operationId = "getSweepGrid", summary = "The sweep's labelled grid",
            description = "A PNG: axis titles and values written on it, cells in axis order, failed or cancelled cells "
                    + "marked; its sweep text chunk holds the plan (base recipe and axes) as JSON. With redirect=true, a "
                    + "307 to a presigned URL.")
    @APIResponse(responseCode = "200", description = "The grid",
            content = @Content(mediaType = "image/png", schema = @Schema(type = SchemaType.STRING, format = "binary")))
    @APIResponse(responseCode = "307", description = "redirect=true: the presigned S3 URL, valid 10 minutes")
    @APIResponse(responseCode = "404", description = "No such sweep (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "409", description = "Cells are still running, or the grid is being drawn (not_ready); "
            + "retry after Retry-After seconds",
            headers = @Header(name = "Retry-After", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "500", description = "The grid could not be drawn (grid_failed, with the reason)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Response grid(@PathParam("id") String id, @QueryParam("redirect") boolean redirect)
            throws ImageStore.StorageException {
        Sweep sweep = find(id);
        String key = sweep.gridKey;
        if (key == null && sweep.gridError == null) {
            key = grids.draw(sweep.id).orElse(null);
            sweep = find(id);
        }
        if (sweep.gridError != null) {
            return ApiExceptionMappers.json(Response.Status.INTERNAL_SERVER_ERROR,
                    ErrorBody.of("grid_failed", "the grid of sweep " + id + " could not be drawn: " + sweep.gridError));
        }
        if (key == null) {
            long running = sweeps.cells(sweep.id).stream().filter(c -> !c.status.isTerminal()).count();
            return Response.status(Response.Status.CONFLICT).type(MediaType.APPLICATION_JSON_TYPE)
                    .entity(ErrorBody.of("not_ready", running > 0 ? running + " of " + sweep.cells()
                            + " cells are still to end" : "the grid is being drawn"))
                    .header("Retry-After", running > 0 ? 2 : 1).build();
        }
        return ImageResponses.png(images, key, redirect);
    }

    Sweep find(String id) {
        UUID sweepId = JobResource.parseId(id);
        return sweeps.find(caller.tenant(), sweepId).orElseThrow(() -> new NotFoundException("no sweep " + id));
    }

    SweepView view(Sweep sweep) {
        return SweepView.of(sweep, grids.plan(sweep), sweeps.cells(sweep.id));
    }

}
