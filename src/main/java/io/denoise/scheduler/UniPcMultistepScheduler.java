package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import java.util.Arrays;

/**
 * Port of diffusers' {@code UniPCMultistepScheduler}: the UniPC predictor-corrector (UniP-p predictor, UniC
 * corrector, B(h) variants {@code bh1} and {@code bh2}). Reads {@code num_train_timesteps}, {@code beta_*},
 * {@code trained_betas}, {@code solver_order}, {@code prediction_type} (epsilon, v_prediction, sample),
 * {@code predict_x0}, {@code solver_type} (midpoint, heun and logrho read as bh2, as diffusers does),
 * {@code lower_order_final}, {@code disable_corrector}, {@code use_karras_sigmas}, {@code sigma_min},
 * {@code sigma_max}, {@code timestep_spacing} (default linspace), {@code steps_offset}, {@code final_sigmas_type}
 * and {@code rescale_betas_zero_snr}.
 *
 * <p>Each {@link #step} first corrects the incoming latent with the new model output (UniC, from the second step of
 * a generation on), then predicts the next latent (UniP). With {@code lower_order_final} the order drops near the
 * end so that the last step is first order.
 *
 * <p>Integer timesteps; deterministic. Keeps the last {@code solver_order} converted outputs and the previous latent.
 * Mutable, not thread-safe: one instance per generation.
 */
public final class UniPcMultistepScheduler extends MultistepScheduler {

    private final boolean bh1;
    private final boolean predictX0;
    private float[] lastSample;
    private boolean hasLastSample;
    /** Order used by the previous predictor step, which the corrector repeats. */
    private int thisOrder;

    /**
     * Creates the scheduler from a shared config.
     *
     * @param config diffusers scheduler config
     */
    public UniPcMultistepScheduler(SchedulerConfig config) {
        super(config);
        this.bh1 = "bh1".equals(config.solverType());
        this.predictX0 = config.predictX0();
    }

    /** Port of {@code UniPCMultistepScheduler.set_timesteps}. */
    @Override
    public void setTimesteps(int numInferenceSteps) {
        computeSchedule(numInferenceSteps, config.numTrainTimesteps(), true, true, true);
        hasLastSample = false;
    }

