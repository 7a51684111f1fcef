package io.denoise.api;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/** Limits the API enforces on requests, beyond each model's own. */
@ConfigMapping(prefix = "denoise.api")
public interface ApiConfig {

    /** The model a request gets when it names none (default {@code shapes}). */
    @WithDefault("shapes")
    String defaultModel();

    /** Most cells one sweep may fan out into (default 64, which is also the most a grid draws). */
    @WithDefault("64")
    int maxSweepCells();

    /** Largest page of {@code GET /v1/jobs} (default 100). */
    @WithDefault("100")
    int maxPageSize();

    /**
     * Most bytes of recent events kept for {@code Last-Event-ID} resumption, each event counted as its JSON length
     * plus 256 (default 64 MiB); the jobs least recently heard from are dropped first.
     */
    @WithDefault("67108864")
    long eventBufferBytes();

    /** Most event streams open on one job, per replica (default 32); one more answers 429. */
    @WithDefault("32")
    int maxSubscribersPerJob();

    /** Most event streams open on this replica (default 2000); one more answers 503. */
    @WithDefault("2000")
    int maxSubscribers();

    /**
     * An event stream that has sent nothing for this long re-reads its job's status, and ends with the terminal
     * event built from the row if the job has ended (so a lost Kafka event never leaves a stream open; default 10s).
     */
    @WithDefault("10s")
    Duration eventsIdleCheck();

    /**
     * Submits a new API process rehearses over loopback before it reports ready, so its first real requests find
     * its code compiled and its connections open (default 1000; 0 turns the warm-up off). See {@link ApiWarmUp}.
     */
    @WithDefault("1000")
    int warmUpRequests();
}
