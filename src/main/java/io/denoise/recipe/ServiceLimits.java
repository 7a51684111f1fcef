package io.denoise.recipe;

/**
 * Limits that belong to the deployment rather than to a model, read from the same configuration by the API (which
 * refuses what breaks them with a 400) and the worker (which therefore accepts whatever the API accepted).
 *
 * @param maxPromptLength    longest prompt or negative prompt, in characters
 * @param maxInitImageBytes  largest init image, in bytes
 * @param maxInitImagePixels largest init image, in pixels, read from its header before decoding
 */
public record ServiceLimits(int maxPromptLength, int maxInitImageBytes, long maxInitImagePixels) {

    /** The defaults of {@code denoise.limits.*}. */
    public static final ServiceLimits DEFAULT = new ServiceLimits(2000, 8 << 20, 4096L * 4096L);
}
