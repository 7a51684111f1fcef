package io.denoise.scheduler;

import io.denoise.random.NoiseSource;

/**
 * Port of diffusers' {@code DDIMScheduler} (denoising diffusion implicit models, Song et al. 2020, formulas 12 and
 * 16). Reads {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code clip_sample} (default true),
 * {@code clip_sample_range}, {@code set_alpha_to_one} (default true), {@code steps_offset}, {@code prediction_type}
 * (epsilon, v_prediction, sample), {@code timestep_spacing} (default leading) and {@code rescale_betas_zero_snr}.
 *
 * <p>{@code eta} is the {@code step(..., eta=...)} argument of diffusers (pipelines pass 0): 0 is deterministic DDIM,
 * 1 is DDPM-like; with {@code eta > 0} every step draws one noise array from its {@link NoiseSource} as the
 * {@code variance_noise}. As in diffusers, the previous timestep is always {@code t - num_train_timesteps // N},
 * whatever the spacing.
 *
 * <p>Integer timesteps; stateless between steps apart from the schedule. Mutable, not thread-safe: one instance per
 * generation.
 */
public final class DdimScheduler extends DiscreteTimeScheduler {

    private final double eta;
    private final double finalAlphaCumprod;
    private final boolean clipSample;

    /**
     * Creates a deterministic DDIM scheduler ({@code eta = 0}).
     *
     * @param config diffusers scheduler config
     */
    public DdimScheduler(SchedulerConfig config) {
        this(config, 0.0);
    }

    /**
     * Creates the scheduler.
     *
     * @param config diffusers scheduler config
     * @param eta    weight of the noise added at each step, at least 0
     */
    public DdimScheduler(SchedulerConfig config, double eta) {
        super(config);
        if (!(eta >= 0)) {
            throw new IllegalArgumentException("eta must be non-negative, got " + eta);
        }
        this.eta = eta;
        boolean setAlphaToOne = config.setAlphaToOne() == null || config.setAlphaToOne();
        this.finalAlphaCumprod = setAlphaToOne ? 1.0 : alphasCumprod[0];
        this.clipSample = config.clipSample() == null || config.clipSample();
    }

    /** The {@code eta} this scheduler steps with. */
    public double eta() {
        return eta;
    }

    /** Port of {@code DDIMScheduler.step} ({@code use_clipped_model_output=False}). */
    @Override
    public void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise) {
        Elementwise.requireSameLength(modelOutput, sample);
        requireTimesteps();
        int t = integerTimestep(timestep);
        int prev = t - config.numTrainTimesteps() / numInferenceSteps;
        double alphaProdT = alphaProd(t);
        double alphaProdPrev = prev >= 0 ? alphaProd(prev) : finalAlphaCumprod;
        double betaProdT = 1 - alphaProdT;
        double alpha = Math.sqrt(alphaProdT);
        double sigma = Math.sqrt(betaProdT);
        double[] x0 = Prediction.x0(config.predictionType(), alpha, sigma);
        double[] eps = Prediction.epsilon(config.predictionType(), alpha, sigma);

        double variance = (1 - alphaProdPrev) / betaProdT * (1 - alphaProdT / alphaProdPrev);
        double stdDev = eta * Math.sqrt(variance);
        double x0Coeff = Math.sqrt(alphaProdPrev);
        double epsCoeff = Math.sqrt(1 - alphaProdPrev - stdDev * stdDev);

        float[] noiseTerm = eta > 0 ? drawNoise(noise, sample.length) : null;
        double limit = config.clipSampleRange();
        for (int i = 0; i < sample.length; i++) {
            double x = sample[i];
            double m = modelOutput[i];
            double predictedX0 = x0[0] * x + x0[1] * m;
            if (clipSample) {
                predictedX0 = Math.max(-limit, Math.min(limit, predictedX0));
            }
            double predictedEps = eps[0] * x + eps[1] * m;
            double prevSample = x0Coeff * predictedX0 + epsCoeff * predictedEps;
            if (noiseTerm != null) {
                prevSample += stdDev * noiseTerm[i];
            }
            sample[i] = (float) prevSample;
        }
    }
}
