package io.denoise.scheduler;

import io.denoise.scheduler.SchedulerConfig.TimestepSpacing;
import java.util.Arrays;
import java.util.Optional;

/**
 * Base of the k-diffusion style schedulers (LMS, Euler, Euler ancestral, Heun), whose latent is
 * {@code x = x0 + sigma * noise}: float32 timesteps, a sigma per timestep (plus a final one), input scaling by
 * {@code 1 / sqrt(sigma^2 + 1)}, {@code add_noise} as {@code x0 + sigma * noise}, and {@code init_noise_sigma}
 * from the largest sigma. Shared pieces of diffusers' {@code EulerDiscreteScheduler} that the others copy.
 *
 * <p>Mutable, not thread-safe; see {@link Scheduler}.
 */
abstract class SigmaScheduler extends IndexedScheduler {

    /** Ascending training sigmas (float32) and their logs, for interpolation and {@code _sigma_to_t}. */
    final float[] trainingSigmas;
    final float[] logTrainingSigmas;
    /** Sigmas of the current generation (float32 values); {@code null} before {@link #setTimesteps(int)}. */
    double[] sigmas;
    private double initNoiseSigma = Double.NaN;

    SigmaScheduler(SchedulerConfig config, float[] alphasCumprod) {
        super(config, alphasCumprod);
        this.trainingSigmas = NoiseSchedules.trainingSigmas(alphasCumprod);
        this.logTrainingSigmas = NoiseSchedules.log(trainingSigmas);
    }

    @Override
    public boolean integerTimesteps() {
        return false;
    }

    @Override
    public Optional<double[]> sigmas() {
        requireTimesteps();
        return Optional.of(sigmas.clone());
    }

    @Override
    public double initNoiseSigma() {
        requireTimesteps();
        return initNoiseSigma;
    }

    /** Installs the schedule of a generation and resets the indices. */
    void install(double[] newTimesteps, double[] newSigmas) {
        for (int i = 0; i < newTimesteps.length; i++) {
            newTimesteps[i] = (float) newTimesteps[i];
        }
        for (int i = 0; i < newSigmas.length; i++) {
            newSigmas[i] = (float) newSigmas[i];
        }
        timesteps = newTimesteps;
        sigmas = newSigmas;
        initNoiseSigma = NoiseSchedules.kInitNoiseSigma(spacing(TimestepSpacing.LINSPACE), sigmas);
        resetIndices();
    }

    /** The spaced float32 timesteps of {@code N} steps ({@code linspace} unless configured). */
    double[] spacedTimesteps(int n) {
        return NoiseSchedules.spacedTimesteps(spacing(TimestepSpacing.LINSPACE), config.numTrainTimesteps(), n,
                config.stepsOffset(), false);
    }

    /** {@code np.interp(timesteps, arange, training sigmas)}. */
    double[] interpolatedSigmas(double[] at) {
        double[] out = new double[at.length];
        for (int i = 0; i < at.length; i++) {
            out[i] = NoiseSchedules.interp(at[i], trainingSigmas);
        }
        return out;
    }

    /** {@code [_sigma_to_t(s) for s in sigmas]}. */
    double[] timestepsForSigmas(double[] forSigmas) {
        double[] out = new double[forSigmas.length];
        for (int i = 0; i < forSigmas.length; i++) {
            out[i] = NoiseSchedules.sigmaToT(forSigmas[i], logTrainingSigmas);
        }
        return out;
    }

    /**
     * The timesteps and sigmas of {@code N} steps as LMS and Heun set them: the spaced timesteps and their
     * interpolated sigmas or, with {@code use_karras_sigmas}, Karras sigmas over the same range and the timesteps
     * of those. The final sigma is not included.
     */
    Schedule interpolatedSchedule(int n) {
        double[] ts = spacedTimesteps(n);
        double[] s = interpolatedSigmas(ts);
        if (config.useKarrasSigmas()) {
            s = NoiseSchedules.karrasSigmas(s[s.length - 1], s[0], n);
            ts = timestepsForSigmas(s);
        }
        return new Schedule(ts, s);
    }

    /** Timesteps and the sigma of each, before {@link #install}. */
    record Schedule(double[] timesteps, double[] sigmas) {
    }

    /** {@code sigmas} with {@code last} appended. */
    static double[] append(double[] values, double last) {
        double[] out = Arrays.copyOf(values, values.length + 1);
        out[values.length] = last;
        return out;
    }

    /** Port of {@code scale_model_input}: {@code sample / sqrt(sigma^2 + 1)}, in float32. */
    @Override
    public void scaleModelInput(float[] sample, double timestep, float[] out) {
        Elementwise.requireSameLength(sample, out);
        float sigma = (float) sigmas[currentStepIndex(timestep)];
        float scale = (float) Math.sqrt(sigma * sigma + 1f);
        for (int i = 0; i < sample.length; i++) {
            out[i] = sample[i] / scale;
        }
    }

    /** Port of {@code EulerDiscreteScheduler.add_noise}: {@code x0 + sigma * noise}. */
    @Override
    public void addNoise(float[] original, float[] noise, double timestep, float[] out) {
        Elementwise.requireSameLength(original, noise, out);
        float sigma = (float) sigmas[addNoiseIndex(timestep)];
        for (int i = 0; i < out.length; i++) {
            out[i] = original[i] + noise[i] * sigma;
        }
    }

    /** Port of {@code EulerDiscreteScheduler.index_for_timestep}: the second match if the timestep repeats. */
    @Override
    int indexForTimestep(double timestep) {
        int[] m = matches(timestep);
        if (m[0] == 0) {
            throw new IllegalArgumentException("timestep " + timestep + " is not in the schedule");
        }
        return m[0] > 1 ? m[2] : m[1];
    }
}
