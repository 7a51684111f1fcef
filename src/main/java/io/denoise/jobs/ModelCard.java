package io.denoise.jobs;

import io.denoise.recipe.ModelProfile;

import java.time.Instant;
import java.util.List;

/**
 * What a worker serves under a model name: its profile (the defaults a request gets and the limits it is checked
 * against) with the model's hash. Workers register their cards at start; the API validates requests and answers
 * {@code GET /v1/models} from them.
 *
 * @param batching   how the model's jobs share UNet calls on the worker that registered it last: {@link #PER_SAMPLE},
 *                   {@link #SAME_TIMESTEP} or {@link #OFF}
 * @param lastSeenAt when a worker serving this model last started or checked in
 */
public record ModelCard(String name, String hash, ModelProfile.Defaults defaults, ModelProfile.Limits limits,
                        List<String> schedulers, boolean imageToImage, String batching, Instant lastSeenAt) {

    /** The UNet takes a timestep per row: jobs of one size share each step's call, each at its own timestep. */
    public static final String PER_SAMPLE = "per-sample";
    /** The UNet takes one timestep per call: only jobs at the same timestep share a call. */
    public static final String SAME_TIMESTEP = "same-timestep";
    /** The worker runs one job at a time ({@code denoise.worker.max-batch-jobs=1}). */
    public static final String OFF = "off";

    public static ModelCard of(ModelProfile profile, String hash, String batching, Instant lastSeenAt) {
        return new ModelCard(profile.name(), hash, profile.defaults(), profile.limits(), profile.schedulers(),
                profile.imageToImage(), batching, lastSeenAt);
    }

    public ModelProfile profile() {
        return new ModelProfile(name, defaults, limits, schedulers, imageToImage);
    }
}
