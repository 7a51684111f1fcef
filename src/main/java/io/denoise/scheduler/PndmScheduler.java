package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import io.denoise.scheduler.SchedulerConfig.PredictionType;
import java.util.Arrays;

/**
 * Port of diffusers' {@code PNDMScheduler} (pseudo numerical methods, Liu et al. 2022), the Stable Diffusion 1.x
 * default. Reads {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code skip_prk_steps},
 * {@code set_alpha_to_one} (default false), {@code prediction_type} (epsilon, v_prediction),
 * {@code timestep_spacing} (default leading) and {@code steps_offset}.
 *
 * <p>With {@code skip_prk_steps} (SD's setting) it is PLMS: a second-order warm-up that repeats the second
 * timestep (the schedule has {@code N + 1} entries, e.g. {@code [751, 501, 501, 251, 1]}), then Adams-Bashforth
 * combinations of up to four past noise predictions. Without it the first steps are pseudo Runge-Kutta
 * ({@code step_prk}, four model calls per step, twelve in all). For v_prediction diffusers converts the
 * <em>combined</em> model output to noise with the current timestep's coefficients, so a v-model does not follow
 * the same trajectory as the equivalent epsilon-model; this port keeps that behaviour.
 *
 * <p>Integer timesteps; deterministic. Keeps the last four model outputs and the warm-up sample. Mutable, not
 * thread-safe: one instance per generation.
 */
public final class PndmScheduler extends DiscreteTimeScheduler {

    private static final int PNDM_ORDER = 4;

    private final double finalAlphaCumprod;
    private double[] prkTimesteps = new double[0];
    private int counter;
    /** Ring of the last four model outputs ("ets"), most recent at {@code (etsHead - 1) mod 4}. */
    private final float[][] ets = new float[PNDM_ORDER][];
    private int etsCount;
    private int etsHead;
    private float[] curSample;
    private boolean hasCurSample;
    private float[] curModelOutput;
    private float[] combined;

    /**
     * Creates the scheduler from a shared config.
     *
     * @param config diffusers scheduler config
     */
    public PndmScheduler(SchedulerConfig config) {
        super(config, NoiseSchedules.alphasCumprod(config, 0.0001, 0.02, NoiseSchedules.ZeroSnr.IGNORED));
        Prediction.require(config.predictionType(), "PNDMScheduler",
                PredictionType.EPSILON, PredictionType.V_PREDICTION);
        this.finalAlphaCumprod = Boolean.TRUE.equals(config.setAlphaToOne()) ? 1.0 : alphasCumprod[0];
    }

    /** Port of {@code PNDMScheduler.set_timesteps}: PRK timesteps (unless skipped) followed by PLMS timesteps. */
    @Override
    public void setTimesteps(int numInferenceSteps) {
        beginSetTimesteps(numInferenceSteps);
        int numTrain = config.numTrainTimesteps();
        double[] ascending = NoiseSchedules.reverse(spacedTimesteps(numInferenceSteps));
        int n = ascending.length;
        double[] plms;
        if (config.skipPrkSteps()) {
            prkTimesteps = new double[0];
            // concatenate([ts[:-1], ts[-2:-1], ts[-1:]])[::-1]
            plms = new double[n == 1 ? 1 : n + 1];
            int k = 0;
            plms[k++] = ascending[n - 1];
            if (n > 1) {
                plms[k++] = ascending[n - 2];
            }
            for (int i = n - 2; i >= 0; i--) {
                plms[k++] = ascending[i];
            }
        } else {
            if (n < PNDM_ORDER) {
                throw new IllegalArgumentException("PNDM with skip_prk_steps=false needs at least " + PNDM_ORDER
                        + " inference steps, got " + numInferenceSteps);
            }
            int half = numTrain / numInferenceSteps / 2;
            // (ts[-4:].repeat(2) + tile([0, half], 4))[:-1].repeat(2)[1:-1][::-1]
            double[] pairs = new double[2 * PNDM_ORDER];
            for (int i = 0; i < PNDM_ORDER; i++) {
                pairs[2 * i] = ascending[n - PNDM_ORDER + i];
                pairs[2 * i + 1] = ascending[n - PNDM_ORDER + i] + half;
            }
            int m = pairs.length - 1;
            double[] repeated = new double[2 * m - 2];
            for (int i = 1; i < 2 * m - 1; i++) {
                repeated[i - 1] = pairs[i / 2];
            }
            prkTimesteps = NoiseSchedules.reverse(repeated);
            plms = new double[n - 3];
            for (int i = 0; i < plms.length; i++) {
                plms[i] = ascending[n - 4 - i];
            }
        }
        timesteps = new double[prkTimesteps.length + plms.length];
        System.arraycopy(prkTimesteps, 0, timesteps, 0, prkTimesteps.length);
        System.arraycopy(plms, 0, timesteps, prkTimesteps.length, plms.length);
        counter = 0;
        etsCount = 0;
        etsHead = 0;
        hasCurSample = false;
        if (curModelOutput != null) {
            Arrays.fill(curModelOutput, 0f);
        }
    }

