package io.denoise.api;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** Limits the API enforces on requests, beyond each model's own. */
@ConfigMapping(prefix = "denoise.api")
public interface ApiConfig {

    /** The model a request gets when it names none (default {@code shapes}). */
    @WithDefault("shapes")
    String defaultModel();

    /** Longest prompt or negative prompt, in characters (default 2000). */
    @WithDefault("2000")
    int maxPromptLength();

    /** Largest init image, in bytes after base64 decoding (default 8 MiB). */
    @WithDefault("8388608")
    int maxInitImageBytes();

    /** Largest init image, in pixels (default 16 Mpx). */
    @WithDefault("16777216")
    long maxInitImagePixels();

    /** Largest page of {@code GET /v1/jobs} (default 100). */
    @WithDefault("100")
    int maxPageSize();
}
