package io.denoise.jobs;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/**
 * Admission by capacity, for all tenants together: a model whose queue the workers would take longer than
 * {@link #maxQueueWait()} to clear refuses new jobs (503 {@code over_capacity} with {@code Retry-After}) instead of
 * accepting work it cannot serve in time. The queue and the rate at which workers clear it are read from
 * PostgreSQL every {@link #refresh()}, so every API replica decides alike.
 */
@ConfigMapping(prefix = "denoise.admission")
public interface AdmissionConfig {

    /** The longest a new job may be expected to wait in the queue (default 15m; 0 turns admission by capacity off). */
    @WithDefault("15m")
    Duration maxQueueWait();

    /** A queue shorter than this is always admitted, so a cold start or a quiet hour never refuses (default 100). */
    @WithDefault("100")
    int minQueued();

    /** How far back the rate of jobs the workers finish is measured (default 2m). */
    @WithDefault("2m")
    Duration rateWindow();

    /** How often each API replica reads the queues (default 2s); also the gauges' refresh. */
    @WithDefault("2s")
    Duration refresh();

    /** What a refusal tells the client to wait when no job finished within the window (default 30s). */
    @WithDefault("30s")
    Duration retryAfter();
}
