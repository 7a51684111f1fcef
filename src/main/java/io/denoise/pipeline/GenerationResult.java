package io.denoise.pipeline;

import java.util.List;

/**
 * What a generation produced.
 *
 * @param images         one per requested image, in index order
 * @param finalLatents   the latents after the last step, before dividing by the scaling factor, [numImages, c, h/s, w/s] (s: the VAE scale factor)
 * @param modelCalls     UNet calls made (more than the steps for PNDM's warm-up and second-order schedulers)
 * @param droppedTokens  prompt tokens cut off because the prompt was longer than the text encoder takes
 * @param wallNanos      the whole generation's wall time
 * @param inferenceNanos of which inside ONNX Runtime {@code run}
 * @param loop           the denoising loop alone: its wall time and the time inside ONNX Runtime in it, so the
 *                       cost of what runs between UNet calls (scheduler, guidance, the listener) shows apart
 */
public record GenerationResult(List<GeneratedImage> images, float[] finalLatents, int modelCalls, int droppedTokens,
                               long wallNanos, long inferenceNanos, LoopTiming loop) {

    /** The denoising loop's wall time and, of that, the time inside ONNX Runtime. */
    public record LoopTiming(long wallNanos, long inferenceNanos) {
        /** Percent of the loop's wall time spent outside ONNX Runtime. */
        public double outsidePercent() {
            return wallNanos == 0 ? 0 : 100.0 * (wallNanos - inferenceNanos) / wallNanos;
        }
    }
}
