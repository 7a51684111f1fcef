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
 */
public record GenerationResult(List<GeneratedImage> images, float[] finalLatents, int modelCalls, int droppedTokens,
                               long wallNanos, long inferenceNanos) {
}
