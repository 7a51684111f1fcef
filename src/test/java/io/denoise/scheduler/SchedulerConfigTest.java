package io.denoise.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.denoise.scheduler.SchedulerConfig.AlgorithmType;
import io.denoise.scheduler.SchedulerConfig.BetaSchedule;
import io.denoise.scheduler.SchedulerConfig.FinalSigmasType;
import io.denoise.scheduler.SchedulerConfig.InterpolationType;
import io.denoise.scheduler.SchedulerConfig.PredictionType;
import io.denoise.scheduler.SchedulerConfig.TimestepSpacing;
import io.denoise.scheduler.SchedulerConfig.TimestepType;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SchedulerConfigTest {

    /** Stable Diffusion 1.5's scheduler/scheduler_config.json. */
    static final String SD15_JSON = """
            {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
             "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false,
             "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true,
             "steps_offset": 1, "trained_betas": null}""";

    static SchedulerConfig sd15() throws Exception {
        return SchedulerConfig.fromMap(parse(SD15_JSON));
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> parse(String json) throws Exception {
        return ConformanceData.JSON.readValue(json, Map.class);
    }

    @Test
    void missingKeysTakeDiffusersDefaults() {
        SchedulerConfig c = SchedulerConfig.defaults();
        assertEquals(1000, c.numTrainTimesteps());
        assertEquals(BetaSchedule.LINEAR, c.betaSchedule());
        assertEquals(PredictionType.EPSILON, c.predictionType());
        assertEquals(0, c.stepsOffset());
        assertFalse(c.skipPrkSteps());
        assertEquals(1.0, c.clipSampleRange());
        assertFalse(c.useKarrasSigmas());
        assertEquals(InterpolationType.LINEAR, c.interpolationType());
        assertEquals(TimestepType.DISCRETE, c.timestepType());
        assertEquals(FinalSigmasType.ZERO, c.finalSigmasType());
        assertEquals(2, c.solverOrder());
        assertEquals(AlgorithmType.DPMSOLVER_PLUS_PLUS, c.algorithmType());
        assertTrue(c.lowerOrderFinal());
        assertFalse(c.eulerAtFinal());
        assertEquals(Double.NEGATIVE_INFINITY, c.lambdaMinClipped());
        assertTrue(c.predictX0());
        assertEquals(List.of(), c.disableCorrector());
    }

    @Test
    void classDependentKeysStayUnsetSoEachSchedulerAppliesItsOwnDefault() {
        SchedulerConfig c = SchedulerConfig.defaults();
        assertNull(c.betaStart());
        assertNull(c.betaEnd());
        assertNull(c.timestepSpacing());
        assertNull(c.setAlphaToOne());
        assertNull(c.clipSample());
        assertNull(c.solverType());
        assertNull(c.varianceType());
        assertNull(c.trainedBetas());
        assertNull(c.sigmaMin());
        assertNull(c.sigmaMax());
    }

    @Test
    void readsStableDiffusion15Config() throws Exception {
        SchedulerConfig c = sd15();
        assertEquals(0.00085, c.betaStart());
        assertEquals(0.012, c.betaEnd());
        assertEquals(BetaSchedule.SCALED_LINEAR, c.betaSchedule());
        assertEquals(Boolean.FALSE, c.clipSample());
        assertEquals(Boolean.FALSE, c.setAlphaToOne());
        assertTrue(c.skipPrkSteps());
        assertEquals(1, c.stepsOffset());
        assertNull(c.trainedBetas());
    }

    @Test
    void classNameSuppliesThatClassDefaultsAsFromConfigOfPipeSchedulerConfigDoes() throws Exception {
        assertEquals(TimestepSpacing.LEADING, sd15().timestepSpacing(), "PNDM resolves leading spacing");
        SchedulerConfig ddim = SchedulerConfig.fromMap(Map.of("_class_name", "DDIMScheduler"));
        assertEquals(TimestepSpacing.LEADING, ddim.timestepSpacing());
        assertEquals(Boolean.TRUE, ddim.clipSample());
        assertEquals(Boolean.TRUE, ddim.setAlphaToOne());
        assertEquals(0.0001, ddim.betaStart());
        SchedulerConfig heun = SchedulerConfig.fromMap(Map.of("_class_name", "HeunDiscreteScheduler"));
        assertEquals(0.00085, heun.betaStart());
        assertEquals(0.012, heun.betaEnd());
        assertEquals(TimestepSpacing.LINSPACE, heun.timestepSpacing());
        assertEquals(Boolean.FALSE, heun.clipSample());
        assertEquals("bh2", SchedulerConfig.fromMap(Map.of("_class_name", "UniPCMultistepScheduler")).solverType());
        assertNull(SchedulerConfig.fromMap(Map.of("_class_name", "SomeFutureScheduler")).timestepSpacing());
        assertEquals(TimestepSpacing.TRAILING, SchedulerConfig.fromMap(
                Map.of("_class_name", "PNDMScheduler", "timestep_spacing", "trailing")).timestepSpacing(),
                "explicit keys win");
    }

    @Test
    void readsStableDiffusion2VPredictionConfigWithNonFiniteNumbers() throws Exception {
        SchedulerConfig c = SchedulerConfig.fromMap(parse("""
                {"_class_name": "DPMSolverMultistepScheduler", "prediction_type": "v_prediction",
                 "timestep_spacing": "trailing", "lambda_min_clipped": -Infinity, "solver_order": 2.0,
                 "disable_corrector": [0, 1], "trained_betas": [0.1, 0.2], "num_train_timesteps": 2}"""));
        assertEquals(PredictionType.V_PREDICTION, c.predictionType());
        assertEquals(TimestepSpacing.TRAILING, c.timestepSpacing());
        assertEquals(Double.NEGATIVE_INFINITY, c.lambdaMinClipped());
        assertEquals(2, c.solverOrder());
        assertEquals(List.of(0, 1), c.disableCorrector());
        assertEquals(List.of(0.1, 0.2), c.trainedBetas());
    }

    @Test
    void ignoresUnknownKeys() throws Exception {
        SchedulerConfig c = SchedulerConfig.fromMap(parse("""
                {"_use_default_values": ["x"], "some_future_option": {"a": 1}, "steps_offset": 3}"""));
        assertEquals(3, c.stepsOffset());
    }

    @Test
    void deisAlgorithmIsReadAsDpmSolverPlusPlusLikeDiffusers() {
        assertEquals(AlgorithmType.DPMSOLVER_PLUS_PLUS,
                SchedulerConfig.fromMap(Map.of("algorithm_type", "deis")).algorithmType());
    }

    @ParameterizedTest
    @CsvSource({
        "beta_schedule, 'sigmoid'",
        "prediction_type, 'flow_prediction'",
        "timestep_spacing, 'uniform'",
        "final_sigmas_type, 'one'",
        "algorithm_type, 'sde-dpmsolver++'",
        "solver_type, 'euler'",
        "variance_type, 'learned_range'",
        "interpolation_type, 'cubic'",
        "timestep_type, 'random'",
    })
    void unsupportedValueIsRejectedNamingTheKey(String key, String value) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromMap(Map.of(key, value)));
        assertTrue(e.getMessage().contains(key), e.getMessage());
        assertTrue(e.getMessage().contains(value), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"thresholding", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas",
        "use_dynamic_shifting"})
    void unimplementedFeatureIsRejectedWhenEnabledButNotWhenOff(String key) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromMap(Map.of(key, true)));
        assertTrue(e.getMessage().contains(key), e.getMessage());
        assertEquals(SchedulerConfig.defaults(), SchedulerConfig.fromMap(Map.of(key, false)));
    }

    @ParameterizedTest
    @CsvSource({
        "steps_offset, 'one'",
        "num_train_timesteps, 1000.5",
        "use_karras_sigmas, 'yes'",
        "beta_start, 'small'",
    })
    void valueOfWrongTypeIsRejectedNamingTheKey(String key, String value) throws Exception {
        Map<String, Object> json = parse("{\"" + key + "\": " + (value.matches("[0-9.]+") ? value
                : "\"" + value + "\"") + "}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromMap(json));
        assertTrue(e.getMessage().contains(key), e.getMessage());
    }

    @Test
    void trainedBetasMustCoverEveryTrainingTimestep() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromMap(Map.of("trained_betas", List.of(0.1, 0.2))));
        assertTrue(e.getMessage().contains("trained_betas"), e.getMessage());
    }

    @Test
    void jsonNullMeansDefault() {
        Map<String, Object> json = new HashMap<>();
        json.put("sigma_min", null);
        json.put("steps_offset", null);
        json.put("timestep_spacing", null);
        assertEquals(SchedulerConfig.defaults(), SchedulerConfig.fromMap(json));
    }

    @Test
    void toMapRoundTripsAndWithOverridesKeys() throws Exception {
        SchedulerConfig c = sd15();
        assertEquals(c, SchedulerConfig.fromMap(c.toMap()));
        SchedulerConfig v = c.with(Map.of("prediction_type", "v_prediction", "timestep_spacing", "trailing"));
        assertEquals(PredictionType.V_PREDICTION, v.predictionType());
        assertEquals(TimestepSpacing.TRAILING, v.timestepSpacing());
        assertEquals(c.betaStart(), v.betaStart());
        assertEquals(PredictionType.EPSILON, c.predictionType());
    }

    @Test
    void schedulerRejectsPredictionTypeDiffusersDoesNotSupportForIt() {
        SchedulerConfig sample = SchedulerConfig.fromMap(Map.of("prediction_type", "sample"));
        for (String id : List.of("euler-ancestral", "pndm")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Schedulers.create(id, sample));
            assertTrue(e.getMessage().contains("prediction_type"), e.getMessage());
        }
        for (String id : List.of("ddim", "ddpm", "lms", "euler", "heun", "dpmpp-2m", "unipc")) {
            Schedulers.create(id, sample).setTimesteps(10);
        }
    }
}
