package io.denoise.scheduler;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The keys of a diffusers {@code scheduler_config.json} that the schedulers of this package read, with diffusers'
 * defaults. Like diffusers' {@code X.from_config(config)}, one config is shared by every scheduler class and each
 * class reads only the keys its constructor accepts.
 *
 * <p>A few keys have class-dependent defaults in diffusers: {@code beta_start} / {@code beta_end} (0.0001 / 0.02,
 * HeunDiscrete 0.00085 / 0.012), {@code timestep_spacing} ({@code leading} for DDIM, DDPM and PNDM,
 * {@code linspace} otherwise), {@code set_alpha_to_one} (true for DDIM, false for PNDM), {@code clip_sample} (true
 * for DDIM and DDPM, false for Heun), {@code solver_type} ({@code midpoint} for DPMSolverMultistep, {@code bh2} for
 * UniPCMultistep) and {@code variance_type} ({@code fixed_small} for DDPM, none for DPMSolverMultistep). Pipelines
 * switch schedulers with {@code X.from_config(pipe.scheduler.config)}, where the config is the one the model's own
 * scheduler class resolved, defaults included; so {@link #fromMap(Map)} fills such keys, when absent, with the
 * defaults of the class named by {@code _class_name} (for Stable Diffusion 1.5, PNDMScheduler: every scheduler then
 * gets {@code leading} spacing). Keys that class does not take, or all of them when {@code _class_name} is absent or
 * unknown, stay {@code null} and each scheduler applies its own default. {@code trained_betas}, {@code sigma_min}
 * and {@code sigma_max} are {@code null} when not given.
 *
 * <p>Options of diffusers that this package does not implement ({@code thresholding}, exponential, beta, flow and
 * Lu-lambda sigma schedules, dynamic shifting, {@code shift_terminal}, {@code solver_p}, SDE DPM-Solver variants,
 * learned variances) are rejected by {@link #fromMap(Map)} when enabled, with an {@link IllegalArgumentException}
 * naming the key. Unknown keys are ignored.
 *
 * <p>Immutable and thread-safe. Lists are unmodifiable copies.
 *
 * @param numTrainTimesteps   {@code num_train_timesteps}, default 1000
 * @param betaStart           {@code beta_start}, {@code null} for the class default
 * @param betaEnd             {@code beta_end}, {@code null} for the class default
 * @param betaSchedule        {@code beta_schedule}, default {@code linear}
 * @param trainedBetas        {@code trained_betas}, {@code null} unless given; overrides the beta schedule
 * @param predictionType      {@code prediction_type}, default {@code epsilon}
 * @param timestepSpacing     {@code timestep_spacing}, {@code null} for the class default
 * @param stepsOffset         {@code steps_offset}, default 0
 * @param setAlphaToOne       {@code set_alpha_to_one}, {@code null} for the class default
 * @param skipPrkSteps        {@code skip_prk_steps}, default false
 * @param clipSample          {@code clip_sample}, {@code null} for the class default
 * @param clipSampleRange     {@code clip_sample_range}, default 1.0
 * @param rescaleBetasZeroSnr {@code rescale_betas_zero_snr}, default false
 * @param useKarrasSigmas     {@code use_karras_sigmas}, default false
 * @param sigmaMin            {@code sigma_min}, {@code null} unless given (Karras range override)
 * @param sigmaMax            {@code sigma_max}, {@code null} unless given (Karras range override)
 * @param interpolationType   {@code interpolation_type}, default {@code linear}
 * @param timestepType        {@code timestep_type}, default {@code discrete}
 * @param finalSigmasType     {@code final_sigmas_type}, default {@code zero}
 * @param solverOrder         {@code solver_order}, default 2
 * @param algorithmType       {@code algorithm_type}, default {@code dpmsolver++}
 * @param solverType          {@code solver_type}, {@code null} for the class default
 * @param lowerOrderFinal     {@code lower_order_final}, default true
 * @param eulerAtFinal        {@code euler_at_final}, default false
 * @param lambdaMinClipped    {@code lambda_min_clipped}, default negative infinity
 * @param varianceType        {@code variance_type}, {@code null} for the class default
 * @param predictX0           {@code predict_x0}, default true
 * @param disableCorrector    {@code disable_corrector}, default empty
 */
public record SchedulerConfig(
        int numTrainTimesteps,
        Double betaStart,
        Double betaEnd,
        BetaSchedule betaSchedule,
        List<Double> trainedBetas,
        PredictionType predictionType,
        TimestepSpacing timestepSpacing,
        int stepsOffset,
        Boolean setAlphaToOne,
        boolean skipPrkSteps,
        Boolean clipSample,
        double clipSampleRange,
        boolean rescaleBetasZeroSnr,
        boolean useKarrasSigmas,
        Double sigmaMin,
        Double sigmaMax,
        InterpolationType interpolationType,
        TimestepType timestepType,
        FinalSigmasType finalSigmasType,
        int solverOrder,
        AlgorithmType algorithmType,
        String solverType,
        boolean lowerOrderFinal,
        boolean eulerAtFinal,
        double lambdaMinClipped,
        String varianceType,
        boolean predictX0,
        List<Integer> disableCorrector) {

    /** A value of a string-valued config key: an enum constant named after the value, unless it says otherwise. */
    public interface ConfigValue {
        /** The constant's name, as {@link Enum#name()}. */
        String name();

        /** The value as written in {@code scheduler_config.json}: by default the constant's name in lower case. */
        default String configValue() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** {@code beta_schedule}. */
    public enum BetaSchedule implements ConfigValue {
        LINEAR, SCALED_LINEAR, SQUAREDCOS_CAP_V2
    }

    /** {@code prediction_type}: what the denoising model outputs. */
    public enum PredictionType implements ConfigValue {
        /** The noise. */
        EPSILON,
        /** The velocity {@code alpha_t * noise - sigma_t * x0} (SD 2.x 768px models). */
        V_PREDICTION,
        /** The denoised sample {@code x0}. */
        SAMPLE
    }

    /** {@code timestep_spacing}, Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed". */
    public enum TimestepSpacing implements ConfigValue {
        LEADING, LINSPACE, TRAILING
    }

    /** {@code interpolation_type} of EulerDiscrete. */
    public enum InterpolationType implements ConfigValue {
        LINEAR, LOG_LINEAR
    }

    /** {@code timestep_type} of EulerDiscrete. */
    public enum TimestepType implements ConfigValue {
        DISCRETE, CONTINUOUS
    }

    /** {@code final_sigmas_type}: the sigma after the last step. */
    public enum FinalSigmasType implements ConfigValue {
        ZERO, SIGMA_MIN
    }

    /**
     * {@code algorithm_type} of DPMSolverMultistep ({@code deis} is read as {@code dpmsolver++}, as diffusers does).
     * The one enum whose values are not its constants' names.
     */
    public enum AlgorithmType implements ConfigValue {
        DPMSOLVER_PLUS_PLUS("dpmsolver++"), DPMSOLVER("dpmsolver");

        private final String value;

        AlgorithmType(String value) {
            this.value = value;
        }

        @Override
        public String configValue() {
            return value;
        }
    }

    private static final List<String> SOLVER_TYPES = List.of("midpoint", "heun", "logrho", "bh1", "bh2");
    private static final List<String> VARIANCE_TYPES = List.of("fixed_small", "fixed_small_log", "fixed_large");
    private static final List<String> DISABLED_WHEN_TRUE = List.of(
            "thresholding", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas",
            "use_dynamic_shifting");
    private static final List<String> DISABLED_WHEN_SET = List.of("shift_terminal", "solver_p");

    /** Validates components and freezes the lists. */
    public SchedulerConfig {
        if (numTrainTimesteps < 1) {
            throw new IllegalArgumentException("num_train_timesteps must be positive, got " + numTrainTimesteps);
        }
        Objects.requireNonNull(betaSchedule, "beta_schedule");
        Objects.requireNonNull(predictionType, "prediction_type");
        Objects.requireNonNull(interpolationType, "interpolation_type");
        Objects.requireNonNull(timestepType, "timestep_type");
        Objects.requireNonNull(finalSigmasType, "final_sigmas_type");
        Objects.requireNonNull(algorithmType, "algorithm_type");
        if (trainedBetas != null) {
            trainedBetas = List.copyOf(trainedBetas);
            if (trainedBetas.size() != numTrainTimesteps) {
                throw new IllegalArgumentException("trained_betas has " + trainedBetas.size()
                        + " values but num_train_timesteps is " + numTrainTimesteps);
            }
        }
        if (stepsOffset < 0) {
            throw new IllegalArgumentException("steps_offset must not be negative, got " + stepsOffset);
        }
        if (solverOrder < 1) {
            throw new IllegalArgumentException("solver_order must be at least 1, got " + solverOrder);
        }
        if (solverType != null && !SOLVER_TYPES.contains(solverType)) {
            throw new IllegalArgumentException(unsupported("solver_type", solverType, SOLVER_TYPES));
        }
        if (varianceType != null && !VARIANCE_TYPES.contains(varianceType)) {
            throw new IllegalArgumentException(unsupported("variance_type", varianceType, VARIANCE_TYPES));
        }
        disableCorrector = disableCorrector == null ? List.of() : List.copyOf(disableCorrector);
    }

    /** The config with every key at diffusers' default. */
    public static SchedulerConfig defaults() {
        return fromMap(Map.of());
    }

    /**
     * Builds a config from the parsed JSON object of a {@code scheduler_config.json}.
     *
     * @param json keys to values as a JSON parser yields them ({@link Number}, {@link Boolean}, {@link String},
     *             {@link List}, {@code null}); absent or {@code null} values take the default (of the
     *             {@code _class_name} class where defaults differ by class), unknown keys are ignored
     * @return the config
     * @throws IllegalArgumentException naming the key, for a value of the wrong type or one this package does not
     *                                  support
     */
    public static SchedulerConfig fromMap(Map<String, ?> json) {
        Map<String, Object> resolved = new LinkedHashMap<>();
        Object className = json.get("_class_name");
        if (className != null) {
            SchedulerKind.forClass(className.toString()).ifPresent(kind -> resolved.putAll(kind.classDefaults()));
        }
        json.forEach((key, value) -> {
            if (value != null || !resolved.containsKey(key)) {
                resolved.put(key, value);
            }
        });
        ConfigReader r = new ConfigReader(resolved);
        for (String key : DISABLED_WHEN_TRUE) {
            if (r.bool(key, false)) {
                throw new IllegalArgumentException(key + "=true is not supported");
            }
        }
        for (String key : DISABLED_WHEN_SET) {
            if (resolved.get(key) != null) {
                throw new IllegalArgumentException(key + " is not supported (got " + resolved.get(key) + ")");
            }
        }
        String algorithm = r.string("algorithm_type");
        if ("deis".equals(algorithm)) {
            algorithm = AlgorithmType.DPMSOLVER_PLUS_PLUS.configValue();
        }
        return new SchedulerConfig(
                r.integer("num_train_timesteps", 1000),
                r.number("beta_start"),
                r.number("beta_end"),
                r.choice("beta_schedule", BetaSchedule.class, BetaSchedule.LINEAR),
                r.numbers("trained_betas"),
                r.choice("prediction_type", PredictionType.class, PredictionType.EPSILON),
                r.choice("timestep_spacing", TimestepSpacing.class, null),
                r.integer("steps_offset", 0),
                r.optionalBool("set_alpha_to_one"),
                r.bool("skip_prk_steps", false),
                r.optionalBool("clip_sample"),
                orElse(r.number("clip_sample_range"), 1.0),
                r.bool("rescale_betas_zero_snr", false),
                r.bool("use_karras_sigmas", false),
                r.number("sigma_min"),
                r.number("sigma_max"),
                r.choice("interpolation_type", InterpolationType.class, InterpolationType.LINEAR),
                r.choice("timestep_type", TimestepType.class, TimestepType.DISCRETE),
                r.choice("final_sigmas_type", FinalSigmasType.class, FinalSigmasType.ZERO),
                r.integer("solver_order", 2),
                ConfigReader.choice("algorithm_type", algorithm, AlgorithmType.class, AlgorithmType.DPMSOLVER_PLUS_PLUS),
                r.string("solver_type"),
                r.bool("lower_order_final", true),
                r.bool("euler_at_final", false),
                orElse(r.number("lambda_min_clipped"), Double.NEGATIVE_INFINITY),
                r.string("variance_type"),
                r.bool("predict_x0", true),
                r.integers("disable_corrector"));
    }

    /**
     * The config as a {@code scheduler_config.json} object: every key whose value is set, under diffusers' names.
     * {@code fromMap(toMap())} equals this config.
     *
     * @return a new mutable map, in component order
     */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("num_train_timesteps", numTrainTimesteps);
        putIfSet(m, "beta_start", betaStart);
        putIfSet(m, "beta_end", betaEnd);
        m.put("beta_schedule", betaSchedule.configValue());
        putIfSet(m, "trained_betas", trainedBetas);
        m.put("prediction_type", predictionType.configValue());
        putIfSet(m, "timestep_spacing", timestepSpacing == null ? null : timestepSpacing.configValue());
        m.put("steps_offset", stepsOffset);
        putIfSet(m, "set_alpha_to_one", setAlphaToOne);
        m.put("skip_prk_steps", skipPrkSteps);
        putIfSet(m, "clip_sample", clipSample);
        m.put("clip_sample_range", clipSampleRange);
        m.put("rescale_betas_zero_snr", rescaleBetasZeroSnr);
        m.put("use_karras_sigmas", useKarrasSigmas);
        putIfSet(m, "sigma_min", sigmaMin);
        putIfSet(m, "sigma_max", sigmaMax);
        m.put("interpolation_type", interpolationType.configValue());
        m.put("timestep_type", timestepType.configValue());
        m.put("final_sigmas_type", finalSigmasType.configValue());
        m.put("solver_order", solverOrder);
        m.put("algorithm_type", algorithmType.configValue());
        putIfSet(m, "solver_type", solverType);
        m.put("lower_order_final", lowerOrderFinal);
        m.put("euler_at_final", eulerAtFinal);
        m.put("lambda_min_clipped", lambdaMinClipped);
        putIfSet(m, "variance_type", varianceType);
        m.put("predict_x0", predictX0);
        m.put("disable_corrector", disableCorrector);
        return m;
    }

    /**
     * A copy with some keys replaced, as {@code X.from_config(config, **overrides)}.
     *
     * @param overrides diffusers keys to new values, validated as by {@link #fromMap(Map)}
     * @return the new config
     */
    public SchedulerConfig with(Map<String, ?> overrides) {
        Map<String, Object> m = toMap();
        m.putAll(overrides);
        return fromMap(m);
    }

    private static void putIfSet(Map<String, Object> m, String key, Object value) {
        if (value != null) {
            m.put(key, value);
        }
    }

    private static double orElse(Double value, double fallback) {
        return value == null ? fallback : value;
    }

    static String unsupported(String key, Object value, List<String> supported) {
        return key + ": unsupported value '" + value + "' (supported: " + String.join(", ", supported) + ")";
    }
}