    /** Port of {@code UniPCMultistepScheduler.step}. */
    @Override
    public void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise) {
        Elementwise.requireSameLength(modelOutput, sample);
        int i = currentStepIndex(timestep);
        boolean useCorrector = i > 0 && !config.disableCorrector().contains(i - 1) && hasLastSample;

        float[] converted = conversionBuffer(sample.length);
        convertModelOutput(modelOutput, sample, i, predictX0, converted);
        if (useCorrector) {
            correct(sample, i, thisOrder, converted);
        }
        pushModelOutput();

        int order = config.solverOrder();
        if (config.lowerOrderFinal()) {
            order = Math.min(order, timesteps.length - i);
        }
        thisOrder = Math.min(order, lowerOrderNums + 1);

        lastSample = Elementwise.ensure(lastSample, sample.length);
        System.arraycopy(sample, 0, lastSample, 0, sample.length);
        hasLastSample = true;
        predict(sample, i, thisOrder);

        if (lowerOrderNums < config.solverOrder()) {
            lowerOrderNums++;
        }
        stepIndex++;
    }

    /**
     * Port of {@code multistep_uni_p_bh_update}: predicts the latent at index {@code i + 1} from {@code sample} at
     * {@code i} and the stored outputs, in place.
     */
    private void predict(float[] sample, int i, int order) {
        double h = lambdaAt(i + 1) - lambdaAt(i);
        double[] rks = new double[order - 1];
        for (int k = 1; k < order; k++) {
            rks[k - 1] = (lambdaAt(i - k) - lambdaAt(i)) / h;
        }
        BhTerms bh = bhTerms(h, rks, order);
        double[] rhos = null;
        if (order == 2) {
            rhos = new double[] {0.5};
        } else if (order > 2) {
            rhos = solve(bh.r, bh.b, order - 1);
        }
        applyUpdate(sample, sample, i + 1, i, bh, rks, rhos, 0.0, null);
    }

    /**
     * Port of {@code multistep_uni_c_bh_update}: corrects {@code sample}, the prediction for index {@code i}, in place,
     * from the previous latent, the stored outputs (the latest being the previous step's) and the current step's
     * converted output {@code converted}.
     */
    private void correct(float[] sample, int i, int order, float[] converted) {
        double h = lambdaAt(i) - lambdaAt(i - 1);
        double[] rks = new double[order - 1];
        for (int k = 1; k < order; k++) {
            rks[k - 1] = (lambdaAt(i - 1 - k) - lambdaAt(i - 1)) / h;
        }
        BhTerms bh = bhTerms(h, rks, order);
        double[] rhosC = order == 1 ? new double[] {0.5} : solve(bh.r, bh.b, order);
        double[] rhosHistory = Arrays.copyOf(rhosC, order - 1);
        applyUpdate(sample, lastSample, i, i - 1, bh, rks, rhosHistory, rhosC[order - 1], converted);
    }

    /**
     * Writes {@code x_t = c_x x - c_m (h_phi_1 m0 + B_h (sum_k rho_k D1_k + rhoT (mT - m0)))} with
     * {@code D1_k = (m_k - m0) / r_k}, from index {@code s} to index {@code t}; {@code m0} is the latest stored
     * output (the current step's for the predictor, the previous step's for the corrector), {@code m_k} the ones
     * before it, and {@code mT} the current output (corrector only, else {@code null}).
     */
    private void applyUpdate(float[] out, float[] x, int t, int s, BhTerms bh, double[] rks, double[] rhos,
            double rhoT, float[] modelT) {
        boolean corrector = modelT != null;
        double sampleCoeff = predictX0 ? sigmaAt(t) / sigmaAt(s) : alphaAt(t) / alphaAt(s);
        double scale = predictX0 ? alphaAt(t) : sigmaAt(t);
        int history = rhos == null ? 0 : rhos.length;

        double[] coefficients = new double[2 + history + (corrector ? 1 : 0)];
        float[][] terms = new float[coefficients.length][];
        coefficients[0] = sampleCoeff;
        terms[0] = x;
        double m0Coeff = -scale * bh.hPhi1;
        for (int k = 0; k < history; k++) {
            double c = -scale * bh.bH * rhos[k] / rks[k];
            coefficients[2 + k] = c;
            terms[2 + k] = modelOutput(k + 1);
            m0Coeff -= c;
        }
        if (corrector) {
            double c = -scale * bh.bH * rhoT;
            coefficients[coefficients.length - 1] = c;
            terms[terms.length - 1] = modelT;
            m0Coeff -= c;
        }
        coefficients[1] = m0Coeff;
        terms[1] = modelOutput(0);
        Elementwise.combine(out, coefficients, terms);
    }

    /** {@code h_phi_1}, {@code B(h)} and the system {@code R rho = b} of the B(h) update. */
    private record BhTerms(double hPhi1, double bH, double[][] r, double[] b) {
    }

    private BhTerms bhTerms(double h, double[] rksHistory, int order) {
        double hh = predictX0 ? -h : h;
        double hPhi1 = Math.expm1(hh);
        double hPhiK = hPhi1 / hh - 1;
        double bH = bh1 ? hh : Math.expm1(hh);
        double[] rks = Arrays.copyOf(rksHistory, rksHistory.length + 1);
        rks[rksHistory.length] = 1.0;
        double[][] r = new double[order][rks.length];
        double[] b = new double[order];
        double factorial = 1;
        for (int k = 1; k <= order; k++) {
            for (int j = 0; j < rks.length; j++) {
                r[k - 1][j] = Math.pow(rks[j], k - 1);
            }
            b[k - 1] = hPhiK * factorial / bH;
            factorial *= k + 1;
            hPhiK = hPhiK / hh - 1 / factorial;
        }
        return new BhTerms(hPhi1, bH, r, b);
    }

    /** Solves the leading {@code n x n} block of {@code a x = b} (Gaussian elimination, partial pivoting). */
    static double[] solve(double[][] a, double[] b, int n) {
        double[][] m = new double[n][n + 1];
        for (int row = 0; row < n; row++) {
            System.arraycopy(a[row], 0, m[row], 0, n);
            m[row][n] = b[row];
        }
        for (int col = 0; col < n; col++) {
            int pivot = col;
            for (int row = col + 1; row < n; row++) {
                if (Math.abs(m[row][col]) > Math.abs(m[pivot][col])) {
                    pivot = row;
                }
            }
            double[] tmp = m[col];
            m[col] = m[pivot];
            m[pivot] = tmp;
            for (int row = col + 1; row < n; row++) {
                double f = m[row][col] / m[col][col];
                for (int k = col; k <= n; k++) {
                    m[row][k] -= f * m[col][k];
                }
            }
        }
        double[] x = new double[n];
        for (int row = n - 1; row >= 0; row--) {
            double sum = m[row][n];
            for (int k = row + 1; k < n; k++) {
                sum -= m[row][k] * x[k];
            }
            x[row] = sum / m[row][row];
        }
        return x;
    }
}
