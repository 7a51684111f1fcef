package io.denoise.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.denoise.auth.CurrentCaller;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobImage;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.JobStore;
import io.denoise.jobs.ModelCard;
import io.denoise.jobs.ModelRegistry;
import io.denoise.messaging.JobEvent;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.recipe.RequestRules;
import io.denoise.storage.ImageStore;
import io.smallrye.common.annotation.Blocking;
import io.vertx.core.http.HttpServerRequest;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The AUTOMATIC1111 web UI API under {@code /sdapi/v1}, for the tools that speak it. {@code txt2img} and
 * {@code img2img} submit an ordinary job (through {@link JobResource#submit}, so the same validator, queue, workers
 * and storage), wait for it and answer its images as base64 PNGs; a client that goes away cancels its job.
 * {@code progress} and {@code interrupt} act on this replica's jobs submitted here, as that API acts on its one
 * generation. Fields it does not do are refused (501), never ignored; see {@link Automatic1111}.
 */
@Path("/sdapi/v1")
@Produces(MediaType.APPLICATION_JSON)
@Singleton
@Tag(name = "automatic1111", description = "AUTOMATIC1111 web UI API compatibility (a synchronous wrapper over a job)")
public class Automatic1111Resource {

    private static final Logger LOG = Logger.getLogger(Automatic1111Resource.class);
    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyyMMddHHmmss").withZone(ZoneOffset.UTC);
    private static final String GENERATION_EXAMPLE = "{\"prompt\":\"a red circle on a white background\",\"seed\":7,"
            + "\"steps\":20,\"cfg_scale\":2.5,\"width\":64,\"height\":64,\"sampler_name\":\"PNDM\"}";

    @Inject
    JobResource jobs;

    @Inject
    JobStore store;

    @Inject
    ImageStore images;

    @Inject
    ModelRegistry models;

    @Inject
    EventHub hub;

    @Inject
    ObjectMapper json;

    @Inject
    ApiConfig config;

    @Inject
    CurrentCaller caller;

    @Inject
    JobCancels cancels;

    /** Jobs submitted here and not finished, by job id. */
    private final Map<UUID, Run> running = new ConcurrentHashMap<>();

    /** Re-reads running jobs' rows (so a lost terminal event never leaves a client waiting) and cancels abandoned ones. */
    private final ScheduledExecutorService checks = Executors.newScheduledThreadPool(2, r -> {
        Thread t = new Thread(r, "sdapi-check");
        t.setDaemon(true);
        return t;
    });

    @PreDestroy
    void stop() {
        checks.shutdownNow();
    }

    /** The AUTOMATIC1111 answer to a generation. */
    @Schema(name = "SdGenerationResponse")
    public record GenerationResponse(
            @Schema(description = "The PNGs, base64") List<String> images,
            @Schema(description = "The request's fields as used (init_images left out)") Map<String, Object> parameters,
            @Schema(description = "A JSON string: seed, all_seeds, infotexts (each image's PNG parameters text), ...") String info) {
    }

    /** One of this replica's jobs submitted here, while it runs. */
    private final class Run {
        final UUID id;
        final String tenant;
        final long startedAt = System.currentTimeMillis();
        final CompletableFuture<Job> done = new CompletableFuture<>();
        volatile JobEvent lastProgress;
        volatile boolean interrupted;
        ScheduledFuture<?> check;
        EventHub.Subscription subscription;

        Run(UUID id, String tenant) {
            this.id = id;
            this.tenant = tenant;
        }

        void onEvent(JobEvent event) {
            if (event.type().equals(JobEvent.PROGRESS)) {
                lastProgress = event;
            } else if (event.isTerminal()) {
                checks.execute(this::check);
            }
        }

        void check() {
            try {
                store.find(id).filter(j -> j.status.isTerminal()).ifPresent(done::complete);
            } catch (RuntimeException e) {
                LOG.debugf("status check of sdapi job %s failed (will retry): %s", id, e.getMessage());
            }
        }

        void cancel() {
            try {
                cancels.cancel(id);
            } catch (RuntimeException e) {
                LOG.debugf("cancel of sdapi job %s: %s", id, e.getMessage());
            }
        }
    }

    @POST
    @Path("/txt2img")
    @Consumes(MediaType.APPLICATION_JSON)
    @Blocking
    @Operation(operationId = "sdTxt2img", summary = "AUTOMATIC1111 txt2img",
            description = "Fields: prompt, negative_prompt, steps, cfg_scale, width, height, seed (-1: random), "
                    + "sampler_name (GET /sdapi/v1/samplers), scheduler (Automatic or Karras), batch_size, n_iter "
                    + "(batch_size × n_iter images, seeds seed, seed + 1, ...), eta, override_settings.sd_model_checkpoint. "
                    + "Unset fields take the model's defaults. Hires fix, face restoration, tiling, subseeds, styles, "
                    + "scripts and other override_settings answer 501 naming the field; unknown fields 400. "
                    + "A client that disconnects cancels the job.")
    @RequestBody(content = @Content(mediaType = MediaType.APPLICATION_JSON,
            schema = @Schema(type = SchemaType.OBJECT, additionalProperties = Schema.True.class),
            examples = @ExampleObject(name = "txt2img", value = GENERATION_EXAMPLE)))
    @APIResponse(responseCode = "200", description = "The images (none if interrupted)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = GenerationResponse.class)))
    @APIResponse(responseCode = "400", description = "A field breaks a rule (invalid_request naming it)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "500", description = "The job failed (its error code and message)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "501", description = "A field this service does not do (not_supported naming it)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "503", description = "The job database or image store cannot be reached",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public CompletionStage<Response> txt2img(InputStream body, @Context HttpServerRequest request)
            throws ImageStore.StorageException {
        return generate(body, false, request);
    }

    @POST
    @Path("/img2img")
    @Consumes(MediaType.APPLICATION_JSON)
    @Blocking
    @Operation(operationId = "sdImg2img", summary = "AUTOMATIC1111 img2img",
            description = "As txt2img, plus init_images (one base64 PNG or JPEG, or a data: URL) and "
                    + "denoising_strength (default 0.75). Masks and inpainting, resize_mode other than 0 and more than "
                    + "one init image answer 501.")
    @RequestBody(content = @Content(mediaType = MediaType.APPLICATION_JSON,
            schema = @Schema(type = SchemaType.OBJECT, additionalProperties = Schema.True.class)))
    @APIResponse(responseCode = "200", description = "The images (none if interrupted)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = GenerationResponse.class)))
    @APIResponse(responseCode = "400", description = "A field breaks a rule (invalid_request naming it)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "500", description = "The job failed (its error code and message)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "501", description = "A field this service does not do (not_supported naming it)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "503", description = "The job database or image store cannot be reached",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public CompletionStage<Response> img2img(InputStream body, @Context HttpServerRequest request)
            throws ImageStore.StorageException {
        return generate(body, true, request);
    }

    private CompletionStage<Response> generate(InputStream body, boolean img2img, HttpServerRequest request)
            throws ImageStore.StorageException {
        JsonNode node = JobResource.parse(json, body);
        ObjectNode job;
        try {
            job = Automatic1111.toJob(node, img2img);
        } catch (Automatic1111.NotSupportedException e) {
            return CompletableFuture.completedFuture(ApiExceptionMappers.json(Response.Status.NOT_IMPLEMENTED,
                    new ErrorBody("not_supported", e.field(), e.getMessage())));
        }
        JobView submitted;
        try {
            submitted = (JobView) jobs.submit(new ByteArrayInputStream(json.writeValueAsBytes(job)), null).getEntity();
        } catch (InvalidRequestException e) {
            throw new InvalidRequestException(Automatic1111.clientField(e.field()), e.rule());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        Run run = new Run(UUID.fromString(submitted.id()), caller.tenant());
        running.put(run.id, run);
        run.subscription = hub.reserve(run.id);
        run.subscription.start(-1, run::onEvent);
        long every = Math.max(100, config.eventsIdleCheck().toMillis());
        run.check = checks.scheduleWithFixedDelay(run::check, every, every, TimeUnit.MILLISECONDS);
        request.connection().closeHandler(v -> {
            if (!run.done.isDone()) {
                LOG.infof("sdapi client went away; cancelling job %s", run.id);
                checks.execute(run::cancel);
            }
        });
        return run.done.whenComplete((j, e) -> {
            run.check.cancel(false);
            run.subscription.close();
            running.remove(run.id);
        }).thenApplyAsync(finished -> answer(finished, node, img2img), checks);
    }

    private Response answer(Job job, JsonNode request, boolean img2img) {
        if (job.status == JobStatus.FAILED) {
            return ApiExceptionMappers.json(Response.Status.INTERNAL_SERVER_ERROR,
                    ErrorBody.of(job.errorCode == null ? "failed" : job.errorCode.toLowerCase(java.util.Locale.ROOT),
                            job.errorMessage));
        }
        GenerationRequest p = store.parameters(job);
        List<JobImage> stored = new ArrayList<>(job.status == JobStatus.SUCCEEDED ? store.images(job) : List.of());
        stored.sort(Comparator.comparingInt(JobImage::index));
        boolean send = !request.path("send_images").isBoolean() || request.path("send_images").booleanValue();
        List<String> encoded = new ArrayList<>();
        List<String> infotexts = new ArrayList<>();
        List<java.math.BigInteger> seeds = new ArrayList<>();
        for (JobImage image : stored) {
            byte[] png;
            try {
                png = images.get(image.key()).orElseThrow(() -> new IllegalStateException("image " + image.key() + " is missing"));
            } catch (ImageStore.StorageException e) {
                return ApiExceptionMappers.unavailable("storage_unavailable", "the image store is unavailable; try again");
            }
            if (send) {
                encoded.add(Base64.getEncoder().encodeToString(png));
            }
            infotexts.add(Automatic1111.infotext(png).orElse(""));
            seeds.add(new java.math.BigInteger(image.seed()));
        }
        if (seeds.isEmpty()) {
            for (int i = 0; i < p.numImages(); i++) {
                seeds.add(p.seed().add(java.math.BigInteger.valueOf(i)).mod(RequestRules.MAX_SEED.add(java.math.BigInteger.ONE)));
            }
        }
        String hash = models.find(job.model).map(ModelCard::hash).orElse("");
        String sampler = Automatic1111.samplerName(p.scheduler());
        ObjectNode info = json.createObjectNode();
        info.put("prompt", p.prompt());
        ArrayNode allPrompts = info.putArray("all_prompts");
        ArrayNode allNegative = json.createArrayNode();
        ArrayNode allSubseeds = json.createArrayNode();
        seeds.forEach(s -> {
            allPrompts.add(p.prompt());
            allNegative.add(p.negativePrompt());
            allSubseeds.add(-1);
        });
        info.put("negative_prompt", p.negativePrompt());
        info.set("all_negative_prompts", allNegative);
        info.put("seed", seeds.get(0));
        ArrayNode allSeeds = info.putArray("all_seeds");
        seeds.forEach(allSeeds::add);
        info.put("subseed", -1);
        info.set("all_subseeds", allSubseeds);
        info.put("subseed_strength", 0);
        info.put("width", p.width());
        info.put("height", p.height());
        info.put("sampler_name", sampler);
        info.put("cfg_scale", p.guidanceScale());
        info.put("steps", p.numInferenceSteps());
        info.put("batch_size", request.path("batch_size").asInt(1));
        info.put("restore_faces", false);
        info.putNull("face_restoration_model");
        info.put("sd_model_name", job.model);
        info.put("sd_model_hash", hash);
        info.put("seed_resize_from_w", -1);
        info.put("seed_resize_from_h", -1);
        if (p.strength() != null) {
            info.put("denoising_strength", p.strength());
        } else {
            info.putNull("denoising_strength");
        }
        info.putObject("extra_generation_params");
        info.put("index_of_first_image", 0);
        ArrayNode texts = info.putArray("infotexts");
        infotexts.forEach(texts::add);
        info.putArray("styles");
        info.put("job_timestamp", TIMESTAMP.format(job.createdAt));
        info.put("clip_skip", 1);
        info.put("is_using_inpainting_conditioning", false);
        info.put("interrupted", job.status == JobStatus.CANCELLED);
        info.put("job_id", job.id.toString());

        ObjectNode parameters = request.isObject() ? ((ObjectNode) request).deepCopy() : json.createObjectNode();
        parameters.put("prompt", p.prompt());
        parameters.put("negative_prompt", p.negativePrompt());
        parameters.put("steps", p.numInferenceSteps());
        parameters.put("cfg_scale", p.guidanceScale());
        parameters.put("width", p.width());
        parameters.put("height", p.height());
        parameters.put("sampler_name", sampler);
        if (!parameters.has("seed")) {
            parameters.put("seed", -1);
        }
        if (img2img) {
            parameters.putNull("init_images");
            parameters.put("denoising_strength", p.strength());
        }
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> params = json.treeToValue(parameters, Map.class);
            return Response.ok(new GenerationResponse(encoded, params, json.writeValueAsString(info))).build();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The AUTOMATIC1111 progress answer. */
    @Schema(name = "SdProgress")
    public record Progress(double progress, double eta_relative, ProgressState state, String current_image, String textinfo) {
    }

    /** Where the current generation is. */
    @Schema(name = "SdProgressState")
    public record ProgressState(boolean skipped, boolean interrupted, String job, int job_count, String job_timestamp,
                                int job_no, int sampling_step, int sampling_steps) {
    }

    @GET
    @Path("/progress")
    @Operation(operationId = "sdProgress", summary = "AUTOMATIC1111 progress of the caller's newest txt2img/img2img running on this replica",
            description = "progress 0 to 1, eta_relative in seconds, the step, and current_image: the latest live "
                    + "preview (base64 PNG) unless skip_current_image=true. Idle: progress 0 and job_count 0.")
    @APIResponse(responseCode = "200", description = "Where the newest generation is",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Progress.class)))
    public Progress progress(@jakarta.ws.rs.QueryParam("skip_current_image") boolean skipCurrentImage) {
        String tenant = caller.tenant();
        Optional<Run> newest = running.values().stream().filter(r -> r.tenant.equals(tenant)).max(Comparator.comparingLong(r -> r.startedAt));
        if (newest.isEmpty()) {
            return new Progress(0, 0, new ProgressState(false, false, "", 0, "0", 0, 0, 0), null, null);
        }
        Run run = newest.get();
        JobEvent last = run.lastProgress;
        int step = last == null ? 0 : last.step();
        int total = last == null ? 0 : last.totalSteps();
        double fraction = total == 0 ? 0 : (double) step / total;
        double eta = last == null || last.etaMs() == null ? 0 : last.etaMs() / 1000.0;
        String image = skipCurrentImage || last == null ? null : last.preview();
        long ofTenant = running.values().stream().filter(r -> r.tenant.equals(tenant)).count();
        return new Progress(fraction, eta, new ProgressState(false, run.interrupted, run.id.toString(), (int) ofTenant,
                TIMESTAMP.format(java.time.Instant.ofEpochMilli(run.startedAt)), 0, step, total), image, null);
    }

    @POST
    @Path("/interrupt")
    @Operation(operationId = "sdInterrupt", summary = "AUTOMATIC1111 interrupt: cancel the caller's txt2img/img2img jobs running on this replica",
            description = "Their requests answer with the images done so far (none): this service stores a job's images only when it succeeds.")
    @APIResponse(responseCode = "200", description = "Asked to stop")
    public Response interrupt() {
        String tenant = caller.tenant();
        for (Run run : running.values()) {
            if (run.tenant.equals(tenant)) {
                run.interrupted = true;
                run.cancel();
            }
        }
        return Response.ok("{}", MediaType.APPLICATION_JSON_TYPE).build();
    }

    /** A checkpoint as AUTOMATIC1111 lists it. */
    @Schema(name = "SdModel")
    public record SdModel(String title, String model_name, String hash, String sha256, String filename, String config) {
    }

    @GET
    @Path("/sd-models")
    @Operation(operationId = "sdModels", summary = "AUTOMATIC1111 checkpoints: the models the workers serve")
    @APIResponse(responseCode = "200", description = "The models",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(type = SchemaType.ARRAY, implementation = SdModel.class)))
    public List<SdModel> sdModels() {
        return models.all().values().stream()
                .map(m -> new SdModel(Automatic1111.title(m.name(), m.hash()), m.name(), m.hash(), null, m.name(), null))
                .toList();
    }

    /** A sampler as AUTOMATIC1111 lists it; the alias is this service's scheduler name. */
    @Schema(name = "SdSampler")
    public record Sampler(String name, List<String> aliases, Map<String, String> options) {
    }

    @GET
    @Path("/samplers")
    @Operation(operationId = "sdSamplers", summary = "AUTOMATIC1111 samplers: the schedulers the models serve, by that API's names")
    @APIResponse(responseCode = "200", description = "The samplers",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(type = SchemaType.ARRAY, implementation = Sampler.class)))
    public List<Sampler> samplers() {
        TreeSet<String> served = new TreeSet<>();
        models.all().values().forEach(m -> served.addAll(m.schedulers()));
        return Automatic1111.SAMPLERS.entrySet().stream().filter(e -> served.contains(e.getValue()))
                .map(e -> new Sampler(e.getKey(), List.of(e.getValue()), Map.of())).toList();
    }

    @GET
    @Path("/options")
    @Operation(operationId = "sdOptions", summary = "AUTOMATIC1111 options (read only)")
    @APIResponse(responseCode = "200", description = "The options this service has",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(type = SchemaType.OBJECT, additionalProperties = Schema.True.class)))
    public Map<String, Object> options() {
        String model = config.defaultModel();
        String hash = models.find(model).map(ModelCard::hash).orElse("");
        return Map.of("sd_model_checkpoint", Automatic1111.title(model, hash), "sd_checkpoint_hash", hash,
                "samples_format", "png", "CLIP_stop_at_last_layers", 1, "eta_ddim", 0.0,
                "show_progress_every_n_steps", 1, "live_previews_enable", true);
    }

    @POST
    @Path("/options")
    @Operation(operationId = "sdSetOptions", summary = "AUTOMATIC1111 options: setting them is not supported",
            description = "Always 501: this service's settings are its configuration; choose a model per request "
                    + "with override_settings.sd_model_checkpoint.")
    @APIResponse(responseCode = "501", description = "Not supported (not_supported)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Response setOptions() {
        return ApiExceptionMappers.json(Response.Status.NOT_IMPLEMENTED, ErrorBody.of("not_supported",
                "options are read only here; pick a model per request with override_settings.sd_model_checkpoint"));
    }
}
