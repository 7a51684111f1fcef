package io.denoise.messaging;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** Kafka topic names. Channel names used with SmallRye are the constants below. */
@ConfigMapping(prefix = "denoise.topics")
public interface Topics {

    /** Outgoing channel: job events, keyed by job id. */
    String EVENTS_OUT = "events-out";
    /** Incoming channel: job events, read by every API replica. */
    String EVENTS_IN = "events-in";
    /** Outgoing channel: control broadcasts (cancel). */
    String CONTROL_OUT = "control-out";
    /** Incoming channel: control broadcasts, read by every worker. */
    String CONTROL_IN = "control-in";

    /** Prefix of the per-model jobs topics (default {@code denoise.jobs.}, so {@code denoise.jobs.shapes}). */
    @WithDefault("denoise.jobs.")
    String jobsPrefix();

    /** Events topic (default {@code denoise.events}). */
    @WithDefault("denoise.events")
    String events();

    /** Control topic (default {@code denoise.control}). */
    @WithDefault("denoise.control")
    String control();

    /** The jobs topic of one model. */
    default String jobs(String model) {
        return jobsPrefix() + model;
    }
}
