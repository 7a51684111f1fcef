package io.denoise.scheduler;

import io.denoise.scheduler.SchedulerConfig.FinalSigmasType;
import io.denoise.scheduler.SchedulerConfig.TimestepSpacing;
import java.util.Optional;

/**
 * Base of the exponential-integrator multistep solvers (DPM-Solver multistep, UniPC). They keep a VP latent
 * {@code x = alpha_t * x0 + sigma_t * noise} (no input scaling, unit initial noise), int64 timesteps, sigmas in the
 * k-diffusion sense ({@code sigma = sigma_t / alpha_t}), and a history of the last {@code solver_order} converted
 * model outputs. Shared pieces of diffusers' {@code DPMSolverMultistepScheduler}, which UniPC copies.
 *
 * <p>Mutable, not thread-safe; see {@link Scheduler}.
 */
abstract class MultistepScheduler extends IndexedScheduler {

    final float[] trainingSigmas;
    final float[] logTrainingSigmas;
    /** Sigmas of the current generation (float32 values); {@code null} before {@link #setTimesteps(int)}. */
    double[] sigmas;
    /** Converted model outputs, oldest first; the last entry is the current step's. */
    final float[][] modelOutputs;
    /** How many steps of the generation have run, capped at {@code solver_order} (warm-up of the multistep). */
    int lowerOrderNums;
    private float[] spare;

    MultistepScheduler(SchedulerConfig config) {
        super(config, NoiseSchedules.alphasCumprod(config, 0.0001, 0.02,
                NoiseSchedules.ZeroSnr.RESCALE_AND_CLAMP_LAST));
        this.trainingSigmas = NoiseSchedules.trainingSigmas(alphasCumprod);
        this.logTrainingSigmas = NoiseSchedules.log(trainingSigmas);
        this.modelOutputs = new float[config.solverOrder()][];
    }

    @Override
    public boolean integerTimesteps() {
        return true;
    }

    @Override
    public Optional<double[]> sigmas() {
        requireTimesteps();
        return Optional.of(sigmas.clone());
    }

    /**
     * Computes the timesteps and sigmas of a generation as both solvers' {@code set_timesteps} do, resetting the
     * history and the indices.
     *
     * @param numInferenceSteps     {@code N}
     * @param lastTimestep          end of the spaced range
     * @param karrasRangeFromConfig whether {@code sigma_min}/{@code sigma_max} bound the Karras schedule (UniPC)
     * @param roundKarrasTimesteps  whether Karras timesteps are rounded before the int64 cast
     * @param karrasFinalFromLast   whether {@code final_sigmas_type=sigma_min} means the last Karras sigma (UniPC)
     *                              rather than the first training sigma
     */
    void computeSchedule(int numInferenceSteps, int lastTimestep, boolean karrasRangeFromConfig,
            boolean roundKarrasTimesteps, boolean karrasFinalFromLast) {
        beginSetTimesteps(numInferenceSteps);
        double[] ts = NoiseSchedules.multistepTimesteps(spacing(TimestepSpacing.LINSPACE),
                config.numTrainTimesteps(), lastTimestep, numInferenceSteps, config.stepsOffset());
        double[] s;
        double last = config.finalSigmasType() == FinalSigmasType.SIGMA_MIN ? trainingSigmas[0] : 0.0;
        if (config.useKarrasSigmas()) {
            double sigmaMin = trainingSigmas[0];
            double sigmaMax = trainingSigmas[trainingSigmas.length - 1];
            if (karrasRangeFromConfig) {
                sigmaMin = config.sigmaMin() != null ? config.sigmaMin() : sigmaMin;
                sigmaMax = config.sigmaMax() != null ? config.sigmaMax() : sigmaMax;
            }
            s = NoiseSchedules.karrasSigmas(sigmaMin, sigmaMax, numInferenceSteps);
            ts = new double[s.length];
            for (int i = 0; i < s.length; i++) {
                double t = NoiseSchedules.sigmaToT(s[i], logTrainingSigmas);
                ts[i] = (long) (roundKarrasTimesteps ? Math.rint(t) : t);
            }
            if (karrasFinalFromLast && config.finalSigmasType() == FinalSigmasType.SIGMA_MIN) {
                last = s[s.length - 1];
            }
        } else {
            s = new double[ts.length];
            for (int i = 0; i < ts.length; i++) {
                s[i] = NoiseSchedules.interp(ts[i], trainingSigmas);
            }
        }
        sigmas = new double[s.length + 1];
        for (int i = 0; i < s.length; i++) {
            sigmas[i] = (float) s[i];
        }
        sigmas[s.length] = (float) last;
        timesteps = ts;
        this.numInferenceSteps = ts.length;
        lowerOrderNums = 0;
        resetIndices();
    }

    /**
     * Port of {@code convert_model_output}: the data prediction {@code x0} (DPM-Solver++, UniPC with
     * {@code predict_x0}) or the noise prediction, at index {@code i}, written to {@code out}.
     */
    void convertModelOutput(float[] modelOutput, float[] sample, int i, boolean toX0, float[] out) {
        double alpha = alphaAt(i);
        double sigma = sigmaAt(i);
        double[] c = toX0
                ? Prediction.x0(config.predictionType(), alpha, sigma)
                : Prediction.epsilon(config.predictionType(), alpha, sigma);
        Elementwise.combine(out, c[0], sample, c[1], modelOutput);
    }

    /**
     * A buffer to convert the current model output into, then hand to {@link #pushModelOutput()}; reuses the array
     * that the last push evicted.
     */
    float[] conversionBuffer(int length) {
        spare = Elementwise.ensure(spare, length);
        return spare;
    }

    /** Appends the {@link #conversionBuffer} as the current step's output, dropping the oldest. */
    void pushModelOutput() {
        float[] evicted = modelOutputs[0];
        System.arraycopy(modelOutputs, 1, modelOutputs, 0, modelOutputs.length - 1);
        modelOutputs[modelOutputs.length - 1] = spare;
        spare = evicted;
    }

    /** The converted output from {@code back} steps ago (0 = current). */
    float[] modelOutput(int back) {
        return modelOutputs[modelOutputs.length - 1 - back];
    }

    double alphaAt(int index) {
        return NoiseSchedules.vpAlpha(sigmas[index]);
    }

    double sigmaAt(int index) {
        return NoiseSchedules.vpSigma(sigmas[index]);
    }

    double lambdaAt(int index) {
        return NoiseSchedules.lambda(sigmas[index]);
    }

    /** Port of {@code DPMSolverMultistepScheduler.add_noise}: {@code alpha_t * x0 + sigma_t * noise}. */
    @Override
    public void addNoise(float[] original, float[] noise, double timestep, float[] out) {
        Elementwise.requireSameLength(original, noise, out);
        int index = addNoiseIndex(timestep);
        Elementwise.combine(out, alphaAt(index), original, sigmaAt(index), noise);
    }

    /** Port of {@code DPMSolverMultistepScheduler.index_for_timestep}: last index if absent, second match if repeated. */
    @Override
    int indexForTimestep(double timestep) {
        int[] m = matches(timestep);
        if (m[0] == 0) {
            return timesteps.length - 1;
        }
        return m[0] > 1 ? m[2] : m[1];
    }
}
