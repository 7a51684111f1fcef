package io.denoise.scheduler;

import io.denoise.random.TorchGenerator;
import static io.denoise.scheduler.TensorAssert.assertClose;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A model that predicts the velocity {@code v = alpha_t * eps - sigma_t * x0} must drive every scheduler along the
 * same trajectory as the equivalent noise-predicting model, since diffusers converts both to the same {@code x0} /
 * noise. The v output is derived from the epsilon output by hand: for the VP model input {@code x_in = alpha_t x0 +
 * sigma_t eps}, {@code v = (eps - sigma_t x_in) / alpha_t}.
 */
class PredictionTypeTest {

    private static final int STEPS = 6;

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "ddim, leading", "ddim, trailing", "ddpm, leading", "ddpm, trailing", "lms, leading", "lms, trailing",
        "euler, leading", "euler, trailing", "euler-ancestral, leading", "euler-ancestral, trailing",
        "heun, leading", "heun, trailing", "dpmpp-2m, leading", "dpmpp-2m, trailing", "unipc, leading",
        "unipc, trailing",
    })
    void vPredictionStepEqualsEpsilonStepWithEquivalentModelOutput(String id, String spacing) throws Exception {
        Map<String, Object> base = Map.of("timestep_spacing", spacing);
        Scheduler eps = create(id, base);
        Scheduler v = create(id, Map.of("timestep_spacing", spacing, "prediction_type", "v_prediction"));
        runInLockstep(eps, v, Integer.MAX_VALUE);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"pndm"})
    void pndmFirstStepIsEquivalentButLaterCombinationsAreNot(String id) throws Exception {
        // diffusers converts the combined PLMS output with the current coefficients; only the first step is exact
        Scheduler eps = create(id, Map.of());
        Scheduler v = create(id, Map.of("prediction_type", "v_prediction"));
        runInLockstep(eps, v, 1);
    }

    private static Scheduler create(String id, Map<String, Object> overrides) throws Exception {
        Scheduler s = id.equals("ddim")
                ? new DdimScheduler(SchedulerConfigTest.sd15().with(overrides), 1.0)
                : Schedulers.create(id, SchedulerConfigTest.sd15().with(overrides));
        s.setTimesteps(STEPS);
        return s;
    }

    private static void runInLockstep(Scheduler eps, Scheduler v, int maxSteps) {
        float[] alphas = ((AbstractScheduler) eps).alphasCumprod();
        TorchGenerator latentGenerator = new TorchGenerator(7);
        float[] xEps = latentGenerator.randn(1, 4, 4, 4);
        float sigma0 = (float) eps.initNoiseSigma();
        for (int i = 0; i < xEps.length; i++) {
            xEps[i] *= sigma0;
        }
        float[] xV = xEps.clone();
        TorchGenerator noiseEps = new TorchGenerator(11);
        TorchGenerator noiseV = new TorchGenerator(11);
        float[] inEps = new float[xEps.length];
        float[] inV = new float[xEps.length];
        double[] timesteps = eps.timesteps();
        for (int k = 0; k < Math.min(maxSteps, timesteps.length); k++) {
            double t = timesteps[k];
            eps.scaleModelInput(xEps, t, inEps);
            v.scaleModelInput(xV, t, inV);
            float[] epsOut = SchedulerConformanceTest.fakeModel(inEps, t);
            double alphaProd = alphas[(int) t];
            double alpha = Math.sqrt(alphaProd);
            double sigma = Math.sqrt(1 - alphaProd);
            float[] vOut = new float[epsOut.length];
            for (int i = 0; i < vOut.length; i++) {
                vOut[i] = (float) ((epsOut[i] - sigma * inEps[i]) / alpha);
            }
            eps.step(epsOut, t, xEps, noiseEps::randn);
            v.step(vOut, t, xV, noiseV::randn);
            assertClose("step " + k + " (t=" + t + ")", toDouble(xEps), toDouble(xV), 1e-4);
        }
    }

    private static double[] toDouble(float[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i];
        }
        return out;
    }
}
