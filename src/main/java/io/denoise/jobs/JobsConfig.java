package io.denoise.jobs;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/** How jobs are kept alive and when one is given up. */
@ConfigMapping(prefix = "denoise.jobs")
public interface JobsConfig {

    /**
     * Attempts a job may start (each claim is one); a job whose attempts all died without finishing — a worker
     * killed, a lease lost — fails with {@code ATTEMPTS_EXHAUSTED} instead of being tried again (default 3).
     */
    @WithDefault("3")
    int maxAttempts();

    /** How often the recovery loop looks for stranded jobs (default 10s). */
    @WithDefault("10s")
    Duration recoveryInterval();

    /**
     * How long a QUEUED job may go without a dispatch, or a RUNNING one without a lease, before recovery checks
     * whether its Kafka record is still there (default 60s).
     */
    @WithDefault("60s")
    Duration staleAfter();

    /** Records recovery re-publishes for one job before it fails the job with {@code UNDELIVERABLE} (default 5). */
    @WithDefault("5")
    int maxRedrives();

    /** The most submits stored in one transaction by {@link SubmitBatcher} (default 64). */
    @WithDefault("64")
    int submitBatch();

    /** {@link SubmitBatcher}'s transactions at once, each on its own pooled connection (default 4). */
    @WithDefault("4")
    int submitCommitters();

    /**
     * Submits that may wait on this replica for a transaction; past it a submit is refused with 503 (default 1024,
     * more than the request threads that could be waiting).
     */
    @WithDefault("1024")
    int submitQueue();
}
