package io.denoise.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Karras et al. (2022) sigmas: {@code (max^(1/7) + i/(n-1) (min^(1/7) - max^(1/7)))^7}. */
class KarrasSigmasTest {

    @Test
    void interpolatesLinearlyInSigmaToTheOneSeventh() {
        double lo = Math.pow(0.1, 1 / 7.0);
        double hi = Math.pow(10, 1 / 7.0);
        assertArrayEquals(new double[] {10, Math.pow((hi + lo) / 2, 7), 0.1},
                NoiseSchedules.karrasSigmas(0.1, 10, 3), 1e-12);
    }

    @Test
    void dpmSolverSpansTheWholeTrainingRange() throws Exception {
        Scheduler s = Schedulers.create("dpmpp-2m-karras", SchedulerConfigTest.sd15());
        s.setTimesteps(4);
        float[] training = NoiseSchedules.trainingSigmas(((AbstractScheduler) s).alphasCumprod());
        double[] sigmas = s.sigmas().orElseThrow();
        assertArrayEquals(
                append(NoiseSchedules.karrasSigmas(training[0], training[999], 4), 0), sigmas, 1e-6);
        assertEquals(14.614645, sigmas[0], 1e-5);
        assertEquals(0.029167533, sigmas[3], 1e-8);
        assertArrayEquals(new double[] {999, 687, 146, 0}, s.timesteps());
    }

    @Test
    void eulerSpansTheSpacedTimestepsAndKeepsFractionalTimesteps() throws Exception {
        SchedulerConfig karras = SchedulerConfigTest.sd15().with(Map.of("use_karras_sigmas", true));
        Scheduler plain = Schedulers.create("euler", SchedulerConfigTest.sd15());
        Scheduler s = Schedulers.create("euler", karras);
        plain.setTimesteps(10);
        s.setTimesteps(10);
        double[] plainSigmas = plain.sigmas().orElseThrow();
        double[] sigmas = s.sigmas().orElseThrow();
        // range of the leading-spaced schedule (t = 901 .. 1), not of the whole training schedule
        assertEquals(plainSigmas[0], sigmas[0], 1e-6 * sigmas[0]);
        assertEquals(plainSigmas[9], sigmas[9], 1e-6 * sigmas[9]);
        double[] t = s.timesteps();
        assertEquals(901, t[0], 1e-3);
        assertEquals(1, t[9], 1e-3);
        boolean fractional = false;
        for (double v : t) {
            fractional |= v != Math.rint(v);
        }
        assertTrue(fractional, "Euler keeps Karras timesteps unrounded");
    }

    @Test
    void uniPcHonoursConfiguredSigmaRange() throws Exception {
        SchedulerConfig config = SchedulerConfigTest.sd15()
                .with(Map.of("use_karras_sigmas", true, "sigma_min", 0.05, "sigma_max", 10.0));
        Scheduler s = Schedulers.create("unipc", config);
        s.setTimesteps(5);
        double[] sigmas = s.sigmas().orElseThrow();
        assertEquals((float) 10.0, sigmas[0]);
        assertEquals((float) 0.05, sigmas[4]);
        assertEquals(0.0, sigmas[5]);
    }

    @Test
    void sigmaToTimestepInvertsTheTrainingSchedule() throws Exception {
        float[] training = NoiseSchedules.trainingSigmas(
                ((AbstractScheduler) Schedulers.create("euler", SchedulerConfigTest.sd15())).alphasCumprod());
        float[] logs = NoiseSchedules.log(training);
        assertEquals(500, NoiseSchedules.sigmaToT(training[500], logs), 1e-4);
        double between = Math.exp((logs[250] + logs[251]) / 2);
        assertEquals(250.5, NoiseSchedules.sigmaToT(between, logs), 1e-4);
        assertEquals(0, NoiseSchedules.sigmaToT(training[0] / 2, logs), 0.0);
        assertEquals(999, NoiseSchedules.sigmaToT(training[999] * 2, logs), 0.0);
    }

    private static double[] append(double[] values, double last) {
        double[] out = Arrays.copyOf(values, values.length + 1);
        out[values.length] = last;
        return out;
    }
}
