package io.denoise.jobs;

import java.time.Instant;
import java.util.List;

/**
 * What a worker serves under a model name: the defaults a request gets and the limits it is checked against.
 * Workers register their cards at start; the API validates requests and answers {@code GET /v1/models} from them.
 *
 * @param lastSeenAt when a worker serving this model last started or checked in
 */
public record ModelCard(String name, String hash, Defaults defaults, Limits limits, List<String> schedulers,
                        boolean imageToImage, Instant lastSeenAt) {

    /** Request defaults. */
    public record Defaults(double guidanceScale, int numInferenceSteps, int width, int height, String scheduler) {
    }

    /** Inclusive bounds on request fields. */
    public record Limits(int minWidth, int maxWidth, int minHeight, int maxHeight, int maxSteps, int maxImages) {
    }
}
