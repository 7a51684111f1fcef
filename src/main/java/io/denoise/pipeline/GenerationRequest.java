package io.denoise.pipeline;

/**
 * One generation, in diffusers' vocabulary. Checked against the model by
 * {@link TextToImagePipeline#checkInputs(GenerationRequest)}.
 *
 * @param prompt            what to draw
 * @param negativePrompt    what to steer away from ({@code ""} for none); used only with classifier-free guidance
 * @param width             image width in pixels, a multiple of 8
 * @param height            image height in pixels, a multiple of 8
 * @param numInferenceSteps denoising steps
 * @param guidanceScale     classifier-free guidance weight; {@code <= 1} disables guidance (one UNet pass a step)
 * @param scheduler         scheduler id (see {@code Schedulers.ids()})
 * @param seed              unsigned 64-bit seed; image {@code i} uses {@code seed + i}
 * @param numImages         images generated together, batched in one UNet call
 * @param initImage         image-to-image: PNG or JPEG bytes, or null for text-to-image
 * @param strength          image-to-image: how much of the schedule to run, in (0, 1]
 * @param eta               DDIM's eta (0 = deterministic DDIM); ignored by other schedulers
 * @param preview           previews during the loop
 * @param previewEvery      a preview every this many steps (with preview not {@code NONE})
 */
public record GenerationRequest(
        String prompt,
        String negativePrompt,
        int width,
        int height,
        int numInferenceSteps,
        double guidanceScale,
        String scheduler,
        long seed,
        int numImages,
        byte[] initImage,
        double strength,
        double eta,
        PreviewMode preview,
        int previewEvery) {

    /** Preview images while the loop runs. */
    public enum PreviewMode {
        /** No previews. */
        NONE,
        /** The latents projected to RGB by a fixed linear map: cheap, 1/8 of the image size. */
        APPROX,
        /** A full VAE decode of the current latents: exact, costs a decoder run. */
        FULL
    }

    /** A text-to-image request with the model's defaults for everything but prompt and seed. */
    public static GenerationRequest of(ModelSet model, String prompt, long seed) {
        ModelSettings.Defaults d = model.settings().defaults();
        return new GenerationRequest(prompt, "", d.width(), d.height(), d.numInferenceSteps(), d.guidanceScale(),
                d.scheduler(), seed, 1, null, 1.0, 0.0, PreviewMode.NONE, 1);
    }

    public GenerationRequest withNegativePrompt(String value) {
        return new GenerationRequest(prompt, value, width, height, numInferenceSteps, guidanceScale, scheduler, seed,
                numImages, initImage, strength, eta, preview, previewEvery);
    }

    public GenerationRequest withSteps(int value) {
        return new GenerationRequest(prompt, negativePrompt, width, height, value, guidanceScale, scheduler, seed,
                numImages, initImage, strength, eta, preview, previewEvery);
    }

    public GenerationRequest withGuidanceScale(double value) {
        return new GenerationRequest(prompt, negativePrompt, width, height, numInferenceSteps, value, scheduler, seed,
                numImages, initImage, strength, eta, preview, previewEvery);
    }

    public GenerationRequest withScheduler(String value) {
        return new GenerationRequest(prompt, negativePrompt, width, height, numInferenceSteps, guidanceScale, value, seed,
                numImages, initImage, strength, eta, preview, previewEvery);
    }

    public GenerationRequest withSize(int w, int h) {
        return new GenerationRequest(prompt, negativePrompt, w, h, numInferenceSteps, guidanceScale, scheduler, seed,
                numImages, initImage, strength, eta, preview, previewEvery);
    }

    public GenerationRequest withNumImages(int value) {
        return new GenerationRequest(prompt, negativePrompt, width, height, numInferenceSteps, guidanceScale, scheduler,
                seed, value, initImage, strength, eta, preview, previewEvery);
    }

    public GenerationRequest withInitImage(byte[] image, double value) {
        return new GenerationRequest(prompt, negativePrompt, width, height, numInferenceSteps, guidanceScale, scheduler,
                seed, numImages, image, value, eta, preview, previewEvery);
    }

    public GenerationRequest withEta(double value) {
        return new GenerationRequest(prompt, negativePrompt, width, height, numInferenceSteps, guidanceScale, scheduler,
                seed, numImages, initImage, strength, value, preview, previewEvery);
    }

    public GenerationRequest withPreview(PreviewMode mode, int every) {
        return new GenerationRequest(prompt, negativePrompt, width, height, numInferenceSteps, guidanceScale, scheduler,
                seed, numImages, initImage, strength, eta, mode, every);
    }

    /** Whether this request runs classifier-free guidance (two UNet passes per step). */
    public boolean doClassifierFreeGuidance() {
        return guidanceScale > 1.0;
    }

    /** The seed of image {@code index}: {@code seed + index}, wrapping as unsigned 64-bit. */
    public long seedOf(int index) {
        return seed + index;
    }
}
