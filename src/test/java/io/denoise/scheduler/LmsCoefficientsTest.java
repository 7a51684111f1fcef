package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import io.denoise.random.TorchGenerator;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LmsCoefficientsTest {

    @Test
    void gaussKronrodIsExactForPolynomialsAndAccurateForSmoothFunctions() {
        assertEquals(0.25 * (Math.pow(3, 4) - Math.pow(-1, 4)) - (9 - 1),
                Quadrature.integrate(x -> x * x * x - 2 * x, -1, 3, 1e-4), 1e-12);
        assertEquals(2.0, Quadrature.integrate(Math::sin, 0, Math.PI, 1e-12), 1e-12);
        assertEquals(-2.0, Quadrature.integrate(Math::sin, Math.PI, 0, 1e-12), 1e-12);
        assertEquals(2.0 / 3, Quadrature.integrate(Math::sqrt, 0, 1, 1e-10), 1e-9);
    }

    @Test
    void firstLmsStepIsAnEulerStep() throws Exception {
        // order 1: the coefficient is the integral of 1 over [sigma_0, sigma_1], i.e. Euler's dt
        Scheduler lms = Schedulers.create("lms", SchedulerConfigTest.sd15());
        Scheduler euler = Schedulers.create("euler", SchedulerConfigTest.sd15());
        lms.setTimesteps(10);
        euler.setTimesteps(10);
        float[] x = new TorchGenerator(5).randn(64);
        float[] y = x.clone();
        float[] model = new TorchGenerator(6).randn(64);
        double t = lms.timesteps()[0];
        lms.step(model, t, x, NoiseSource.none());
        euler.step(model, t, y, NoiseSource.none());
        assertArrayEquals(y, x, 1e-6f);
    }

    @Test
    void fourthOrderStepWeightsPastDerivativesWithAdamsBashforthLikeCoefficients() throws Exception {
        // with a constant derivative d the LMS coefficients sum to dt, so x moves by exactly d * (sigma_next - sigma)
        Scheduler lms = Schedulers.create("lms", SchedulerConfigTest.sd15());
        lms.setTimesteps(10);
        double[] sigmas = lms.sigmas().orElseThrow();
        double[] t = lms.timesteps();
        float[] x = {0f};
        for (int i = 0; i < 6; i++) {
            // epsilon model: x0 = x - sigma * eps, derivative (x - x0) / sigma = eps = 1
            lms.step(new float[] {1f}, t[i], x, NoiseSource.none());
        }
        assertEquals(sigmas[6] - sigmas[0], x[0], 1e-5);
    }
}
