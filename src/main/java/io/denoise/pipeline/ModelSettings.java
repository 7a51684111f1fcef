package io.denoise.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.denoise.recipe.ModelProfile.Defaults;
import io.denoise.recipe.ModelProfile.Limits;

/**
 * Denoise's own per-model settings, read from the model's optional {@code denoise.json}; what it leaves out is
 * derived from the model itself: the default size is the UNet's native size ({@code sample_size} × VAE scale
 * factor), sizes range from 8 latent cells to twice the native size, and guidance, steps and image count take
 * diffusers' defaults (7.5, 50, at most 4).
 *
 * @param defaults what a request that leaves a field out gets
 * @param limits   what a request may ask for
 * @param preview  the approximate latent → RGB projection for previews
 */
public record ModelSettings(Defaults defaults, Limits limits, Preview preview) {

    /**
     * A linear map from (scaled) latents to RGB in [-1, 1]: {@code rgb = Σ_c latent[c] · factors[c] + bias}.
     *
     * @param latentRgbFactors one row of three factors per latent channel
     * @param latentRgbBias    three biases
     */
    public record Preview(float[][] latentRgbFactors, float[] latentRgbBias) {
    }

    /** The well-known approximate latent → RGB factors of Stable Diffusion 1.x's VAE. */
    static final float[][] SD1_LATENT_RGB = {
            {0.3512f, 0.2297f, 0.3227f},
            {0.3250f, 0.4974f, 0.2350f},
            {-0.2829f, 0.1762f, 0.2721f},
            {-0.2120f, -0.2616f, -0.7177f}};

    /**
     * Reads settings from a parsed {@code denoise.json} (missing node → all defaults).
     *
     * @param nativeSize      the model's native image size in pixels, a multiple of 8 (the UNet's sample size times
     *                        the VAE scale factor), used when no default size is given
     * @param vaeScaleFactor  pixels per latent cell; the derived smallest size is 8 cells
     * @param scheduler       the scheduler the model's {@code scheduler_config.json} names, used when no default
     *                        is given
     */
    static ModelSettings from(JsonNode json, int nativeSize, int vaeScaleFactor, String scheduler) {
        int minSize = roundUpTo8(8 * vaeScaleFactor);
        int maxSize = Math.max(minSize, 2 * nativeSize);
        JsonNode d = json.path("defaults");
        Defaults defaults = new Defaults(
                d.path("guidanceScale").asDouble(7.5),
                d.path("numInferenceSteps").asInt(50),
                d.path("width").asInt(nativeSize),
                d.path("height").asInt(nativeSize),
                d.path("scheduler").asText(scheduler));
        JsonNode l = json.path("limits");
        Limits limits = new Limits(
                l.path("minWidth").asInt(minSize),
                l.path("maxWidth").asInt(maxSize),
                l.path("minHeight").asInt(minSize),
                l.path("maxHeight").asInt(maxSize),
                l.path("maxSteps").asInt(150),
                l.path("maxImages").asInt(4),
                vaeScaleFactor);
        JsonNode p = json.path("preview");
        float[][] factors = SD1_LATENT_RGB;
        float[] bias = {0f, 0f, 0f};
        if (p.has("latentRgbFactors")) {
            JsonNode rows = p.get("latentRgbFactors");
            factors = new float[rows.size()][3];
            for (int c = 0; c < rows.size(); c++) {
                if (rows.get(c).size() != 3) {
                    throw new ModelLoadException("denoise.json: preview.latentRgbFactors rows must have 3 values");
                }
                for (int k = 0; k < 3; k++) {
                    factors[c][k] = (float) rows.get(c).get(k).asDouble();
                }
            }
        }
        if (p.has("latentRgbBias")) {
            for (int k = 0; k < 3; k++) {
                bias[k] = (float) p.get("latentRgbBias").path(k).asDouble();
            }
        }
        ModelSettings settings = new ModelSettings(defaults, limits, new Preview(factors, bias));
        settings.check();
        return settings;
    }

    private static int roundUpTo8(int pixels) {
        return (pixels + 7) / 8 * 8;
    }

    private void check() {
        int step = limits.sizeMultiple();
        if (limits.minWidth() % step != 0 || limits.maxWidth() % step != 0 || limits.minHeight() % step != 0
                || limits.maxHeight() % step != 0 || limits.minWidth() > limits.maxWidth()
                || limits.minHeight() > limits.maxHeight()) {
            throw new ModelLoadException("denoise.json: size limits must be multiples of " + step + " with min <= max");
        }
        if (defaults.width() < limits.minWidth() || defaults.width() > limits.maxWidth()
                || defaults.height() < limits.minHeight() || defaults.height() > limits.maxHeight()) {
            throw new ModelLoadException("denoise.json: default size " + defaults.width() + "x" + defaults.height()
                    + " is outside the limits");
        }
        if (defaults.numInferenceSteps() < 1 || defaults.numInferenceSteps() > limits.maxSteps() || limits.maxImages() < 1) {
            throw new ModelLoadException("denoise.json: defaults.numInferenceSteps must be within 1..limits.maxSteps");
        }
    }
}
