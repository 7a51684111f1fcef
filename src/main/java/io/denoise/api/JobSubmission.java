package io.denoise.api;

import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

import java.util.List;

/**
 * The body of {@code POST /v1/jobs} as the OpenAPI document describes it. The submit route reads the body as a
 * stream and {@link JobRequestValidator} checks it; this record only names the fields (the validator's list of
 * known fields is read from its components) and documents each one's type, range and default. Limits that depend
 * on the model are given by {@code GET /v1/models}.
 */
@Schema(name = "JobRequest", description = "A text-to-image (or, with initImage, image-to-image) generation request. "
        + "Unknown fields, a field given twice and a broken rule answer 400 naming the field.",
        requiredProperties = "prompt")
public record JobSubmission(
        @Schema(description = "Model name, one of GET /v1/models; default: the service's denoise.api.default-model.",
                example = "shapes")
        String model,
        @Schema(description = "What to draw. Required, not blank, at most denoise.limits.max-prompt-length (2000) "
                + "characters; no control characters other than tab, line feed and carriage return.",
                minLength = 1, maxLength = 2000, example = "a red circle on a white background")
        String prompt,
        @Schema(description = "What not to draw (classifier-free guidance's unconditional prompt).",
                maxLength = 2000, defaultValue = "")
        String negativePrompt,
        @Schema(description = "Image width in pixels: a multiple of 8 within the model's limits.minWidth and "
                + "limits.maxWidth; default: the model's defaults.width.", multipleOf = 8, minimum = "8", example = "64")
        Integer width,
        @Schema(description = "Image height in pixels: a multiple of 8 within the model's limits.minHeight and "
                + "limits.maxHeight; default: the model's defaults.height.", multipleOf = 8, minimum = "8", example = "64")
        Integer height,
        @Schema(description = "Denoising steps, 1 to the model's limits.maxSteps; default: the model's "
                + "defaults.numInferenceSteps.", minimum = "1", example = "20")
        Integer numInferenceSteps,
        @Schema(description = "Classifier-free guidance scale, 0 to 50; at most 1 turns guidance off; default: the "
                + "model's defaults.guidanceScale.", minimum = "0", maximum = "50", example = "2.5")
        Double guidanceScale,
        @Schema(description = "Noise scheduler, one of the model's schedulers; default: the model's "
                + "defaults.scheduler.", enumeration = {"pndm", "lms", "ddim", "euler", "euler-ancestral", "dpmpp-2m",
                "dpmpp-2m-karras", "ddpm", "heun", "unipc"}, example = "pndm")
        String scheduler,
        @Schema(description = "Seed, an unsigned 64-bit integer as a decimal string (a JSON number is accepted too); "
                + "omitted: drawn at random and reported in the job's parameters. Image i uses seed + i.",
                type = SchemaType.STRING, pattern = "^[0-9]{1,20}$", maxLength = 20, example = "7")
        String seed,
        @Schema(description = "Images to generate, 1 to the model's limits.maxImages.", minimum = "1",
                defaultValue = "1", example = "1")
        Integer numImages,
        @Schema(description = "Image-to-image: a PNG or JPEG as base64 or a data: URL, at most "
                + "denoise.limits.max-init-image-bytes (8 MiB) and max-init-image-pixels (16 Mpx); only for models "
                + "with imageToImage.")
        String initImage,
        @Schema(description = "Image-to-image strength in (0, 1], leaving at least one step "
                + "(numInferenceSteps × strength ≥ 1); only with initImage, where it defaults to 0.75.",
                minimum = "0", exclusiveMinimum = true, maximum = "1")
        Double strength,
        @Schema(description = "DDIM's eta, 0 to 1 (0: deterministic DDIM).", minimum = "0", maximum = "1",
                defaultValue = "0")
        Double eta,
        @Schema(description = "Live previews in progress events: none, approx (a cheap projection of the latents) "
                + "or full (the VAE decoder).", enumeration = {"none", "approx", "full"}, defaultValue = "none")
        String preview,
        @Schema(description = "A preview every this many steps, 1 to numInferenceSteps.", minimum = "1",
                defaultValue = "1")
        Integer previewEvery,
        @Schema(description = "How soon the job starts: every queued job of a higher priority is released to the "
                + "workers first, and tenants take turns within a priority. At most the API key's maxPriority.",
                enumeration = {"low", "normal", "high"}, defaultValue = "normal")
        String priority,
        @Schema(description = "A URL to post the job's events to, signed as Standard Webhooks says (webhook-id, "
                + "webhook-timestamp, webhook-signature: HMAC-SHA256 with the tenant's secret from "
                + "GET /v1/webhooks/secret). https only, at most 2048 characters; its host must resolve to public "
                + "addresses (denoise.webhooks.allow-http, allow-loopback and allow-private widen this). Each event is "
                + "retried with exponential backoff for denoise.webhooks.retry-for (24 h) until a 2xx answer; a job's "
                + "events arrive in order.", maxLength = 2048, example = "https://example.com/hooks/denoise")
        String webhook,
        @Schema(description = "The events to post: started (each attempt's start), progress (as often as the job's "
                + "progress is saved, denoise.worker.progress-interval), completed (its end, with the job as GET "
                + "returns it). Only with webhook; absent or empty: [\"completed\"]. (No schema default: a generated "
                + "client would send it with every job, webhook or not.)")
        List<String> webhookEvents) {
}
