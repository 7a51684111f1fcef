package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import io.denoise.scheduler.SchedulerConfig.AlgorithmType;
import io.denoise.scheduler.SchedulerConfig.BetaSchedule;
import io.denoise.scheduler.SchedulerConfig.FinalSigmasType;

/**
 * Port of diffusers' {@code DPMSolverMultistepScheduler}: DPM-Solver ({@code algorithm_type=dpmsolver}) and
 * DPM-Solver++ ({@code dpmsolver++}, the default; "DPM++ 2M" with {@code solver_order=2}) multistep solvers of
 * order 1 to 3, with the {@code midpoint} or {@code heun} second-order update. Reads {@code num_train_timesteps},
 * {@code beta_*}, {@code trained_betas}, {@code solver_order}, {@code prediction_type} (epsilon, v_prediction,
 * sample), {@code algorithm_type}, {@code solver_type} (bh1, bh2 and logrho read as midpoint, as diffusers does),
 * {@code lower_order_final}, {@code euler_at_final}, {@code use_karras_sigmas}, {@code final_sigmas_type},
 * {@code lambda_min_clipped}, {@code variance_type}, {@code timestep_spacing} (default linspace),
 * {@code steps_offset} and {@code rescale_betas_zero_snr}.
 *
 * <p>As in diffusers, the first step is first order (warm-up), the last step is first order whenever
 * {@code final_sigmas_type} is {@code zero} (or with {@code euler_at_final}, or with {@code lower_order_final} and
 * fewer than 15 steps), and with {@code lower_order_final} and fewer than 15 steps the second-to-last step is at
 * most second order.
 *
 * <p>Integer timesteps; deterministic. Keeps the last {@code solver_order} converted outputs (data predictions for
 * DPM-Solver++, noise predictions for DPM-Solver). Mutable, not thread-safe: one instance per generation.
 */
public final class DpmSolverMultistepScheduler extends MultistepScheduler {

    private static final int LOWER_ORDER_FINAL_MAX_STEPS = 15;

    private final boolean dataPrediction;
    private final boolean heunUpdate;

    /**
     * Creates the scheduler from a shared config.
     *
     * @param config diffusers scheduler config
     */
    public DpmSolverMultistepScheduler(SchedulerConfig config) {
        super(config);
        if (config.solverOrder() > 3) {
            throw new IllegalArgumentException("solver_order: " + config.solverOrder()
                    + " is not supported by DPMSolverMultistepScheduler (1, 2 or 3)");
        }
        if (config.varianceType() != null && config.varianceType().startsWith("learned")) {
            throw new IllegalArgumentException("variance_type: learned variances are not supported");
        }
        this.dataPrediction = config.algorithmType() == AlgorithmType.DPMSOLVER_PLUS_PLUS;
        if (!dataPrediction && config.finalSigmasType() == FinalSigmasType.ZERO) {
            throw new IllegalArgumentException("final_sigmas_type: zero is not supported with algorithm_type "
                    + config.algorithmType().configValue() + "; use sigma_min");
        }
        this.heunUpdate = "heun".equals(config.solverType());
    }

    /** Port of {@code DPMSolverMultistepScheduler.set_timesteps}. */
    @Override
    public void setTimesteps(int numInferenceSteps) {
        computeSchedule(numInferenceSteps, lastTimestep(), false,
                config.betaSchedule() != BetaSchedule.SQUAREDCOS_CAP_V2, false);
    }

    /** {@code num_train_timesteps} minus the timesteps whose lambda falls below {@code lambda_min_clipped}. */
    private int lastTimestep() {
        int clipped = 0;
        for (float a : alphasCumprod) {
            double lambda = Math.log((float) Math.sqrt(a)) - Math.log((float) Math.sqrt(1f - a));
            if (lambda < config.lambdaMinClipped()) {
                clipped++;
            }
        }
        return config.numTrainTimesteps() - clipped;
    }

