package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import io.denoise.random.TorchGenerator;
import static io.denoise.scheduler.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Replays every reference trajectory in {@code src/test/resources/conformance/schedulers} (see the README there),
 * and any more in {@code $DENOISE_CONFORMANCE_DIR/schedulers}: each file is one
 * dynamic test named after it. The fake model is recomputed from this implementation's own scaled inputs, and the
 * recorded noise of stochastic schedulers is injected through the {@link NoiseSource}.
 */
class SchedulerConformanceTest {

    /** Cases bundled in {@code src/test/resources/conformance/schedulers}; a lost file fails the build. */
    private static final int BUNDLED_CASES = 60;

    @TestFactory
    Stream<DynamicTest> everyReferenceTrajectoryIsReproduced() throws Exception {
        return ConformanceData.cases("schedulers").stream()
                .map(c -> DynamicTest.dynamicTest(c.name(), c.file().toUri(), () -> replay(c.file())));
    }

    @Test
    void everyBundledTrajectoryIsPresent() throws Exception {
        assertEquals(BUNDLED_CASES, ConformanceData.bundled("schedulers").size(),
                "scheduler cases in src/test/resources/conformance/schedulers");
    }

    /**
     * The README's fake model, in float32 as torch evaluates it: {@code (0.3 * x) * cos(t / 300) + 0.1 * sin(idx *
     * 0.7 + t / 100)}.
     */
    static float[] fakeModel(float[] x, double t) {
        float c = (float) Math.cos(t / 300.0);
        float shift = (float) (t / 100.0);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float b = 0.1f * (float) Math.sin((float) i * 0.7f + shift);
            out[i] = (0.3f * x[i]) * c + b;
        }
        return out;
    }

    private static void replay(Path file) throws Exception {
        JsonNode c = ConformanceData.read(file);
        @SuppressWarnings("unchecked")
        Map<String, Object> configJson = ConformanceData.JSON.convertValue(c.get("config"), Map.class);
        SchedulerConfig config = SchedulerConfig.fromMap(configJson);
        Scheduler scheduler = create(c.get("variant").asText(), c.get("step_kwargs"), config);

        assertEquals(c.get("scheduler").asText().toLowerCase(Locale.ROOT),
                scheduler.getClass().getSimpleName().toLowerCase(Locale.ROOT), "scheduler class");
        assertClose("alphas_cumprod", ConformanceData.tensor(c.get("alphas_cumprod")),
                ((AbstractScheduler) scheduler).alphasCumprod());

        int n = c.get("num_inference_steps_requested").asInt();
        scheduler.setTimesteps(n);
        assertClose("timesteps", ConformanceData.doubles(c.get("timesteps")), scheduler.timesteps());
        assertEquals("int64".equals(c.get("timesteps_dtype").asText()), scheduler.integerTimesteps(),
                "timesteps dtype");
        assertEquals(c.get("order").asInt(), scheduler.order(), "order");
        assertClose("init_noise_sigma", c.get("init_noise_sigma").asDouble(), scheduler.initNoiseSigma());
        Optional<double[]> sigmas = scheduler.sigmas();
        if (c.get("sigmas").isNull()) {
            assertTrue(sigmas.isEmpty(), "this scheduler has no sigmas in diffusers");
        } else {
            assertTrue(sigmas.isPresent(), "sigmas");
            assertClose("sigmas", ConformanceData.doubles(c.get("sigmas")), sigmas.get());
        }

        double[] timesteps;
        float[] x;
        if ("img2img".equals(c.get("kind").asText())) {
            timesteps = Schedulers.img2imgTimesteps(scheduler, n, c.get("strength").asDouble());
            assertClose("img2img_timesteps", ConformanceData.doubles(c.get("img2img_timesteps")), timesteps);
            assertEquals(scheduler.timesteps().length - c.get("t_start").asInt() * scheduler.order(),
                    timesteps.length, "truncation at t_start * order");
            OptionalInt begin = scheduler.beginIndex();
            if (c.get("begin_index").isNull()) {
                assertFalse(begin.isPresent(), "begin_index");
            } else {
                assertEquals(OptionalInt.of(c.get("begin_index").asInt()), begin, "begin_index");
            }
            float[] original = seededNoise(c, "original");
            float[] noise = seededNoise(c, "add_noise_noise");
            x = new float[original.length];
            scheduler.addNoise(original, noise, timesteps[0], x);
            assertClose("noised_latent", ConformanceData.tensor(c.get("noised_latent")), x);
        } else {
            timesteps = scheduler.timesteps();
            float[] latentNoise = seededNoise(c, "latent");
            float sigma = (float) scheduler.initNoiseSigma();
            x = new float[latentNoise.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = latentNoise[i] * sigma;
            }
            assertClose("x0", ConformanceData.tensor(c.get("x0")), x);
        }

        JsonNode steps = c.get("steps");
        assertEquals(steps.size(), timesteps.length, "model calls");
        TorchGenerator stepGenerator = new TorchGenerator(c.get("noise_generator_seed").asLong());
        float[] scaled = new float[x.length];
        for (int i = 0; i < steps.size(); i++) {
            JsonNode step = steps.get(i);
            String at = "step " + i + " (t=" + timesteps[i] + ") ";
            assertClose(at + "t", step.get("t").asDouble(), timesteps[i]);
            scheduler.scaleModelInput(x, timesteps[i], scaled);
            assertClose(at + "scaled_input", ConformanceData.tensor(step.get("scaled_input")), scaled);
            float[] modelOutput = fakeModel(scaled, timesteps[i]);
            assertClose(at + "model_output", ConformanceData.tensor(step.get("model_output")), modelOutput);

            Deque<float[]> recorded = new ArrayDeque<>();
            for (JsonNode draw : step.get("noise")) {
                float[] noise = ConformanceData.tensor(draw);
                assertBitExact(at + "recorded noise vs TorchGenerator", noise, stepGenerator.randn(noise.length));
                recorded.add(noise);
            }
            int expectedDraws = recorded.size();
            NoiseSource injected = out -> {
                float[] next = recorded.poll();
                if (next == null) {
                    fail(at + "drew more noise than diffusers (" + expectedDraws + ")");
                }
                System.arraycopy(next, 0, out, 0, out.length);
            };
            scheduler.step(modelOutput, timesteps[i], x, injected);
            assertTrue(recorded.isEmpty(), at + "drew less noise than diffusers (" + expectedDraws + ")");
            assertClose(at + "prev_sample", ConformanceData.tensor(step.get("prev_sample")), x);
        }
        assertClose("final_sample", ConformanceData.tensor(c.get("final_sample")), x);
    }

    private static Scheduler create(String variant, JsonNode stepKwargs, SchedulerConfig config) {
        if (variant.startsWith("ddim")) {
            return new DdimScheduler(config, stepKwargs.path("eta").asDouble(0.0));
        }
        return Schedulers.create(variant.replace('_', '-'), config);
    }

    /** The recorded {@code <name>} tensor, which must equal a fresh {@code <name>_seed} TorchGenerator draw. */
    private static float[] seededNoise(JsonNode c, String name) {
        float[] recorded = ConformanceData.tensor(c.get(name.equals("latent") ? "latent_noise" : name));
        long seed = c.get(name + "_seed").asLong();
        assertBitExact(name + " vs TorchGenerator(" + seed + ")", recorded,
                new TorchGenerator(seed).randn(recorded.length));
        return recorded;
    }

    private static void assertBitExact(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
                fail(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i]);
            }
        }
    }
}
