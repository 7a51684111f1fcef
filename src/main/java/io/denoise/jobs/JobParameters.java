package io.denoise.jobs;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.math.BigInteger;

/**
 * A job's generation parameters after validation and defaulting, as stored with the job and shown to users.
 * The seed is the one actually used (drawn at submit time when the request had none).
 *
 * @param initImageKey object key of the uploaded init image (image-to-image), or null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobParameters(
        String prompt,
        String negativePrompt,
        int width,
        int height,
        int numInferenceSteps,
        double guidanceScale,
        String scheduler,
        BigInteger seed,
        int numImages,
        String initImageKey,
        Double strength,
        double eta,
        String preview,
        int previewEvery) {
}
