package io.denoise.jobs;

import io.denoise.recipe.ServiceLimits;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * The request limits that belong to the deployment, read by the API (which refuses what breaks them) and by every
 * worker (which therefore runs whatever the API accepted): set them once, for both roles.
 */
@ConfigMapping(prefix = "denoise.limits")
public interface LimitsConfig {

    /** Longest prompt or negative prompt, in characters (default 2000). */
    @WithDefault("2000")
    int maxPromptLength();

    /** Largest init image, in bytes after base64 decoding (default 8 MiB). */
    @WithDefault("8388608")
    int maxInitImageBytes();

    /** Largest init image, in pixels, read from its header before decoding (default 16 Mpx). */
    @WithDefault("16777216")
    long maxInitImagePixels();

    default ServiceLimits toLimits() {
        return new ServiceLimits(maxPromptLength(), maxInitImageBytes(), maxInitImagePixels());
    }
}
