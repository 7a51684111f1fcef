package io.denoise.scheduler;

import io.denoise.random.NoiseSource;

/**
 * Port of diffusers' {@code LMSDiscreteScheduler} (linear multistep method of order 4 on the k-diffusion ODE).
 * Reads {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code use_karras_sigmas},
 * {@code prediction_type} (epsilon, v_prediction, sample), {@code timestep_spacing} (default linspace) and
 * {@code steps_offset}.
 *
 * <p>The coefficients are integrals of Lagrange basis polynomials over the sigma interval of each step, which
 * diffusers evaluates with {@code scipy.integrate.quad}; here an adaptive Gauss-Kronrod rule ({@link Quadrature})
 * does it, exactly for these polynomials. Like diffusers, the effective order is {@code min(step_index + 1, 4)} but
 * only as many past derivatives as exist are used: an img2img run that starts mid-schedule begins with the leading
 * coefficient of a higher-order formula alone.
 *
 * <p>Float timesteps; deterministic. Keeps the last four derivatives. Mutable, not thread-safe: one instance per
 * generation.
 */
public final class LmsDiscreteScheduler extends SigmaScheduler {

    private static final int ORDER = 4;
    private static final double QUAD_REL_TOL = 1e-4;

    /** Ring of derivatives, most recent at {@code (derivativeHead - 1) mod ORDER}. */
    private final float[][] derivatives = new float[ORDER][];
    private int derivativeCount;
    private int derivativeHead;

    /**
     * Creates the scheduler from a shared config.
     *
     * @param config diffusers scheduler config
     */
    public LmsDiscreteScheduler(SchedulerConfig config) {
        super(config, NoiseSchedules.alphasCumprod(config, 0.0001, 0.02, NoiseSchedules.ZeroSnr.IGNORED));
    }

    /** Port of {@code LMSDiscreteScheduler.set_timesteps}. */
    @Override
    public void setTimesteps(int numInferenceSteps) {
        beginSetTimesteps(numInferenceSteps);
        Schedule schedule = interpolatedSchedule(numInferenceSteps);
        install(schedule.timesteps(), append(schedule.sigmas(), 0.0));
        derivativeCount = 0;
        derivativeHead = 0;
    }

    /** Port of {@code LMSDiscreteScheduler.step} with the default {@code order=4}. */
    @Override
    public void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise) {
        Elementwise.requireSameLength(modelOutput, sample);
        int t = currentStepIndex(timestep);
        double[] d = Prediction.kDiffusionDerivative(config.predictionType(), sigmas[t]);
        float[] derivative = Elementwise.ensure(derivatives[derivativeHead], sample.length);
        derivatives[derivativeHead] = derivative;
        Elementwise.combine(derivative, d[0], sample, d[1], modelOutput);
        derivativeHead = (derivativeHead + 1) % ORDER;
        derivativeCount = Math.min(derivativeCount + 1, ORDER);

        int order = Math.min(t + 1, ORDER);
        int used = Math.min(order, derivativeCount);
        double[] coefficients = new double[used + 1];
        float[][] terms = new float[used + 1][];
        coefficients[0] = 1;
        terms[0] = sample;
        for (int k = 0; k < used; k++) {
            coefficients[k + 1] = lmsCoefficient(order, t, k);
            terms[k + 1] = derivatives[Math.floorMod(derivativeHead - 1 - k, ORDER)];
        }
        Elementwise.combine(sample, coefficients, terms);
        stepIndex++;
    }

    /** Port of {@code get_lms_coefficient}: integral over [sigma_t, sigma_{t+1}] of the Lagrange basis polynomial. */
    private double lmsCoefficient(int order, int t, int currentOrder) {
        return Quadrature.integrate(tau -> {
            double product = 1.0;
            for (int k = 0; k < order; k++) {
                if (k != currentOrder) {
                    product *= (tau - sigmas[t - k]) / (sigmas[t - currentOrder] - sigmas[t - k]);
                }
            }
            return product;
        }, sigmas[t], sigmas[t + 1], QUAD_REL_TOL);
    }
}
