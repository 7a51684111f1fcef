package io.denoise.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobImage;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.JobStore;
import io.denoise.jobs.Priority;
import io.denoise.recipe.GenerationRequest;
import io.denoise.webhooks.WebhookDeliveries;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A job as users see it. Fields that do not apply yet (images before success, error unless failed, queue
 * position unless queued) are absent.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobView(
        String id,
        String model,
        JobStatus status,
        Progress progress,
        Long queuePosition,
        @Schema(description = "Seconds until it is expected to start: its queue position over the rate its model's "
                + "workers finished jobs lately; absent when none finished lately")
        Long queueEtaSeconds,
        @Schema(enumeration = {"low", "normal", "high"}) String priority,
        int attempt,
        String worker,
        Timings timings,
        Parameters parameters,
        List<Image> images,
        Error error,
        Webhook webhook,
        Map<String, String> links) {

    /** Steps done of total. */
    public record Progress(int step, int totalSteps) {
    }

    /** When it happened and how long it took. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Timings(Instant createdAt, Instant startedAt, Instant finishedAt, Long queuedMs, Long runMs) {
    }

    /** The parameters used, with the seed actually used. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Parameters(String prompt, String negativePrompt, int width, int height, int numInferenceSteps,
                             double guidanceScale, String scheduler,
                             @Schema(type = SchemaType.NUMBER, description = "The seed used: an unsigned 64-bit "
                                     + "integer (image i used seed + i)") java.math.BigInteger seed, int numImages,
                             Boolean initImage, Double strength, double eta, String preview, int previewEvery) {
    }

    /** A stored image. */
    public record Image(int index, String seed, String url) {
    }

    /** Why a job failed. */
    public record Error(String code, String message) {
    }

    /** Where the job's events are posted, and how its deliveries stand (pending, delivered, given up). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Webhook(String url, List<String> events, Long pending, Long delivered, Long failed, String lastError) {
    }

    static JobView of(Job job, GenerationRequest p, List<JobImage> images, Long queuePosition) {
        return of(job, p, images, queuePosition, null, null);
    }

    /** The job, with its expected wait and how its webhook deliveries stand, where given. */
    static JobView of(Job job, GenerationRequest p, List<JobImage> images, Long queuePosition, Long queueEtaSeconds,
                      WebhookDeliveries.Summary deliveries) {
        String self = "/v1/jobs/" + job.id;
        Parameters params = new Parameters(p.prompt(), p.negativePrompt(), p.width(), p.height(), p.numInferenceSteps(),
                p.guidanceScale(), p.scheduler(), p.seed(), p.numImages(), p.initImage() == null ? null : true,
                p.strength(), p.eta(), p.preview(), p.previewEvery());
        List<Image> imageViews = job.status == JobStatus.SUCCEEDED
                ? images.stream().map(i -> new Image(i.index(), i.seed(), self + "/images/" + i.index())).toList()
                : null;
        Error error = job.status == JobStatus.FAILED ? new Error(job.errorCode, job.errorMessage) : null;
        Instant end = job.finishedAt;
        JobStore.Webhook hook = JobStore.Webhook.of(job);
        Webhook webhook = hook == null ? null : deliveries == null
                ? new Webhook(hook.url(), hook.events(), null, null, null, null)
                : new Webhook(hook.url(), hook.events(), deliveries.pending(), deliveries.delivered(), deliveries.failed(),
                        deliveries.lastError());
        Timings timings = new Timings(job.createdAt, job.startedAt, job.finishedAt,
                job.startedAt == null ? null : Duration.between(job.createdAt, job.startedAt).toMillis(),
                job.startedAt == null || end == null ? null : Duration.between(job.startedAt, end).toMillis());
        return new JobView(job.id.toString(), job.model, job.status, new Progress(job.step, job.totalSteps),
                job.status == JobStatus.QUEUED ? queuePosition : null, job.status == JobStatus.QUEUED ? queueEtaSeconds : null,
                Priority.ofRank(job.priority).id(), job.attempt, job.workerId, timings, params, imageViews, error, webhook,
                job.sweepId == null ? Map.of("self", self, "events", self + "/events")
                        : Map.of("self", self, "events", self + "/events", "sweep", "/v1/sweeps/" + job.sweepId));
    }
}
