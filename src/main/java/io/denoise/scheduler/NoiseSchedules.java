package io.denoise.scheduler;

import io.denoise.scheduler.SchedulerConfig.TimestepSpacing;

/**
 * Noise-schedule math shared by the schedulers: beta schedules, {@code alphas_cumprod}, timestep spacing, sigma
 * interpolation, Karras sigmas and sigma-to-timestep inversion, plus the few numpy and torch primitives whose exact
 * semantics the timesteps depend on ({@code np.arange} with a float step, {@code np.linspace}, {@code np.interp},
 * {@code torch.linspace} in float32). Where diffusers holds a tensor in float32 the result is rounded to float32,
 * so that timesteps compare equal and sigmas match to the last bit in the common cases.
 *
 * <p>Stateless and thread-safe.
 */
final class NoiseSchedules {

    /** Which schedulers honour {@code rescale_betas_zero_snr}, and how. */
    enum ZeroSnr {
        /** The scheduler has no such option (LMS, Heun, PNDM). */
        IGNORED,
        /** Rescale the betas (DDIM, DDPM). */
        RESCALE,
        /** Rescale, then set the last {@code alphas_cumprod} to {@code 2^-24} so the first sigma is finite. */
        RESCALE_AND_CLAMP_LAST
    }

    private static final double KARRAS_RHO = 7.0;

    private NoiseSchedules() {
    }

    /**
     * {@code alphas_cumprod} as the schedulers' constructors build it: betas from {@code trained_betas} or the beta
     * schedule, optionally rescaled to zero terminal SNR, then {@code torch.cumprod(1 - betas)}.
     */
    static float[] alphasCumprod(SchedulerConfig config, double defaultBetaStart, double defaultBetaEnd,
            ZeroSnr zeroSnr) {
        float[] betas = betas(config, defaultBetaStart, defaultBetaEnd);
        boolean rescale = config.rescaleBetasZeroSnr() && zeroSnr != ZeroSnr.IGNORED;
        if (rescale) {
            betas = rescaleZeroTerminalSnr(betas);
        }
        float[] alphasCumprod = cumprod(oneMinus(betas));
        if (rescale && zeroSnr == ZeroSnr.RESCALE_AND_CLAMP_LAST) {
            alphasCumprod[alphasCumprod.length - 1] = 0x1.0p-24f;
        }
        return alphasCumprod;
    }

    /** The betas of the config's schedule, in float32 like diffusers' {@code self.betas}. */
    static float[] betas(SchedulerConfig config, double defaultBetaStart, double defaultBetaEnd) {
        int n = config.numTrainTimesteps();
        if (config.trainedBetas() != null) {
            float[] betas = new float[n];
            for (int i = 0; i < n; i++) {
                betas[i] = config.trainedBetas().get(i).floatValue();
            }
            return betas;
        }
        double start = config.betaStart() == null ? defaultBetaStart : config.betaStart();
        double end = config.betaEnd() == null ? defaultBetaEnd : config.betaEnd();
        return switch (config.betaSchedule()) {
            case LINEAR -> torchLinspace((float) start, (float) end, n);
            case SCALED_LINEAR -> squared(torchLinspace((float) Math.sqrt(start), (float) Math.sqrt(end), n));
            case SQUAREDCOS_CAP_V2 -> betasForAlphaBar(n);
        };
    }

    private static float[] squared(float[] values) {
        for (int i = 0; i < values.length; i++) {
            values[i] = values[i] * values[i];
        }
        return values;
    }

