package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import io.denoise.scheduler.SchedulerConfig.PredictionType;

/**
 * Port of diffusers' {@code EulerAncestralDiscreteScheduler} (ancestral sampling with Euler steps, k-diffusion's
 * {@code sample_euler_ancestral}). Reads {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas},
 * {@code prediction_type} (epsilon, v_prediction; diffusers rejects sample), {@code timestep_spacing} (default
 * linspace), {@code steps_offset} and {@code rescale_betas_zero_snr}; diffusers' class has no Karras option.
 *
 * <p>Float timesteps; stochastic: every {@link #step} draws one noise array from its {@link NoiseSource}, even the
 * last one (where the noise is scaled by zero). Mutable, not thread-safe: one instance per generation.
 */
public final class EulerAncestralDiscreteScheduler extends SigmaScheduler {

    /**
     * Creates the scheduler from a shared config.
     *
     * @param config diffusers scheduler config
     */
    public EulerAncestralDiscreteScheduler(SchedulerConfig config) {
        super(config, NoiseSchedules.alphasCumprod(config, 0.0001, 0.02,
                NoiseSchedules.ZeroSnr.RESCALE_AND_CLAMP_LAST));
        Prediction.require(config.predictionType(), "EulerAncestralDiscreteScheduler",
                PredictionType.EPSILON, PredictionType.V_PREDICTION);
    }

    /** Port of {@code EulerAncestralDiscreteScheduler.set_timesteps}. */
    @Override
    public void setTimesteps(int numInferenceSteps) {
        beginSetTimesteps(numInferenceSteps);
        double[] ts = spacedTimesteps(numInferenceSteps);
        install(ts, append(interpolatedSigmas(ts), 0.0));
    }

    /** Port of {@code EulerAncestralDiscreteScheduler.step}. */
    @Override
    public void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise) {
        Elementwise.requireSameLength(modelOutput, sample);
        int i = currentStepIndex(timestep);
        double sigmaFrom = sigmas[i];
        double sigmaTo = sigmas[i + 1];
        double sigmaUp = Math.sqrt(sigmaTo * sigmaTo * (sigmaFrom * sigmaFrom - sigmaTo * sigmaTo)
                / (sigmaFrom * sigmaFrom));
        double sigmaDown = Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
        double[] d = Prediction.kDiffusionDerivative(config.predictionType(), sigmaFrom);
        double dt = sigmaDown - sigmaFrom;
        float[] noiseTerm = drawNoise(noise, sample.length);
        Elementwise.combine(sample, 1 + d[0] * dt, sample, d[1] * dt, modelOutput, sigmaUp, noiseTerm);
        stepIndex++;
    }
}
