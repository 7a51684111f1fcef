package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Timestep spacing for N = 10 of T = 1000, against Table 2 of "Common Diffusion Noise Schedules and Sample Steps are
 * Flawed" (which diffusers' {@code timestep_spacing} names) and the per-scheduler variations of diffusers'
 * {@code set_timesteps}.
 */
class TimestepSpacingTest {

    private static final double[] LINSPACE_10 = {999, 888, 777, 666, 555, 444, 333, 222, 111, 0};
    private static final double[] LEADING_10 = {900, 800, 700, 600, 500, 400, 300, 200, 100, 0};
    private static final double[] TRAILING_10 = {999, 899, 799, 699, 599, 499, 399, 299, 199, 99};

    private static Scheduler scheduled(String id, String spacing, int stepsOffset, int n) throws Exception {
        SchedulerConfig config = SchedulerConfigTest.sd15()
                .with(Map.of("timestep_spacing", spacing, "steps_offset", stepsOffset));
        Scheduler s = Schedulers.create(id, config);
        s.setTimesteps(n);
        return s;
    }

    @ParameterizedTest
    @ValueSource(strings = {"ddim", "ddpm", "euler", "euler-ancestral", "lms"})
    void singleStepSchedulersFollowThePaperTable(String id) throws Exception {
        assertArrayEquals(LINSPACE_10, scheduled(id, "linspace", 0, 10).timesteps());
        assertArrayEquals(LEADING_10, scheduled(id, "leading", 0, 10).timesteps());
        assertArrayEquals(TRAILING_10, scheduled(id, "trailing", 0, 10).timesteps());
    }

    @ParameterizedTest
    @ValueSource(strings = {"ddim", "ddpm", "euler", "euler-ancestral", "lms", "heun", "pndm"})
    void stepsOffsetShiftsLeadingSpacingOnly(String id) throws Exception {
        double[] leading = scheduled(id, "leading", 0, 10).timesteps();
        double[] shifted = scheduled(id, "leading", 1, 10).timesteps();
        for (int i = 0; i < leading.length; i++) {
            assertEquals(leading[i] + 1, shifted[i]);
        }
        assertArrayEquals(scheduled(id, "trailing", 0, 10).timesteps(), scheduled(id, "trailing", 1, 10).timesteps());
    }

    @ParameterizedTest
    @ValueSource(strings = {"dpmpp-2m", "unipc"})
    void multistepSolversSpaceNPlusOnePointsAndDropTheLast(String id) throws Exception {
        // linspace(0, 999, 11).round() = 0, 100, 200, 300, 400, 500 (499.5 rounds to even), 599, ..., 999
        assertArrayEquals(new double[] {999, 899, 799, 699, 599, 500, 400, 300, 200, 100},
                scheduled(id, "linspace", 0, 10).timesteps());
        // step ratio 1000 // 11 = 90
        assertArrayEquals(new double[] {901, 811, 721, 631, 541, 451, 361, 271, 181, 91},
                scheduled(id, "leading", 1, 10).timesteps());
        assertArrayEquals(TRAILING_10, scheduled(id, "trailing", 0, 10).timesteps());
    }

    @Test
    void pndmRepeatsTheSecondTimestepForPlmsWarmUp() throws Exception {
        assertArrayEquals(new double[] {999, 899, 899, 799, 699, 599, 499, 399, 299, 199, 99},
                scheduled("pndm", "trailing", 0, 10).timesteps());
        assertArrayEquals(new double[] {901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1},
                scheduled("pndm", "leading", 1, 10).timesteps());
    }

    @Test
    void heunListsEveryTimestepButTheFirstTwice() throws Exception {
        double[] t = scheduled("heun", "trailing", 0, 10).timesteps();
        assertEquals(19, t.length);
        assertEquals(999, t[0]);
        for (int i = 1; i < 10; i++) {
            assertEquals(TRAILING_10[i], t[2 * i - 1]);
            assertEquals(TRAILING_10[i], t[2 * i]);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"euler", "euler-ancestral", "lms", "heun"})
    void initNoiseSigmaIsTheLargestSigmaExceptForLeadingSpacing(String id) throws Exception {
        for (String spacing : new String[] {"trailing", "linspace"}) {
            Scheduler s = scheduled(id, spacing, 0, 10);
            assertEquals((float) s.sigmas().orElseThrow()[0], s.initNoiseSigma(), 0.0, spacing);
        }
        Scheduler leading = scheduled(id, "leading", 1, 10);
        double max = leading.sigmas().orElseThrow()[0];
        assertEquals(Math.sqrt(max * max + 1), leading.initNoiseSigma(), 1e-6);
    }

    @Test
    void trailingSpacingStartsAtTheLastTrainingSigma() throws Exception {
        Scheduler euler = scheduled("euler", "trailing", 0, 10);
        float[] alphas = ((AbstractScheduler) euler).alphasCumprod();
        double lastSigma = Math.sqrt((1 - alphas[999]) / alphas[999]);
        assertEquals(lastSigma, euler.sigmas().orElseThrow()[0], 1e-5 * lastSigma);
        double[] sigmas = euler.sigmas().orElseThrow();
        assertEquals(0.0, sigmas[sigmas.length - 1]);
    }

    @Test
    void floatStepArangeMatchesNumpy() {
        // np.arange(1000, 0, -1000 / 7): numpy fills start + i * ((start + step) - start)
        assertArrayEquals(new double[] {1000.0, 857.1428571428571, 714.2857142857142, 571.4285714285713,
            428.57142857142844, 285.71428571428555, 142.85714285714266},
                NoiseSchedules.arange(1000, 0, -1000.0 / 7));
        // and its length is ceil((stop - start) / step), which for N = 61 yields 62 values, as in diffusers
        assertEquals(62, NoiseSchedules.arange(1000, 0, -1000.0 / 61).length);
    }

    @Test
    void ddimStepsBackByTheFlooredRatioWhateverTheSpacing() throws Exception {
        // trailing N=3: timesteps 999, 666, 332, but DDIM's step from 666 lands on 666 - 1000 // 3 = 333
        Scheduler s = scheduled("ddim", "trailing", 0, 3);
        assertArrayEquals(new double[] {999, 666, 332}, s.timesteps());
        float[] alphas = ((AbstractScheduler) s).alphasCumprod();
        float[] x = {1f};
        s.step(new float[] {0f}, 666, x, NoiseSource.none());
        assertEquals(Math.sqrt((double) alphas[333] / alphas[666]), x[0], 1e-6);
    }
}
