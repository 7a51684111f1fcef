package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import io.denoise.scheduler.SchedulerConfig.FinalSigmasType;
import io.denoise.scheduler.SchedulerConfig.InterpolationType;
import io.denoise.scheduler.SchedulerConfig.PredictionType;
import io.denoise.scheduler.SchedulerConfig.TimestepType;

/**
 * Port of diffusers' {@code EulerDiscreteScheduler} (Euler method of Karras et al. 2022, Algorithm 2 with
 * {@code s_churn = 0}). Reads {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas},
 * {@code prediction_type} (epsilon, v_prediction, sample), {@code interpolation_type}, {@code use_karras_sigmas},
 * {@code sigma_min}, {@code sigma_max}, {@code timestep_spacing} (default linspace), {@code timestep_type},
 * {@code steps_offset}, {@code rescale_betas_zero_snr} and {@code final_sigmas_type}.
 *
 * <p>Float timesteps; first-order, deterministic. Mutable, not thread-safe: one instance per generation.
 */
public final class EulerDiscreteScheduler extends SigmaScheduler {

    /**
     * Creates the scheduler from a shared config.
     *
     * @param config diffusers scheduler config
     */
    public EulerDiscreteScheduler(SchedulerConfig config) {
        super(config, NoiseSchedules.alphasCumprod(config, 0.0001, 0.02,
                NoiseSchedules.ZeroSnr.RESCALE_AND_CLAMP_LAST));
    }

    /** Port of {@code EulerDiscreteScheduler.set_timesteps}. */
    @Override
    public void setTimesteps(int numInferenceSteps) {
        beginSetTimesteps(numInferenceSteps);
        double[] ts = spacedTimesteps(numInferenceSteps);
        double[] s;
        if (config.interpolationType() == InterpolationType.LOG_LINEAR) {
            float[] logs = NoiseSchedules.torchLinspace(logTrainingSigmas[logTrainingSigmas.length - 1],
                    logTrainingSigmas[0], numInferenceSteps + 1);
            s = new double[logs.length];
            for (int i = 0; i < logs.length; i++) {
                s[i] = (float) Math.exp(logs[i]);
            }
        } else {
            s = interpolatedSigmas(ts);
        }
        if (config.useKarrasSigmas()) {
            double sigmaMin = config.sigmaMin() != null ? config.sigmaMin() : s[s.length - 1];
            double sigmaMax = config.sigmaMax() != null ? config.sigmaMax() : s[0];
            s = NoiseSchedules.karrasSigmas(sigmaMin, sigmaMax, numInferenceSteps);
            ts = timestepsForSigmas(s);
        }
        double last = config.finalSigmasType() == FinalSigmasType.SIGMA_MIN ? trainingSigmas[0] : 0.0;
        s = append(s, last);
        if (config.timestepType() == TimestepType.CONTINUOUS
                && config.predictionType() == PredictionType.V_PREDICTION) {
            ts = new double[s.length - 1];
            for (int i = 0; i < ts.length; i++) {
                ts[i] = 0.25 * Math.log((float) s[i]);
            }
        }
        install(ts, s);
    }

    /** Port of {@code EulerDiscreteScheduler.step} with {@code s_churn = 0}. */
    @Override
    public void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise) {
        Elementwise.requireSameLength(modelOutput, sample);
        int i = currentStepIndex(timestep);
        double sigma = sigmas[i];
        double[] d = Prediction.kDiffusionDerivative(config.predictionType(), sigma);
        double dt = sigmas[i + 1] - sigma;
        Elementwise.combine(sample, 1 + d[0] * dt, sample, d[1] * dt, modelOutput);
        stepIndex++;
    }
}
