package io.denoise.api;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.denoise.auth.CurrentCaller;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobImage;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.JobStore;
import io.denoise.jobs.QueueMetrics;
import io.denoise.jobs.Quotas;
import io.denoise.messaging.EventPublisher;
import io.denoise.messaging.JobRecord;
import io.denoise.messaging.Topics;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.storage.ImageStore;
import io.denoise.webhooks.WebhookDeliveries;
import jakarta.inject.Inject;
import jakarta.persistence.PersistenceException;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/** Submit, read, list and cancel jobs, and fetch their images. */
@Path("/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "jobs", description = "Submit, follow, list and cancel generation jobs; fetch their images")
@APIResponse(responseCode = "503", description = "The job database or image store cannot be reached, or (on submit) the "
        + "model's queue is longer than its workers can clear in time; retry after Retry-After seconds (error "
        + "database_unavailable, storage_unavailable or over_capacity)",
        headers = @Header(name = "Retry-After", description = "Seconds to wait", schema = @Schema(type = SchemaType.INTEGER)),
        content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
public class JobResource {

    private static final ObjectMapper CANONICAL = new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);
    private static final int MAX_IDEMPOTENCY_KEY = 255;
    private static final String DUPLICATE_FIELD = "Duplicate field '";
    private static final Logger LOG = Logger.getLogger(JobResource.class);

    @Inject
    JobStore store;

    @Inject
    JobRequestValidator validator;

    @Inject
    ImageStore images;

    @Inject
    EventPublisher events;

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

    @Inject
    WebhookDeliveries webhookDeliveries;

    @Inject
    QueueMetrics queues;

    /** The list response: a page of jobs, newest first, and the cursor of the next page. */
    public record JobPage(List<JobView> jobs, String nextCursor) {
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(operationId = "submitJob", summary = "Submit a generation job",
            description = "Answers 202 with the queued job and its Location; Idempotency-Key makes retries safe "
                    + "(the same key and body answer the same job, another body 409).")
    @RequestBody(required = true, content = @Content(mediaType = MediaType.APPLICATION_JSON,
            schema = @Schema(implementation = JobSubmission.class),
            examples = {
                @ExampleObject(name = "text-to-image", value = "{\"prompt\":\"a red circle on a white background\",\"seed\":\"7\"}"),
                @ExampleObject(name = "with previews", value = "{\"prompt\":\"a blue square on a black background\","
                        + "\"numInferenceSteps\":30,\"scheduler\":\"dpmpp-2m-karras\",\"numImages\":2,\"preview\":\"approx\"}")}))
    @APIResponse(responseCode = "202", description = "Accepted: the job, QUEUED",
            headers = @Header(name = "Location", description = "The job's URL", schema = @Schema(type = SchemaType.STRING)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "429", description = "The tenant has its most jobs queued or running (quota_exceeded) "
            + "or submits faster than its rate (rate_limited); retry after Retry-After seconds",
            headers = @Header(name = "Retry-After", description = "Seconds to wait", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "400", description = "A field breaks a rule (error invalid_request, field names it)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class),
                    examples = @ExampleObject(name = "width", value = "{\"error\":\"invalid_request\",\"field\":\"width\","
                            + "\"message\":\"width must be a multiple of 8 between 32 and 256\"}")))
    @APIResponse(responseCode = "409", description = "The Idempotency-Key was used with another body (idempotency_conflict)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "413", description = "The body is larger than quarkus.http.limits.max-body-size (16 MiB)")
    public Response submit(InputStream body,
                           @Parameter(description = "Makes a retried submit answer the same job (1 to 255 printable ASCII characters)",
                                   schema = @Schema(type = SchemaType.STRING, maxLength = 255))
                           @HeaderParam("Idempotency-Key") String idempotencyKey)
            throws ImageStore.StorageException {
        if (idempotencyKey != null && !isIdempotencyKey(idempotencyKey)) {
            throw new InvalidRequestException("Idempotency-Key", "must be 1 to " + MAX_IDEMPOTENCY_KEY
                    + " printable ASCII characters");
        }
        JsonNode node = parse(json, body);
        UUID id = UUID.randomUUID();
        JobRequestValidator.ValidatedJob job = validator.validate(node, ImageStore.initImageKey(caller.tenant(), id),
                caller.maxPriority());
        GenerationRequest params = job.request();
        quotas.checkSize(caller.tenant(), params);
        String hash = hash(node);
        if (idempotencyKey != null) {
            Job existing = store.findByIdempotencyKey(caller.tenant(), idempotencyKey).orElse(null);
            if (existing != null) {
                return replay(existing, idempotencyKey, hash);
            }
        }
        quotas.checkCapacity(caller.tenant(), job.model(), 1);
        String initKey = params.initImage();
        if (initKey != null) {
            images.put(initKey, job.initImage(), "application/octet-stream");
        }
        boolean stored = false;
        try {
            Job saved;
            try {
                saved = store.submit(caller.tenant(), id, job.model(), params, job.handling(), idempotencyKey, hash, topics.jobs(job.model()),
                        new JobRecord(id, job.model()).toJson());
            } catch (PersistenceException e) {
                Job raced = idempotencyKey == null ? null : store.findByIdempotencyKey(caller.tenant(), idempotencyKey).orElse(null);
                if (raced == null) {
                    throw e;
                }
                return replay(raced, idempotencyKey, hash);
            }
            stored = true;
            quotas.submitted(caller.tenant(), 1);
            // the request as validated is what was stored: no need to read it back from the row
            return Response.accepted(JobView.of(saved, params, List.of(), null))
                    .location(URI.create("/v1/jobs/" + saved.id)).build();
        } finally {
            if (!stored && initKey != null) {
                images.deleteQuietly(initKey);
            }
        }
    }

    /** The body parsed once, straight from the request stream; a key given twice is refused, naming it. */
    static JsonNode parse(ObjectMapper json, InputStream body) {
        if (body == null) {
            throw new InvalidRequestException("body", "is not valid JSON: no content");
        }
        try {
            JsonNode node = json.reader().with(StreamReadFeature.STRICT_DUPLICATE_DETECTION).readTree(body);
            if (node == null || node.isMissingNode()) {
                throw new InvalidRequestException("body", "is not valid JSON: no content");
            }
            return node;
        } catch (JsonParseException e) {
            String message = e.getOriginalMessage();
            if (message != null && message.startsWith(DUPLICATE_FIELD)) {
                int close = message.lastIndexOf('\'');
                String name = close > DUPLICATE_FIELD.length() ? message.substring(DUPLICATE_FIELD.length(), close) : "body";
                throw new InvalidRequestException(JobRequestValidator.printable(name), "is given more than once");
            }
            throw new InvalidRequestException("body", "is not valid JSON: " + e.getOriginalMessage());
        } catch (JsonProcessingException e) {
            throw new InvalidRequestException("body", "is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidRequestException("body", "could not be read: " + e.getMessage());
        }
    }

    private static boolean isIdempotencyKey(String key) {
        if (key.isBlank() || key.length() > MAX_IDEMPOTENCY_KEY) {
            return false;
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                return false;
            }
        }
        return true;
    }

    private Response replay(Job existing, String key, String hash) {
        if (!existing.requestHash.equals(hash)) {
            throw new JobStore.IdempotencyConflictException(key);
        }
        return Response.accepted(view(existing, false)).location(URI.create("/v1/jobs/" + existing.id)).build();
    }

    @GET
    @Path("/{id}")
    @Operation(operationId = "getJob", summary = "A job's status, progress, parameters, images and error")
    @APIResponse(responseCode = "200", description = "The job",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "404", description = "No such job (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public JobView get(@PathParam("id") String id) {
        return view(find(id));
    }

    @GET
    @Operation(operationId = "listJobs", summary = "List jobs, newest first",
            description = "Cursor-paged: pass nextCursor back as cursor for the next page; no nextCursor on the last.")
    @APIResponse(responseCode = "200", description = "A page of jobs",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobPage.class)))
    @APIResponse(responseCode = "400", description = "A bad status, limit or cursor (invalid_request naming it)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public JobPage list(@Parameter(description = "Only jobs in this status",
                                schema = @Schema(enumeration = {"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"}))
                        @QueryParam("status") String status,
                        @Parameter(description = "Page size, 1 to denoise.api.max-page-size (100)",
                                schema = @Schema(type = SchemaType.INTEGER, minimum = "1", maximum = "100", defaultValue = "20"))
                        @QueryParam("limit") String limit,
                        @Parameter(description = "The nextCursor of the previous page")
                        @QueryParam("cursor") String cursor) {
        JobStatus filter = null;
        if (status != null) {
            try {
                filter = JobStatus.valueOf(status.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new InvalidRequestException("status", "must be one of " + List.of(JobStatus.values()));
            }
        }
        int size = limit == null ? 20 : parseLimit(limit);
        if (size < 1 || size > config.maxPageSize()) {
            throw new InvalidRequestException("limit", "must be between 1 and " + config.maxPageSize());
        }
        Instant afterAt = null;
        UUID afterId = null;
        if (cursor != null) {
            try {
                String[] parts = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8).split("/", 2);
                afterAt = Instant.parse(parts[0]);
                afterId = UUID.fromString(parts[1]);
            } catch (RuntimeException e) {
                throw new InvalidRequestException("cursor", "is not a cursor this API returned");
            }
        }
        List<Job> jobs = store.list(caller.tenant(), filter, afterAt, afterId, size + 1);
        String next = null;
        if (jobs.size() > size) {
            jobs = jobs.subList(0, size);
            Job last = jobs.get(size - 1);
            next = Base64.getUrlEncoder().withoutPadding().encodeToString(
                    (last.createdAt + "/" + last.id).getBytes(StandardCharsets.UTF_8));
        }
        return new JobPage(jobs.stream().map(this::view).toList(), next);
    }

    private int parseLimit(String limit) {
        String digits = limit.trim();
        if (digits.isEmpty() || digits.length() > 9 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new InvalidRequestException("limit", "must be between 1 and " + config.maxPageSize());
        }
        return Integer.parseInt(digits);
    }

    @DELETE
    @Path("/{id}")
    @Operation(operationId = "cancelJob", summary = "Cancel a queued or running job", description = "409 once the job has finished.")
    @APIResponse(responseCode = "200", description = "A queued job, cancelled at once (CANCELLED)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "202", description = "A running job, asked to stop within one step (a cancelled event follows)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "404", description = "No such job (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "409", description = "The job has already finished (already_finished)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Response cancel(@PathParam("id") String id) {
        UUID jobId = find(id).id;
        return switch (cancels.cancel(jobId)) {
            case CANCELLED -> Response.ok(view(find(id))).build();
            case REQUESTED -> Response.accepted(view(find(id))).build();
            case ALREADY_FINISHED -> ApiExceptionMappers.json(Response.Status.CONFLICT,
                    ErrorBody.of("already_finished", "job " + id + " has already finished"));
            case NOT_FOUND -> throw new NotFoundException("no job " + id);
        };
    }

    @POST
    @Path("/{id}/cancel")
    @Operation(operationId = "cancelJobByPost", summary = "Cancel a queued or running job (same as DELETE)")
    @APIResponse(responseCode = "200", description = "A queued job, cancelled at once (CANCELLED)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "202", description = "A running job, asked to stop within one step (a cancelled event follows)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "404", description = "No such job (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "409", description = "The job has already finished (already_finished)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Response cancelByPost(@PathParam("id") String id) {
        return cancel(id);
    }

    @GET
    @Path("/{id}/images/{index}")
    @Produces("image/png")
    @Operation(operationId = "getJobImage", summary = "One image of a finished job",
            description = "The PNG (its recipe in a parameters text chunk), or with redirect=true a 307 to a presigned URL.")
    @APIResponse(responseCode = "200", description = "The PNG",
            content = @Content(mediaType = "image/png", schema = @Schema(type = SchemaType.STRING, format = "binary")))
    @APIResponse(responseCode = "307", description = "redirect=true: the presigned S3 URL, valid 10 minutes",
            headers = @Header(name = "Location", description = "The presigned URL", schema = @Schema(type = SchemaType.STRING)))
    @APIResponse(responseCode = "404", description = "No such job (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Response image(@PathParam("id") String id,
                          @Parameter(description = "The image's index, 0 to numImages - 1",
                                  schema = @Schema(type = SchemaType.INTEGER, minimum = "0"))
                          @PathParam("index") String indexText,
                          @QueryParam("redirect") boolean redirect) throws ImageStore.StorageException {
        Job job = find(id);
        int index = parseIndex(indexText, id);
        List<JobImage> stored = store.images(job);
        JobImage image = stored.stream().filter(i -> i.index() == index).findFirst()
                .orElseThrow(() -> new NotFoundException("job " + id + " has no image " + index
                        + (job.status == JobStatus.SUCCEEDED ? "" : " (it is " + job.status + ")")));
        return ImageResponses.png(images, image.key(), redirect);
    }

    @GET
    @Path("/{id}/grid")
    @Produces({"image/png", MediaType.APPLICATION_JSON})
    @Operation(operationId = "getJobGrid", summary = "A finished job's images in one grid",
            description = "The images in ⌈√n⌉ columns, each captioned with its seed; the job's request in a job text chunk.")
    @APIResponse(responseCode = "200", description = "The grid",
            content = @Content(mediaType = "image/png", schema = @Schema(type = SchemaType.STRING, format = "binary")))
    @APIResponse(responseCode = "404", description = "No such job (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "409", description = "The job has not succeeded (not_ready, or not_succeeded once it ended)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Response grid(@PathParam("id") String id) throws ImageStore.StorageException {
        Job job = find(id);
        if (job.status != JobStatus.SUCCEEDED) {
            return ApiExceptionMappers.json(Response.Status.CONFLICT, job.status.isTerminal()
                    ? ErrorBody.of("not_succeeded", "job " + id + " ended " + job.status + " and has no images")
                    : ErrorBody.of("not_ready", "job " + id + " is " + job.status));
        }
        byte[] png = grids.jobGrid(job);
        StreamingOutput body = out -> out.write(png);
        return Response.ok(body, "image/png").build();
    }

    private static int parseIndex(String index, String id) {
        if (index.isEmpty() || index.length() > 9 || !index.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new NotFoundException("job " + id + " has no image " + JobRequestValidator.printable(index));
        }
        return Integer.parseInt(index);
    }

    /** The caller's job {@code id}; another tenant's is a 404, as if it did not exist. */
    Job find(String id) {
        return store.find(caller.tenant(), parseId(id)).orElseThrow(() -> new NotFoundException("no job " + id));
    }

    static UUID parseId(String id) {
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            throw new NotFoundException("no job " + id);
        }
    }

    private JobView view(Job job) {
        return view(job, true);
    }

    /** The job as users see it; the queue position (a count over the queue) only where asked for. */
    private JobView view(Job job, boolean withQueuePosition) {
        Long position = withQueuePosition && job.status == JobStatus.QUEUED ? store.queuePosition(job) : null;
        QueueMetrics.ModelQueue queue = position == null ? null : queues.queue(job.model);
        Long eta = queue == null || queue.clearRate() <= 0 ? null : (long) Math.ceil((position + 1) / queue.clearRate());
        return JobView.of(job, store.parameters(job), store.images(job), position, eta,
                job.webhookUrl == null ? null : webhookDeliveries.summary(job.id));
    }

    /**
     * SHA-256 of the body with object keys sorted, so the same request in another key order is the same request.
     * The canonical form is streamed into the digest, never held whole.
     */
    static String hash(JsonNode body) {
        try {
            Object canonical = CANONICAL.treeToValue(body, Object.class);
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            try (OutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), digest)) {
                CANONICAL.writeValue(out, canonical == null ? Map.of() : canonical);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
