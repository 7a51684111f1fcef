package io.denoise.jobs;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/**
 * Fair scheduling: jobs wait in PostgreSQL (held) and {@link FairDispatcher} releases them to Kafka a few at a time
 * as workers take them, highest priority first and round-robin across tenants within a priority, so one tenant's
 * backlog never stands in front of another tenant's first job.
 */
@ConfigMapping(prefix = "denoise.scheduling")
public interface SchedulingConfig {

    /** Whether jobs are held and released in fair order (default true); false sends each to Kafka as it is submitted. */
    @WithDefault("true")
    boolean fair();

    /**
     * Jobs of a model kept released ahead of the workers (on Kafka, not yet started) at the least (default 4): a
     * newcomer's job starts behind at most this many plus {@link #aheadPerRunning()} of the running ones.
     */
    @WithDefault("4")
    int minAhead();

    /** More released ahead per job running, so large fleets are never starved between two rounds (default 0.25). */
    @WithDefault("0.25")
    double aheadPerRunning();

    /**
     * How often each API replica looks for jobs to release while jobs are held (default 50ms). A replica also looks soon
     * after it stored held jobs, and after a worker in its process claimed one.
     */
    @WithDefault("50ms")
    Duration interval();

    /**
     * How often a replica looks while its last round saw no held job (default 1s): every replica wakes its own
     * dispatcher when it stores one, so these rounds only catch the jobs of a replica that stopped before its round.
     */
    @WithDefault("1s")
    Duration idleInterval();

    /** Held jobs one round reads per tenant and priority, at most (default 64). */
    @WithDefault("64")
    int maxRelease();
}
