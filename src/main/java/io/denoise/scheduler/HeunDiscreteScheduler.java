package io.denoise.scheduler;

import io.denoise.random.NoiseSource;

/**
 * Port of diffusers' {@code HeunDiscreteScheduler} (Heun's second-order method, Karras et al. 2022, Algorithm 1).
 * Reads {@code num_train_timesteps}, {@code beta_*} (defaults 0.00085 / 0.012), {@code trained_betas},
 * {@code prediction_type} (epsilon, v_prediction, sample), {@code use_karras_sigmas}, {@code clip_sample}
 * (default false), {@code clip_sample_range}, {@code timestep_spacing} (default linspace) and
 * {@code steps_offset}.
 *
 * <p>Order 2: for {@code N} steps the timesteps are {@code [t0, t1, t1, t2, t2, ..., t(N-1), t(N-1)]}
 * ({@code 2N - 1} entries) and the caller makes one model call per entry. A first-order (Euler) call stores its
 * derivative, the following call at the same timestep averages it with the derivative at the predicted point and
 * redoes the step from the stored sample; the last entry is a plain Euler step to sigma 0.
 *
 * <p>Float timesteps; deterministic. Mutable, not thread-safe: one instance per generation.
 */
public final class HeunDiscreteScheduler extends SigmaScheduler {

    private float[] previousDerivative;
    private float[] firstOrderSample;
    /** {@code dt} of the pending first-order step; NaN when in first-order state. */
    private double pendingDt = Double.NaN;

    /**
     * Creates the scheduler from a shared config.
     *
     * @param config diffusers scheduler config
     */
    public HeunDiscreteScheduler(SchedulerConfig config) {
        super(config, NoiseSchedules.alphasCumprod(config, 0.00085, 0.012, NoiseSchedules.ZeroSnr.IGNORED));
    }

    @Override
    public int order() {
        return 2;
    }

    /** Port of {@code HeunDiscreteScheduler.set_timesteps}: interior sigmas and timesteps repeated twice. */
    @Override
    public void setTimesteps(int numInferenceSteps) {
        beginSetTimesteps(numInferenceSteps);
        Schedule schedule = interpolatedSchedule(numInferenceSteps);
        double[] ts = schedule.timesteps();
        double[] s = append(schedule.sigmas(), 0.0);
        double[] doubledSigmas = new double[2 * numInferenceSteps];
        doubledSigmas[0] = s[0];
        for (int i = 1; i < numInferenceSteps; i++) {
            doubledSigmas[2 * i - 1] = s[i];
            doubledSigmas[2 * i] = s[i];
        }
        doubledSigmas[2 * numInferenceSteps - 1] = s[numInferenceSteps];
        double[] doubledTimesteps = new double[2 * numInferenceSteps - 1];
        doubledTimesteps[0] = ts[0];
        for (int i = 1; i < numInferenceSteps; i++) {
            doubledTimesteps[2 * i - 1] = ts[i];
            doubledTimesteps[2 * i] = ts[i];
        }
        install(doubledTimesteps, doubledSigmas);
        pendingDt = Double.NaN;
    }

    /** Port of {@code HeunDiscreteScheduler.step}. */
    @Override
    public void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise) {
        Elementwise.requireSameLength(modelOutput, sample);
        int i = currentStepIndex(timestep);
        boolean firstOrder = Double.isNaN(pendingDt);
        double sigma = firstOrder ? sigmas[i] : sigmas[i - 1];
        double sigmaNext = firstOrder ? sigmas[i + 1] : sigmas[i];
        double sigmaInput = firstOrder ? sigma : sigmaNext;
        double[] x0 = Prediction.kDiffusionX0(config.predictionType(), sigmaInput);
        float[] derivative;
        if (firstOrder) {
            previousDerivative = Elementwise.ensure(previousDerivative, sample.length);
            firstOrderSample = Elementwise.ensure(firstOrderSample, sample.length);
            derivative = previousDerivative;
            writeDerivative(derivative, sample, modelOutput, x0, sigma);
            System.arraycopy(sample, 0, firstOrderSample, 0, sample.length);
            pendingDt = sigmaNext - sigma;
            Elementwise.combine(sample, 1, sample, pendingDt, derivative);
        } else {
            derivative = sample;
            writeDerivative(derivative, sample, modelOutput, x0, sigmaNext);
            Elementwise.combine(sample, 1, firstOrderSample, 0.5 * pendingDt, previousDerivative,
                    0.5 * pendingDt, derivative);
            pendingDt = Double.NaN;
        }
        stepIndex++;
    }

    /** {@code (x - x0) / sigma}, with {@code x0} clipped when {@code clip_sample} is set. */
    private void writeDerivative(float[] out, float[] x, float[] modelOutput, double[] x0, double sigma) {
        boolean clip = Boolean.TRUE.equals(config.clipSample());
        double range = config.clipSampleRange();
        for (int k = 0; k < out.length; k++) {
            double predicted = x0[0] * x[k] + x0[1] * modelOutput[k];
            if (clip) {
                predicted = Math.max(-range, Math.min(range, predicted));
            }
            out[k] = (float) ((x[k] - predicted) / sigma);
        }
    }
}
