package io.denoise.scheduler;

import io.denoise.random.NoiseSource;

/**
 * Port of diffusers' {@code DDPMScheduler} (denoising diffusion probabilistic models, Ho et al. 2020, formulas 6, 7
 * and 15). Reads {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code variance_type}
 * ({@code fixed_small} by default, {@code fixed_small_log}, {@code fixed_large}), {@code clip_sample} (default
 * true), {@code clip_sample_range}, {@code prediction_type} (epsilon, v_prediction, sample),
 * {@code timestep_spacing} (default leading), {@code steps_offset} and {@code rescale_betas_zero_snr}.
 *
 * <p>The previous timestep is the next entry of {@link #timesteps()} (or -1 after the last). Stochastic: every step
 * with {@code t > 0} draws one noise array from its {@link NoiseSource}.
 *
 * <p>Integer timesteps. Mutable, not thread-safe: one instance per generation.
 */
public final class DdpmScheduler extends DiscreteTimeScheduler {

    private final String varianceType;
    private final boolean clipSample;

    /**
     * Creates the scheduler from a shared config.
     *
     * @param config diffusers scheduler config
     */
    public DdpmScheduler(SchedulerConfig config) {
        super(config);
        this.varianceType = config.varianceType() == null ? "fixed_small" : config.varianceType();
        this.clipSample = config.clipSample() == null || config.clipSample();
    }

    /** Port of {@code DDPMScheduler.step}. */
    @Override
    public void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise) {
        Elementwise.requireSameLength(modelOutput, sample);
        int t = integerTimestep(timestep);
        int prev = previousTimestep(t);
        double alphaProdT = alphaProd(t);
        double alphaProdPrev = prev >= 0 ? alphaProd(prev) : 1.0;
        double betaProdT = 1 - alphaProdT;
        double betaProdPrev = 1 - alphaProdPrev;
        double currentAlpha = alphaProdT / alphaProdPrev;
        double currentBeta = 1 - currentAlpha;
        double[] x0 = Prediction.x0(config.predictionType(), Math.sqrt(alphaProdT), Math.sqrt(betaProdT));

        double x0Coeff = Math.sqrt(alphaProdPrev) * currentBeta / betaProdT;
        double sampleCoeff = Math.sqrt(currentAlpha) * betaProdPrev / betaProdT;

        double noiseScale = 0;
        float[] noiseTerm = null;
        if (t > 0) {
            noiseScale = noiseScale(betaProdPrev / betaProdT * currentBeta, currentBeta);
            noiseTerm = drawNoise(noise, sample.length);
        }
        double limit = config.clipSampleRange();
        for (int i = 0; i < sample.length; i++) {
            double x = sample[i];
            double predictedX0 = x0[0] * x + x0[1] * modelOutput[i];
            if (clipSample) {
                predictedX0 = Math.max(-limit, Math.min(limit, predictedX0));
            }
            double prevSample = x0Coeff * predictedX0 + sampleCoeff * x;
            if (noiseTerm != null) {
                prevSample += noiseScale * noiseTerm[i];
            }
            sample[i] = (float) prevSample;
        }
    }

    /** Port of {@code _get_variance} and its use in {@code step}: the factor applied to the unit noise. */
    private double noiseScale(double posteriorVariance, double currentBeta) {
        double variance = Math.max(posteriorVariance, 1e-20);
        switch (varianceType) {
            case "fixed_small":
                return Math.sqrt(variance);
            case "fixed_small_log":
                return Math.exp(0.5 * Math.log(variance));
            case "fixed_large":
                return Math.sqrt(currentBeta);
            default:
                throw new IllegalStateException("variance_type " + varianceType);
        }
    }

    /** Port of {@code DDPMScheduler.previous_timestep}: the next scheduled timestep, -1 after the last. */
    private int previousTimestep(int t) {
        double[] ts = requireTimesteps();
        for (int i = 0; i < ts.length; i++) {
            if (ts[i] == t) {
                return i + 1 < ts.length ? (int) ts[i + 1] : -1;
            }
        }
        throw new IllegalArgumentException("timestep " + t + " is not in the schedule");
    }
}
