package io.denoise.messaging;

import java.util.UUID;

/** A broadcast on {@code denoise.control}, read by every worker. */
public record ControlMessage(String type, UUID jobId) {

    public static final String CANCEL = "cancel";
}
