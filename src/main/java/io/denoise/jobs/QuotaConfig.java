package io.denoise.jobs;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * What one tenant may have and do: jobs queued or running at once, a submit rate (a token bucket), and how large one
 * job may be. Each has a default and can be set per tenant ({@code denoise.quotas.tenants.acme.max-active-jobs=20}).
 * The counts are kept in the database, so they hold across API replicas.
 */
@ConfigMapping(prefix = "denoise.quotas")
public interface QuotaConfig {

    /** Jobs of one tenant QUEUED or RUNNING at once, a sweep's cells included (default 1000); past it 429. */
    @WithDefault("1000")
    int maxActiveJobs();

    /** Jobs one tenant may submit per second, on average (default 50); past it 429 with the wait. */
    @WithDefault("50")
    double submitRate();

    /** Jobs one tenant may submit at once before the rate applies (default 200). */
    @WithDefault("200")
    int submitBurst();

    /** Images one job of the tenant may ask for (default 16; a model's own limit may be lower); past it 400. */
    @WithDefault("16")
    int maxImagesPerJob();

    /**
     * Work one job of the tenant may ask for: steps × width × height × images (default 2^28, e.g. 50 steps of
     * five 1024×1024 images); past it 400 naming {@code numInferenceSteps}.
     */
    @WithDefault("268435456")
    long maxStepPixels();

    /** What a 429 for {@link #maxActiveJobs()} tells the client to wait (default 5s). */
    @WithDefault("5s")
    Duration retryAfter();

    /** Per tenant: any of the above for that tenant alone. */
    Map<String, Tenant> tenants();

    /** One tenant's own limits; unset ones take the defaults. */
    interface Tenant {
        Optional<Integer> maxActiveJobs();

        Optional<Double> submitRate();

        Optional<Integer> submitBurst();

        Optional<Integer> maxImagesPerJob();

        Optional<Long> maxStepPixels();
    }

    default int maxActiveJobs(String tenant) {
        Tenant t = tenants().get(tenant);
        return t == null ? maxActiveJobs() : t.maxActiveJobs().orElse(maxActiveJobs());
    }

    default double submitRate(String tenant) {
        Tenant t = tenants().get(tenant);
        return t == null ? submitRate() : t.submitRate().orElse(submitRate());
    }

    default int submitBurst(String tenant) {
        Tenant t = tenants().get(tenant);
        return t == null ? submitBurst() : t.submitBurst().orElse(submitBurst());
    }

    default int maxImagesPerJob(String tenant) {
        Tenant t = tenants().get(tenant);
        return t == null ? maxImagesPerJob() : t.maxImagesPerJob().orElse(maxImagesPerJob());
    }

    default long maxStepPixels(String tenant) {
        Tenant t = tenants().get(tenant);
        return t == null ? maxStepPixels() : t.maxStepPixels().orElse(maxStepPixels());
    }
}
