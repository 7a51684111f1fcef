package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import io.denoise.scheduler.SchedulerConfig.TimestepSpacing;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * State and defaults common to every scheduler: the config, {@code alphas_cumprod}, the current timesteps, and
 * diffusers' {@code SchedulerMixin} defaults (order 1, unit initial noise, identity input scaling, no sigmas, no
 * begin index).
 *
 * <p>Mutable, not thread-safe; see {@link Scheduler}.
 */
abstract class AbstractScheduler implements Scheduler {

    final SchedulerConfig config;
    final float[] alphasCumprod;
    /** Timesteps of the current generation, {@code null} before {@link #setTimesteps(int)}. */
    double[] timesteps;
    int numInferenceSteps;
    /** Reused by {@link #drawNoise}. */
    private float[] noiseBuffer;

    AbstractScheduler(SchedulerConfig config, float[] alphasCumprod) {
        this.config = config;
        this.alphasCumprod = alphasCumprod;
    }

    @Override
    public final double[] timesteps() {
        return requireTimesteps().clone();
    }

    @Override
    public int order() {
        return 1;
    }

    @Override
    public Optional<double[]> sigmas() {
        return Optional.empty();
    }

    @Override
    public double initNoiseSigma() {
        return 1.0;
    }

    @Override
    public void scaleModelInput(float[] sample, double timestep, float[] out) {
        Elementwise.requireSameLength(sample, out);
        Elementwise.copy(sample, out);
    }

    @Override
    public void setBeginIndex(int beginIndex) {
        // Diffusers gives this scheduler no set_begin_index: steps are located by timestep value.
    }

    @Override
    public OptionalInt beginIndex() {
        return OptionalInt.empty();
    }

    /** A copy of {@code alphas_cumprod}, as diffusers' {@code scheduler.alphas_cumprod}. */
    float[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    /** Validates {@code N} and records it; called first by every {@code setTimesteps}. */
    void beginSetTimesteps(int numInferenceSteps) {
        if (numInferenceSteps < 1) {
            throw new IllegalArgumentException("numInferenceSteps must be at least 1, got " + numInferenceSteps);
        }
        if (numInferenceSteps > config.numTrainTimesteps()) {
            throw new IllegalArgumentException("numInferenceSteps " + numInferenceSteps
                    + " exceeds num_train_timesteps " + config.numTrainTimesteps());
        }
        this.numInferenceSteps = numInferenceSteps;
    }

    double[] requireTimesteps() {
        if (timesteps == null) {
            throw new IllegalStateException("setTimesteps has not been called");
        }
        return timesteps;
    }

    /**
     * Draws one noise array of {@code length} values from {@code noise} into a buffer that the next draw reuses.
     *
     * @return the buffer, valid until the next draw
     */
    float[] drawNoise(NoiseSource noise, int length) {
        noiseBuffer = Elementwise.ensure(noiseBuffer, length);
        noise.sample(noiseBuffer);
        return noiseBuffer;
    }

    /** The configured spacing, or the class default when the config leaves it unset. */
    TimestepSpacing spacing(TimestepSpacing classDefault) {
        return config.timestepSpacing() == null ? classDefault : config.timestepSpacing();
    }

    /** {@code alphas_cumprod[t]} with Python's indexing (a negative {@code t} counts from the end). */
    double alphaProd(int t) {
        return alphasCumprod[t < 0 ? alphasCumprod.length + t : t];
    }

    /** A timestep that diffusers uses as an integer index; rejects fractional values. */
    static int integerTimestep(double timestep) {
        if (timestep != Math.rint(timestep)) {
            throw new IllegalArgumentException("expected an integer timestep, got " + timestep);
        }
        return (int) timestep;
    }
}
