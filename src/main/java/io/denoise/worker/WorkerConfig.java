package io.denoise.worker;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;
import java.util.Optional;

/** How a worker holds jobs. */
@ConfigMapping(prefix = "denoise.worker")
public interface WorkerConfig {

    /** This worker's id in job rows (default: host name and process id). */
    Optional<String> id();

    /** How long a claim holds a job without renewal; renewed every third of it (default 15s). */
    @WithDefault("15s")
    Duration lease();

    /** The broker's acquisition lock duration ({@code group.share.record.lock.duration.ms}); renewed at half (default 30s). */
    @WithDefault("30s")
    Duration lockDuration();

    /** Deliveries after which a job record is rejected and the job failed (default 5). */
    @WithDefault("5")
    int maxDeliveries();

    /** Kafka share group of the workers (default {@code denoise-workers}). */
    @WithDefault("denoise-workers")
    String shareGroup();

    /**
     * On shutdown, how long the job in flight may run on before it is stopped and released to another worker
     * (default 20s; keep it well under the orchestrator's termination grace period).
     */
    @WithDefault("20s")
    Duration shutdownGrace();

    /** Most images one request may batch (default 8). */
    @WithDefault("8")
    int maxBatchImages();
}
