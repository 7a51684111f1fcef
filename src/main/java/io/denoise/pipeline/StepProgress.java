package io.denoise.pipeline;

import java.util.List;

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
 * @param previews   one small PNG per image when a preview was due at this step, else empty
 */
public record StepProgress(int step, int totalSteps, double timestep, long elapsedMs, long etaMs, List<byte[]> previews) {
}
