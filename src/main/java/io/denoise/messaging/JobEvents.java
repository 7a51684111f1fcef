package io.denoise.messaging;

import java.util.concurrent.CompletionStage;

/** Where job events go. {@link EventPublisher} is the implementation. */
public interface JobEvents {

    /**
     * Sends an event without waiting; the stage completes when the broker has it. Never throws: a failure
     * completes the stage exceptionally.
     */
    CompletionStage<Void> publish(JobEvent event);
}
