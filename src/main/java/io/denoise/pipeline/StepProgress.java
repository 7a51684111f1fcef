package io.denoise.pipeline;

/**
 * Progress after one denoising step.
 *
 * @param step       steps done, 1-based
 * @param totalSteps steps in this generation: {@code numInferenceSteps}, or for image-to-image the share that
 *                   {@code strength} runs; counted as diffusers' progress bar counts them (a scheduler's warm-up
 *                   call and a second-order scheduler's second call are part of a step)
 * @param timestep   the timestep just denoised
 * @param elapsedMs  since the denoising loop started
 * @param etaMs      estimated time until the loop ends
 * @param preview    a small PNG of the batch's first image (index 0) when a preview was due at this step, else
 *                   null; the other images of a batch are never previewed (only the first one is sent)
 */
public record StepProgress(int step, int totalSteps, double timestep, long elapsedMs, long etaMs, byte[] preview) {
}