    /** Port of diffusers' {@code betas_for_alpha_bar} with the cosine ("Glide") transform and max_beta 0.999. */
    static float[] betasForAlphaBar(int n) {
        float[] betas = new float[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n;
            double t2 = (double) (i + 1) / n;
            betas[i] = (float) Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), 0.999);
        }
        return betas;
    }

    private static double cosineAlphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /** Port of diffusers' {@code rescale_zero_terminal_snr} (arXiv 2305.08891, Algorithm 1), in float32. */
    static float[] rescaleZeroTerminalSnr(float[] betas) {
        float[] alphasBarSqrt = cumprod(oneMinus(betas));
        int n = alphasBarSqrt.length;
        for (int i = 0; i < n; i++) {
            alphasBarSqrt[i] = (float) Math.sqrt(alphasBarSqrt[i]);
        }
        float first = alphasBarSqrt[0];
        float last = alphasBarSqrt[n - 1];
        float scale = first / (first - last);
        for (int i = 0; i < n; i++) {
            alphasBarSqrt[i] = (alphasBarSqrt[i] - last) * scale;
        }
        float[] rescaled = new float[n];
        float previous = 0f;
        for (int i = 0; i < n; i++) {
            float alphaBar = alphasBarSqrt[i] * alphasBarSqrt[i];
            float alpha = i == 0 ? alphaBar : alphaBar / previous;
            rescaled[i] = 1f - alpha;
            previous = alphaBar;
        }
        return rescaled;
    }

    private static float[] oneMinus(float[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = 1f - values[i];
        }
        return out;
    }

    /** {@code torch.cumprod} of a float32 tensor on CPU: accumulates in double, stores float32. */
    static float[] cumprod(float[] values) {
        float[] out = new float[values.length];
        double product = 1.0;
        for (int i = 0; i < values.length; i++) {
            product *= values[i];
            out[i] = (float) product;
        }
        return out;
    }

    /** {@code torch.linspace(start, end, steps, dtype=torch.float32)}: float32 arithmetic, symmetric halves. */
    static float[] torchLinspace(float start, float end, int steps) {
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++) {
            out[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
        }
        return out;
    }

    /** Training sigmas {@code ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5}, ascending with t, in float32. */
    static float[] trainingSigmas(float[] alphasCumprod) {
        float[] sigmas = new float[alphasCumprod.length];
        for (int i = 0; i < sigmas.length; i++) {
            float a = alphasCumprod[i];
            sigmas[i] = (float) Math.sqrt((1f - a) / a);
        }
        return sigmas;
    }

    /** {@code np.log} of a float32 array (float32 result). */
    static float[] log(float[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (float) Math.log(values[i]);
        }
        return out;
    }

    /**
     * The descending timesteps of {@code N} steps that DDIM, DDPM, PNDM (reversed), LMS, Euler, Euler ancestral and
     * Heun compute in {@code set_timesteps}.
     *
     * @param roundLinspace whether {@code linspace} values are rounded to integers (the int64 schedulers) or kept
     *                      as float32 (the float schedulers)
     */
    static double[] spacedTimesteps(TimestepSpacing spacing, int numTrain, int n, int stepsOffset,
            boolean roundLinspace) {
        double[] t = switch (spacing) {
            case LINSPACE -> reverse(linspace(0, numTrain - 1, n));
            case LEADING -> new double[n];
            case TRAILING -> arange(numTrain, 0, -((double) numTrain / n));
        };
        for (int i = 0; i < t.length; i++) {
            t[i] = switch (spacing) {
                case LINSPACE -> roundLinspace ? Math.rint(t[i]) : (float) t[i];
                case LEADING -> (double) (n - 1 - i) * (numTrain / n) + stepsOffset;
                case TRAILING -> Math.rint(t[i]) - 1;
            };
        }
        return t;
    }

    /**
     * The descending timesteps of DPMSolverMultistep and UniPCMultistep, which space {@code N + 1} points and drop
     * the last.
     *
     * @param lastTimestep the end of the range ({@code num_train_timesteps} unless {@code lambda_min_clipped} cuts
     *                     it)
     */
    static double[] multistepTimesteps(TimestepSpacing spacing, int numTrain, int lastTimestep, int n,
            int stepsOffset) {
        double[] points = spacing == TimestepSpacing.LINSPACE ? linspace(0, lastTimestep - 1, n + 1) : null;
        double[] t = spacing == TimestepSpacing.TRAILING
                ? arange(lastTimestep, 0, -((double) numTrain / n))
                : new double[n];
        for (int i = 0; i < t.length; i++) {
            t[i] = switch (spacing) {
                case LINSPACE -> Math.rint(points[n - i]);
                case LEADING -> (double) (n - i) * (lastTimestep / (n + 1)) + stepsOffset;
                case TRAILING -> Math.rint(t[i]) - 1;
            };
        }
        return t;
    }

    /** {@code np.arange(start, stop, step)} for floats: length {@code ceil((stop - start) / step)}, numpy's fill. */
    static double[] arange(double start, double stop, double step) {
        int length = (int) Math.max(0, Math.ceil((stop - start) / step));
        double[] out = new double[length];
        if (length == 0) {
            return out;
        }
        out[0] = start;
        if (length > 1) {
            out[1] = start + step;
            double delta = out[1] - start;
            for (int i = 2; i < length; i++) {
                out[i] = start + i * delta;
            }
        }
        return out;
    }

    /** {@code np.linspace(start, stop, num)} (float64, endpoint included). */
    static double[] linspace(double start, double stop, int num) {
        double[] out = new double[num];
        if (num == 1) {
            out[0] = start;
            return out;
        }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) {
            out[i] = i * step + start;
        }
        out[num - 1] = stop;
        return out;
    }

    /** {@code np.interp(x, np.arange(len(fp)), fp)}: clamps outside the range. */
    static double interp(double x, float[] fp) {
        int last = fp.length - 1;
        if (!(x > 0)) {
            return fp[0];
        }
        if (x >= last) {
            return fp[last];
        }
        int j = (int) Math.floor(x);
        double slope = ((double) fp[j + 1] - fp[j]);
        return slope * (x - j) + fp[j];
    }

    /**
     * Port of diffusers' {@code _convert_to_karras} (after k-diffusion's {@code get_sigmas_karras}): {@code n}
     * sigmas from {@code sigmaMax} down to {@code sigmaMin}, evenly spaced in {@code sigma^(1/7)}.
     */
    static double[] karrasSigmas(double sigmaMin, double sigmaMax, int n) {
        double minInvRho = Math.pow(sigmaMin, 1 / KARRAS_RHO);
        double maxInvRho = Math.pow(sigmaMax, 1 / KARRAS_RHO);
        double[] ramp = linspace(0, 1, n);
        double[] sigmas = new double[n];
        for (int i = 0; i < n; i++) {
            sigmas[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), KARRAS_RHO);
        }
        return sigmas;
    }

    /**
     * Port of diffusers' {@code _sigma_to_t}: the fractional training timestep whose sigma is {@code sigma},
     * by linear interpolation in log-sigma.
     *
     * @param logSigmas log of the ascending training sigmas (float32, as {@code np.log} of a float32 array)
     */
    static double sigmaToT(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int lowIdx = 0;
        for (int i = 0; i < logSigmas.length; i++) {
            if (logSigma - logSigmas[i] >= 0) {
                lowIdx = i;
            }
        }
        lowIdx = Math.min(lowIdx, logSigmas.length - 2);
        double low = logSigmas[lowIdx];
        double high = logSigmas[lowIdx + 1];
        double w = (low - logSigma) / (low - high);
        w = Math.max(0, Math.min(1, w));
        return (1 - w) * lowIdx + w * (lowIdx + 1);
    }

    /** {@code init_noise_sigma} of the k-diffusion style schedulers, in float32. */
    static double kInitNoiseSigma(TimestepSpacing spacing, double[] sigmas) {
        float max = Float.NEGATIVE_INFINITY;
        for (double s : sigmas) {
            max = Math.max(max, (float) s);
        }
        if (spacing == TimestepSpacing.LINSPACE || spacing == TimestepSpacing.TRAILING) {
            return max;
        }
        return (float) Math.sqrt(max * max + 1f);
    }

    /** VP signal scale {@code alpha_t = 1 / sqrt(sigma^2 + 1)} of a k-diffusion sigma. */
    static double vpAlpha(double sigma) {
        return 1 / Math.sqrt(sigma * sigma + 1);
    }

    /** VP noise scale {@code sigma_t = sigma * alpha_t} of a k-diffusion sigma. */
    static double vpSigma(double sigma) {
        return sigma * vpAlpha(sigma);
    }

    /** Half log-SNR {@code lambda_t = log(alpha_t) - log(sigma_t)} of a k-diffusion sigma. */
    static double lambda(double sigma) {
        return Math.log(vpAlpha(sigma)) - Math.log(vpSigma(sigma));
    }

    static double[] reverse(double[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[values.length - 1 - i];
        }
        return out;
    }
}
