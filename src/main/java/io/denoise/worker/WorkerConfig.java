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

    /**
     * How long the broker locks a delivered record to its worker: set as the share group's
     * {@code share.record.lock.duration.ms} when the worker starts; renewed at half (default 30s).
     */
    @WithDefault("30s")
    Duration lockDuration();

    /**
     * How long a running job keeps retrying a store that is down (S3 upload, the database's finish write)
     * before it gives the job back for another attempt (default 2m). Claims retry for as long as the database
     * is down: the record stays locked to this worker, so no delivery is spent meanwhile.
     */
    @WithDefault("2m")
    Duration retryFor();

    /** Kafka share group of the workers (default {@code denoise-workers}). */
    @WithDefault("denoise-workers")
    String shareGroup();

    /**
     * On shutdown, how long the job in flight may run on before it is stopped and released to another worker
     * (default 20s; keep it well under the orchestrator's termination grace period).
     */
    @WithDefault("20s")
    Duration shutdownGrace();

    /**
     * How often a running job's progress is written to the database, at most (default 500ms): {@code GET
     * /v1/jobs/{id}} is at most this much behind, and the write also reads the job's cancel flag. Progress events
     * go out at every step regardless.
     */
    @WithDefault("500ms")
    Duration progressInterval();

    /**
     * Most jobs a worker holds and runs together, one UNet call per step over all of them (default 8; 1 turns
     * batching off: one job at a time, each alone). Jobs of one model and latent size share a call; others run in
     * calls of their own, in turn.
     */
    @WithDefault("8")
    int maxBatchJobs();

    /**
     * How long one batched step may take: the worker takes another job into its batch only while the last step,
     * grown by one job's share, stays within this (default 1s), so it does not hold jobs that an idle worker would
     * start sooner. The first job is always taken.
     */
    @WithDefault("1s")
    Duration batchStepBudget();

    /** Most images one request may batch (default 8). */
    @WithDefault("8")
    int maxBatchImages();
}
