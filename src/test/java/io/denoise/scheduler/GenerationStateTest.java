package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import io.denoise.random.TorchGenerator;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Per-generation state and noise consumption. */
class GenerationStateTest {

    static List<String> ids() {
        return Schedulers.ids();
    }

    @ParameterizedTest
    @MethodSource("ids")
    void setTimestepsStartsAFreshGeneration(String id) throws Exception {
        Scheduler s = Schedulers.create(id, SchedulerConfigTest.sd15());
        float[] first = generate(s, 8);
        generate(s, 5);
        assertArrayEquals(first, generate(s, 8), "a reused instance repeats the first generation");
    }

    @ParameterizedTest
    @CsvSource({
        // id, spacing, steps, expected noise draws
        "euler-ancestral, leading, 5, 5",
        "ddpm, leading, 5, 5",
        "ddpm, linspace, 5, 4",
        "euler, leading, 5, 0",
        "ddim, leading, 5, 0",
        "dpmpp-2m, leading, 5, 0",
    })
    void stochasticSchedulersDrawNoiseExactlyWhereDiffusersDoes(String id, String spacing, int steps, int draws)
            throws Exception {
        Scheduler s = Schedulers.create(id, SchedulerConfigTest.sd15().with(Map.of("timestep_spacing", spacing)));
        AtomicInteger count = new AtomicInteger();
        run(s, steps, out -> {
            count.incrementAndGet();
            new TorchGenerator(count.get()).randn(out);
        });
        assertEquals(draws, count.get());
    }

    @ParameterizedTest
    @CsvSource({"0.0, 0", "1.0, 5", "0.5, 5"})
    void ddimDrawsVarianceNoiseOnlyWithPositiveEta(double eta, int draws) throws Exception {
        DdimScheduler s = new DdimScheduler(SchedulerConfigTest.sd15(), eta);
        AtomicInteger count = new AtomicInteger();
        run(s, 5, out -> {
            count.incrementAndGet();
            new TorchGenerator(count.get()).randn(out);
        });
        assertEquals(draws, count.get());
    }

    @ParameterizedTest
    @MethodSource("ids")
    void stepBeforeSetTimestepsIsAnError(String id) throws Exception {
        Scheduler s = Schedulers.create(id, SchedulerConfigTest.sd15());
        assertThrows(IllegalStateException.class, () -> s.step(new float[4], 1, new float[4], NoiseSource.none()));
        assertThrows(IllegalStateException.class, s::timesteps);
    }

    private static float[] generate(Scheduler s, int steps) {
        return run(s, steps, new TorchGenerator(3)::randn);
    }

    private static float[] run(Scheduler s, int steps, NoiseSource noise) {
        s.setTimesteps(steps);
        float[] x = new TorchGenerator(1).randn(1, 4, 4, 4);
        float sigma = (float) s.initNoiseSigma();
        for (int i = 0; i < x.length; i++) {
            x[i] *= sigma;
        }
        float[] in = new float[x.length];
        for (double t : s.timesteps()) {
            s.scaleModelInput(x, t, in);
            s.step(SchedulerConformanceTest.fakeModel(in, t), t, x, noise);
        }
        return x;
    }
}
