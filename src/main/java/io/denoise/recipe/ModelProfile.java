package io.denoise.recipe;

import java.util.List;

/**
 * What a model offers to requests: the defaults a request that leaves a field out gets, the limits every field is
 * checked against, its schedulers and whether it does image-to-image. The worker builds it from the loaded model
 * (and its own batch limit); the API reads it from the model registry; the command line from the model on disk.
 */
public record ModelProfile(String name, Defaults defaults, Limits limits, List<String> schedulers,
                           boolean imageToImage) {

    /** Request defaults. */
    public record Defaults(double guidanceScale, int numInferenceSteps, int width, int height, String scheduler) {
    }

    /**
     * Inclusive bounds on request fields.
     *
     * @param sizeStep width and height are multiples of this many pixels: 8, or the VAE's scale factor when that is
     *                 larger (0, as read from a card written before it was recorded, means 8)
     */
    public record Limits(int minWidth, int maxWidth, int minHeight, int maxHeight, int maxSteps, int maxImages,
                         int sizeStep) {

        /** The size step in pixels, at least 8. */
        public int sizeMultiple() {
            return Math.max(8, sizeStep);
        }

        /** These limits with at most {@code most} images per request. */
        public Limits withMaxImages(int most) {
            return new Limits(minWidth, maxWidth, minHeight, maxHeight, maxSteps, Math.min(maxImages, most), sizeStep);
        }
    }
}
