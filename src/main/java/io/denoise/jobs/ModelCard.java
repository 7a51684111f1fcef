package io.denoise.jobs;

import io.denoise.recipe.ModelProfile;

import java.time.Instant;
import java.util.List;

/**
 * What a worker serves under a model name: its profile (the defaults a request gets and the limits it is checked
 * against) with the model's hash. Workers register their cards at start; the API validates requests and answers
 * {@code GET /v1/models} from them.
 *
 * @param lastSeenAt when a worker serving this model last started or checked in
 */
public record ModelCard(String name, String hash, ModelProfile.Defaults defaults, ModelProfile.Limits limits,
                        List<String> schedulers, boolean imageToImage, Instant lastSeenAt) {

    public static ModelCard of(ModelProfile profile, String hash, Instant lastSeenAt) {
        return new ModelCard(profile.name(), hash, profile.defaults(), profile.limits(), profile.schedulers(),
                profile.imageToImage(), lastSeenAt);
    }

    public ModelProfile profile() {
        return new ModelProfile(name, defaults, limits, schedulers, imageToImage);
    }
}
