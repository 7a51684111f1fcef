package io.denoise.recipe;

import java.math.BigInteger;
import java.util.Locale;

/**
 * One generation, in diffusers' vocabulary: what {@code POST /v1/jobs} accepts once defaults are filled in, what is
 * stored with the job (as JSON, under these names), what the worker and the command line hand to the pipeline.
 * Checked by {@link RequestRules}; read from JSON by {@link RequestReader}.
 *
 * @param prompt            what to draw
 * @param negativePrompt    what to steer away from ({@code ""} for none); used only with classifier-free guidance
 * @param width             image width in pixels, a multiple of the model's size step
 * @param height            image height in pixels, a multiple of the model's size step
 * @param numInferenceSteps denoising steps
 * @param guidanceScale     classifier-free guidance weight; {@code <= 1} disables guidance (one UNet pass a step)
 * @param scheduler         scheduler id (see {@code SchedulerKind})
 * @param seed              unsigned 64-bit seed; image {@code i} uses {@code seed + i}
 * @param numImages         images generated together, batched in one UNet call
 * @param initImage         image-to-image: where the init image is (its object key in the service, its file on the
 *                          command line), or null for text-to-image
 * @param strength          image-to-image: how much of the schedule to run, in (0, 1]; null for text-to-image
 * @param eta               DDIM's eta (0 = deterministic DDIM); ignored by other schedulers
 * @param preview           previews during the loop: {@code none}, {@code approx} or {@code full}
 * @param previewEvery      a preview every this many steps (with preview not {@code none})
 */
public record GenerationRequest(
        String prompt,
        String negativePrompt,
        int width,
        int height,
        int numInferenceSteps,
        double guidanceScale,
        String scheduler,
        BigInteger seed,
        int numImages,
        String initImage,
        Double strength,
        double eta,
        String preview,
        int previewEvery) {

    /** The strength an image-to-image request gets when it names none (diffusers' default). */
    public static final double DEFAULT_STRENGTH = 0.75;

    /** Preview images while the loop runs. */
    public enum PreviewMode {
        /** No previews. */
        NONE,
        /** The latents projected to RGB by a fixed linear map: cheap, 1/8 of the image size. */
        APPROX,
        /** A full VAE decode of the current latents: exact, costs a decoder run. */
        FULL;

        /** The request's name for this mode. */
        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** A text-to-image request with the model's defaults for everything but prompt and seed. */
    public static GenerationRequest of(ModelProfile.Defaults d, String prompt, long seed) {
        return new Builder(d).prompt(prompt).seed(seed).build();
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    public GenerationRequest withNegativePrompt(String value) {
        return toBuilder().negativePrompt(value).build();
    }

    public GenerationRequest withSteps(int value) {
        return toBuilder().numInferenceSteps(value).build();
    }

    public GenerationRequest withGuidanceScale(double value) {
        return toBuilder().guidanceScale(value).build();
    }

    public GenerationRequest withScheduler(String value) {
        return toBuilder().scheduler(value).build();
    }

    public GenerationRequest withSize(int w, int h) {
        return toBuilder().width(w).height(h).build();
    }

    public GenerationRequest withNumImages(int value) {
        return toBuilder().numImages(value).build();
    }

    public GenerationRequest withInitImage(String reference, Double value) {
        return toBuilder().initImage(reference).strength(value).build();
    }

    public GenerationRequest withEta(double value) {
        return toBuilder().eta(value).build();
    }

    public GenerationRequest withPreview(PreviewMode mode, int every) {
        return toBuilder().preview(mode.id()).previewEvery(every).build();
    }

    /** Whether this request runs classifier-free guidance (two UNet passes per step). */
    public boolean doClassifierFreeGuidance() {
        return guidanceScale > 1.0;
    }

    /** The seed of image {@code index}: {@code seed + index}, wrapping as unsigned 64-bit. */
    public long seedOf(int index) {
        return seed.longValue() + index;
    }

    /** The preview mode; an unknown name is {@link RequestRules}' to refuse, and reads here as none. */
    public PreviewMode previewMode() {
        for (PreviewMode mode : PreviewMode.values()) {
            if (mode.id().equals(preview)) {
                return mode;
            }
        }
        return PreviewMode.NONE;
    }

    /** The strength the schedule is cut at: {@link #strength()} for image-to-image, 1 otherwise. */
    public double effectiveStrength() {
        return initImage == null || strength == null ? 1.0 : strength;
    }

    /**
     * Builds a request field by field; what is never set keeps the model's default (or the copied request's value).
     * An image-to-image request left without a strength gets {@link #DEFAULT_STRENGTH}. Not thread-safe.
     */
    public static final class Builder {
        private String prompt;
        private String negativePrompt = "";
        private int width;
        private int height;
        private int numInferenceSteps;
        private double guidanceScale;
        private String scheduler;
        private BigInteger seed = BigInteger.ZERO;
        private int numImages = 1;
        private String initImage;
        private Double strength;
        private double eta;
        private String preview = PreviewMode.NONE.id();
        private int previewEvery = 1;

        public Builder(ModelProfile.Defaults d) {
            width = d.width();
            height = d.height();
            numInferenceSteps = d.numInferenceSteps();
            guidanceScale = d.guidanceScale();
            scheduler = d.scheduler();
        }

        private Builder(GenerationRequest r) {
            prompt = r.prompt;
            negativePrompt = r.negativePrompt;
            width = r.width;
            height = r.height;
            numInferenceSteps = r.numInferenceSteps;
            guidanceScale = r.guidanceScale;
            scheduler = r.scheduler;
            seed = r.seed;
            numImages = r.numImages;
            initImage = r.initImage;
            strength = r.strength;
            eta = r.eta;
            preview = r.preview;
            previewEvery = r.previewEvery;
        }

        public Builder prompt(String v) { prompt = v; return this; }
        public Builder negativePrompt(String v) { negativePrompt = v; return this; }
        public Builder width(int v) { width = v; return this; }
        public Builder height(int v) { height = v; return this; }
        public Builder numInferenceSteps(int v) { numInferenceSteps = v; return this; }
        public Builder guidanceScale(double v) { guidanceScale = v; return this; }
        public Builder scheduler(String v) { scheduler = v; return this; }
        public Builder seed(BigInteger v) { seed = v; return this; }
        public Builder seed(long v) { seed = new BigInteger(Long.toUnsignedString(v)); return this; }
        public Builder numImages(int v) { numImages = v; return this; }
        public Builder initImage(String v) { initImage = v; return this; }
        public Builder strength(Double v) { strength = v; return this; }
        public Builder eta(double v) { eta = v; return this; }
        public Builder preview(String v) { preview = v; return this; }
        public Builder previewEvery(int v) { previewEvery = v; return this; }

        public GenerationRequest build() {
            Double s = strength == null && initImage != null ? Double.valueOf(DEFAULT_STRENGTH) : strength;
            return new GenerationRequest(prompt, negativePrompt, width, height, numInferenceSteps, guidanceScale,
                    scheduler, seed, numImages, initImage, s, eta, preview, previewEvery);
        }
    }
}