    /** Port of {@code PNDMScheduler.step}: {@code step_prk} for the first PRK timesteps, then {@code step_plms}. */
    @Override
    public void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise) {
        Elementwise.requireSameLength(modelOutput, sample);
        requireTimesteps();
        combined = Elementwise.ensure(combined, sample.length);
        curSample = Elementwise.ensure(curSample, sample.length);
        if (counter < prkTimesteps.length && !config.skipPrkSteps()) {
            stepPrk(modelOutput, integerTimestep(timestep), sample);
        } else {
            stepPlms(modelOutput, integerTimestep(timestep), sample);
        }
        counter++;
    }

    /** Port of {@code step_prk}: accumulates the Runge-Kutta combination 1/6, 1/3, 1/3, 1/6 over four calls. */
    private void stepPrk(float[] modelOutput, int t, float[] sample) {
        int stepRatioHalf = config.numTrainTimesteps() / numInferenceSteps / 2;
        int prevTimestep = t - (counter % 2 == 1 ? 0 : stepRatioHalf);
        int baseTimestep = (int) prkTimesteps[counter / 4 * 4];
        if (curModelOutput == null || curModelOutput.length != sample.length) {
            curModelOutput = new float[sample.length];
        }
        switch (counter % 4) {
            case 0:
                Elementwise.combine(curModelOutput, 1, curModelOutput, 1.0 / 6, modelOutput);
                pushEts(modelOutput);
                System.arraycopy(sample, 0, curSample, 0, sample.length);
                hasCurSample = true;
                System.arraycopy(modelOutput, 0, combined, 0, sample.length);
                break;
            case 1:
            case 2:
                Elementwise.combine(curModelOutput, 1, curModelOutput, 1.0 / 3, modelOutput);
                System.arraycopy(modelOutput, 0, combined, 0, sample.length);
                break;
            default:
                Elementwise.combine(combined, 1, curModelOutput, 1.0 / 6, modelOutput);
                Arrays.fill(curModelOutput, 0f);
                break;
        }
        float[] from = hasCurSample ? curSample : sample;
        previousSample(from, baseTimestep, prevTimestep, combined, sample);
    }

    /** Port of {@code step_plms}: Adams-Bashforth over the stored noise predictions, with PLMS's warm-up. */
    private void stepPlms(float[] modelOutput, int t, float[] sample) {
        if (!config.skipPrkSteps() && etsCount < 3) {
            throw new IllegalStateException("PNDM runs PLMS steps only after the PRK steps");
        }
        int stepRatio = config.numTrainTimesteps() / numInferenceSteps;
        int prevTimestep = t - stepRatio;
        int fromTimestep = t;
        if (counter != 1) {
            pushEts(modelOutput);
        } else {
            prevTimestep = t;
            fromTimestep = t + stepRatio;
        }
        float[] from = sample;
        if (etsCount == 1 && counter == 0) {
            System.arraycopy(modelOutput, 0, combined, 0, sample.length);
            System.arraycopy(sample, 0, curSample, 0, sample.length);
            hasCurSample = true;
        } else if (etsCount == 1 && counter == 1) {
            Elementwise.combine(combined, 0.5, modelOutput, 0.5, ets(0));
            from = curSample;
            hasCurSample = false;
        } else if (etsCount == 2) {
            Elementwise.combine(combined, 1.5, ets(0), -0.5, ets(1));
        } else if (etsCount == 3) {
            Elementwise.combine(combined, 23.0 / 12, ets(0), -16.0 / 12, ets(1), 5.0 / 12, ets(2));
        } else {
            Elementwise.combine(combined, new double[] {55.0 / 24, -59.0 / 24, 37.0 / 24, -9.0 / 24},
                    new float[][] {ets(0), ets(1), ets(2), ets(3)});
        }
        previousSample(from, fromTimestep, prevTimestep, combined, sample);
    }

    /**
     * Port of {@code _get_prev_sample} (formula 9 of the PNDM paper): {@code x_prev = sqrt(a_prev / a_t) x -
     * (a_prev - a_t) e / (a_t sqrt(1 - a_prev) + sqrt(a_t (1 - a_t) a_prev))}.
     */
    private void previousSample(float[] from, int t, int prevT, float[] modelOutput, float[] out) {
        double alphaProdT = alphaProd(t);
        double alphaProdPrev = prevT >= 0 ? alphaProd(prevT) : finalAlphaCumprod;
        double betaProdT = 1 - alphaProdT;
        double betaProdPrev = 1 - alphaProdPrev;
        double[] eps = Prediction.epsilon(config.predictionType(), Math.sqrt(alphaProdT), Math.sqrt(betaProdT));
        double sampleCoeff = Math.sqrt(alphaProdPrev / alphaProdT);
        double denominator = alphaProdT * Math.sqrt(betaProdPrev) + Math.sqrt(alphaProdT * betaProdT * alphaProdPrev);
        double epsCoeff = -(alphaProdPrev - alphaProdT) / denominator;
        Elementwise.combine(out, sampleCoeff + epsCoeff * eps[0], from, epsCoeff * eps[1], modelOutput);
    }

    private void pushEts(float[] modelOutput) {
        float[] slot = Elementwise.ensure(ets[etsHead], modelOutput.length);
        System.arraycopy(modelOutput, 0, slot, 0, modelOutput.length);
        ets[etsHead] = slot;
        etsHead = (etsHead + 1) % PNDM_ORDER;
        etsCount = Math.min(etsCount + 1, PNDM_ORDER);
    }

    /** The model output stored {@code back} pushes ago (0 = latest). */
    private float[] ets(int back) {
        return ets[Math.floorMod(etsHead - 1 - back, PNDM_ORDER)];
    }
}