    /** Port of {@code DPMSolverMultistepScheduler.step}. */
    @Override
    public void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise) {
        Elementwise.requireSameLength(modelOutput, sample);
        int i = currentStepIndex(timestep);
        int n = timesteps.length;
        boolean fewSteps = config.lowerOrderFinal() && n < LOWER_ORDER_FINAL_MAX_STEPS;
        boolean lowerOrderFinal = i == n - 1
                && (config.eulerAtFinal() || fewSteps || config.finalSigmasType() == FinalSigmasType.ZERO);
        boolean lowerOrderSecond = i == n - 2 && fewSteps;

        convertModelOutput(modelOutput, sample, i, dataPrediction, conversionBuffer(sample.length));
        pushModelOutput();

        int order = config.solverOrder();
        if (order == 1 || lowerOrderNums < 1 || lowerOrderFinal) {
            firstOrderUpdate(sample, i);
        } else if (order == 2 || lowerOrderNums < 2 || lowerOrderSecond) {
            secondOrderUpdate(sample, i);
        } else {
            thirdOrderUpdate(sample, i);
        }
        if (lowerOrderNums < order) {
            lowerOrderNums++;
        }
        stepIndex++;
    }

    /**
     * Port of {@code dpm_solver_first_order_update}: {@code x_t = (sigma_t / sigma_s) x - alpha_t (e^-h - 1) D0}
     * for DPM-Solver++, {@code x_t = (alpha_t / alpha_s) x - sigma_t (e^h - 1) D0} for DPM-Solver.
     */
    private void firstOrderUpdate(float[] sample, int i) {
        double h = lambdaAt(i + 1) - lambdaAt(i);
        double[] base = baseCoefficients(i, h);
        Elementwise.combine(sample, base[0], sample, base[1], modelOutput(0));
    }

    /** Port of {@code multistep_dpm_solver_second_order_update} (midpoint or heun form). */
    private void secondOrderUpdate(float[] sample, int i) {
        double lambdaT = lambdaAt(i + 1);
        double lambdaS0 = lambdaAt(i);
        double lambdaS1 = lambdaAt(i - 1);
        double h = lambdaT - lambdaS0;
        double r0 = (lambdaS0 - lambdaS1) / h;
        double[] base = baseCoefficients(i, h);
        double d1Coeff;
        if (dataPrediction) {
            d1Coeff = heunUpdate
                    ? alphaAt(i + 1) * (Math.expm1(-h) / h + 1.0)
                    : -0.5 * alphaAt(i + 1) * Math.expm1(-h);
        } else {
            d1Coeff = heunUpdate
                    ? -sigmaAt(i + 1) * (Math.expm1(h) / h - 1.0)
                    : -0.5 * sigmaAt(i + 1) * Math.expm1(h);
        }
        // D1 = (m0 - m1) / r0
        double c0 = base[1] + d1Coeff / r0;
        double c1 = -d1Coeff / r0;
        Elementwise.combine(sample, base[0], sample, c0, modelOutput(0), c1, modelOutput(1));
    }

    /** Port of {@code multistep_dpm_solver_third_order_update}. */
    private void thirdOrderUpdate(float[] sample, int i) {
        double lambdaT = lambdaAt(i + 1);
        double lambdaS0 = lambdaAt(i);
        double lambdaS1 = lambdaAt(i - 1);
        double lambdaS2 = lambdaAt(i - 2);
        double h = lambdaT - lambdaS0;
        double r0 = (lambdaS0 - lambdaS1) / h;
        double r1 = (lambdaS1 - lambdaS2) / h;
        double[] base = baseCoefficients(i, h);
        double d1Coeff;
        double d2Coeff;
        if (dataPrediction) {
            d1Coeff = alphaAt(i + 1) * (Math.expm1(-h) / h + 1.0);
            d2Coeff = -alphaAt(i + 1) * ((Math.expm1(-h) + h) / (h * h) - 0.5);
        } else {
            d1Coeff = -sigmaAt(i + 1) * (Math.expm1(h) / h - 1.0);
            d2Coeff = -sigmaAt(i + 1) * ((Math.expm1(h) - h) / (h * h) - 0.5);
        }
        // D1_0 = (m0 - m1) / r0, D1_1 = (m1 - m2) / r1,
        // D1 = D1_0 + r0 / (r0 + r1) (D1_0 - D1_1), D2 = (D1_0 - D1_1) / (r0 + r1)
        double diffCoeff = d1Coeff * r0 / (r0 + r1) + d2Coeff / (r0 + r1);
        double d10 = d1Coeff + diffCoeff;
        double d11 = -diffCoeff;
        double c0 = base[1] + d10 / r0;
        double c1 = -d10 / r0 + d11 / r1;
        double c2 = -d11 / r1;
        Elementwise.combine(sample, new double[] {base[0], c0, c1, c2},
                new float[][] {sample, modelOutput(0), modelOutput(1), modelOutput(2)});
    }

    /** Coefficients of the sample and of {@code D0} shared by every order. */
    private double[] baseCoefficients(int i, double h) {
        if (dataPrediction) {
            return new double[] {sigmaAt(i + 1) / sigmaAt(i), -alphaAt(i + 1) * (Math.exp(-h) - 1.0)};
        }
        return new double[] {alphaAt(i + 1) / alphaAt(i), -sigmaAt(i + 1) * (Math.exp(h) - 1.0)};
    }
}
