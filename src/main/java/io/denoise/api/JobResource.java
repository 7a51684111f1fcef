package io.denoise.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobImage;
import io.denoise.jobs.JobParameters;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.JobStore;
import io.denoise.messaging.EventPublisher;
import io.denoise.messaging.JobEvent;
import io.denoise.messaging.JobRecord;
import io.denoise.messaging.Topics;
import io.denoise.storage.ImageStore;
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

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.Locale;

/** Submit, read, list and cancel jobs, and fetch their images. */
@Path("/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
public class JobResource {

    private static final ObjectMapper CANONICAL = new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);
    private static final int MAX_IDEMPOTENCY_KEY = 255;

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

    /** The list response: a page of jobs, newest first, and the cursor of the next page. */
    public record JobPage(List<JobView> jobs, String nextCursor) {
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Submit a generation job", description = "Returns 202 with the job; Idempotency-Key makes retries safe.")
    public Response submit(String body, @HeaderParam("Idempotency-Key") String idempotencyKey)
            throws ImageStore.StorageException {
        JsonNode node;
        try {
            node = json.readTree(body == null ? "" : body);
        } catch (JsonProcessingException e) {
            throw new InvalidFieldException("body", "is not valid JSON: " + e.getOriginalMessage());
        }
        if (idempotencyKey != null && (idempotencyKey.isBlank() || idempotencyKey.length() > MAX_IDEMPOTENCY_KEY)) {
            throw new InvalidFieldException("Idempotency-Key", "must be 1 to " + MAX_IDEMPOTENCY_KEY + " characters");
        }
        String hash = hash(node);
        if (idempotencyKey != null) {
            Job existing = store.findByIdempotencyKey(idempotencyKey).orElse(null);
            if (existing != null) {
                return replay(existing, idempotencyKey, hash);
            }
        }
        JobRequestValidator.ValidatedJob job = validator.validate(node);
        UUID id = UUID.randomUUID();
        JobParameters params = job.parameters();
        if (job.initImage() != null) {
            String key = ImageStore.initImageKey(id);
            images.put(key, job.initImage(), "application/octet-stream");
            params = new JobParameters(params.prompt(), params.negativePrompt(), params.width(), params.height(),
                    params.numInferenceSteps(), params.guidanceScale(), params.scheduler(), params.seed(),
                    params.numImages(), key, params.strength(), params.eta(), params.preview(), params.previewEvery());
        }
        Job saved;
        try {
            saved = store.submit(id, job.model(), params, idempotencyKey, hash, topics.jobs(job.model()),
                    write(new JobRecord(id, job.model())));
        } catch (PersistenceException e) {
            Job raced = idempotencyKey == null ? null : store.findByIdempotencyKey(idempotencyKey).orElse(null);
            if (raced == null) {
                throw e;
            }
            return replay(raced, idempotencyKey, hash);
        }
        return Response.accepted(view(saved, false)).location(URI.create("/v1/jobs/" + saved.id)).build();
    }

    private Response replay(Job existing, String key, String hash) {
        if (!existing.requestHash.equals(hash)) {
            throw new JobStore.IdempotencyConflictException(key);
        }
        return Response.accepted(view(existing, false)).location(URI.create("/v1/jobs/" + existing.id)).build();
    }

    @GET
    @Path("/{id}")
    @Operation(summary = "A job's status, progress, parameters, images and error")
    public JobView get(@PathParam("id") String id) {
        return view(find(id));
    }

    @GET
    @Operation(summary = "List jobs, newest first")
    public JobPage list(@QueryParam("status") String status, @QueryParam("limit") Integer limit,
                        @QueryParam("cursor") String cursor) {
        JobStatus filter = null;
        if (status != null) {
            try {
                filter = JobStatus.valueOf(status.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new InvalidFieldException("status", "must be one of " + List.of(JobStatus.values()));
            }
        }
        int size = limit == null ? 20 : limit;
        if (size < 1 || size > config.maxPageSize()) {
            throw new InvalidFieldException("limit", "must be between 1 and " + config.maxPageSize());
        }
        Instant afterAt = null;
        UUID afterId = null;
        if (cursor != null) {
            try {
                String[] parts = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8).split("/", 2);
                afterAt = Instant.parse(parts[0]);
                afterId = UUID.fromString(parts[1]);
            } catch (RuntimeException e) {
                throw new InvalidFieldException("cursor", "is not a cursor this API returned");
            }
        }
        List<Job> jobs = store.list(filter, afterAt, afterId, size + 1);
        String next = null;
        if (jobs.size() > size) {
            jobs = jobs.subList(0, size);
            Job last = jobs.get(size - 1);
            next = Base64.getUrlEncoder().withoutPadding().encodeToString(
                    (last.createdAt + "/" + last.id).getBytes(StandardCharsets.UTF_8));
        }
        return new JobPage(jobs.stream().map(this::view).toList(), next);
    }

    @DELETE
    @Path("/{id}")
    @Operation(summary = "Cancel a queued or running job", description = "409 once the job has finished.")
    public Response cancel(@PathParam("id") String id) {
        UUID jobId = parseId(id);
        return switch (store.requestCancel(jobId)) {
            case CANCELLED -> {
                events.publish(JobEvent.of(jobId, 0, JobEvent.FINAL_SEQ, JobEvent.CANCELLED));
                yield Response.ok(view(find(id))).build();
            }
            case REQUESTED -> {
                events.broadcastCancel(jobId);
                yield Response.accepted(view(find(id))).build();
            }
            case ALREADY_FINISHED -> ApiExceptionMappers.json(Response.Status.CONFLICT,
                    ErrorBody.of("already_finished", "job " + id + " has already finished"));
            case NOT_FOUND -> throw new NotFoundException("no job " + id);
        };
    }

    @POST
    @Path("/{id}/cancel")
    @Operation(summary = "Cancel a queued or running job (same as DELETE)")
    public Response cancelByPost(@PathParam("id") String id) {
        return cancel(id);
    }

    @GET
    @Path("/{id}/images/{index}")
    @Produces("image/png")
    @Operation(summary = "One image of a finished job", description = "The PNG, or with redirect=true a 307 to a presigned URL.")
    public Response image(@PathParam("id") String id, @PathParam("index") int index,
                                      @QueryParam("redirect") boolean redirect) throws ImageStore.StorageException {
        Job job = find(id);
        List<JobImage> stored = store.images(job);
        JobImage image = stored.stream().filter(i -> i.index() == index).findFirst()
                .orElseThrow(() -> new NotFoundException("job " + id + " has no image " + index
                        + (job.status == JobStatus.SUCCEEDED ? "" : " (it is " + job.status + ")")));
        if (redirect) {
            return Response.temporaryRedirect(URI.create(images.presignedGet(image.key(), 600))).build();
        }
        byte[] png = images.get(image.key()).orElseThrow(() -> new NotFoundException("image " + index + " is missing from the store"));
        StreamingOutput body = out -> out.write(png);
        return Response.ok(body, "image/png").header("Cache-Control", "public, max-age=31536000, immutable").build();
    }

    private Job find(String id) {
        return store.find(parseId(id)).orElseThrow(() -> new NotFoundException("no job " + id));
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
        return JobView.of(job, store.parameters(job), store.images(job),
                withQueuePosition && job.status == JobStatus.QUEUED ? store.queuePosition(job) : null);
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SHA-256 of the body with object keys sorted, so the same request in another key order is the same request. */
    static String hash(JsonNode body) {
        try {
            Object canonical = CANONICAL.treeToValue(body, Object.class);
            byte[] bytes = CANONICAL.writeValueAsBytes(canonical == null ? Map.of() : canonical);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (JsonProcessingException | NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
