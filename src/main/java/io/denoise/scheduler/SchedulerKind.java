package io.denoise.scheduler;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;

/**
 * Every scheduler Denoise offers, written once: its id in requests, the diffusers class it ports (the
 * {@code _class_name} of a {@code scheduler_config.json}), the defaults that class resolves into its config, and
 * how to create it from a model's config and DDIM's eta (which the others ignore, as diffusers' pipelines do).
 * Everything that lists, parses or creates schedulers reads this table.
 */
public enum SchedulerKind {

    PNDM("pndm", "PNDMScheduler", defaults("leading", Map.of("set_alpha_to_one", false)),
            (c, eta) -> new PndmScheduler(c)),
    LMS("lms", "LMSDiscreteScheduler", defaults("linspace", Map.of()), (c, eta) -> new LmsDiscreteScheduler(c)),
    DDIM("ddim", "DDIMScheduler", defaults("leading", Map.of("set_alpha_to_one", true, "clip_sample", true)),
            DdimScheduler::new),
    EULER("euler", "EulerDiscreteScheduler", defaults("linspace", Map.of()), (c, eta) -> new EulerDiscreteScheduler(c)),
    EULER_ANCESTRAL("euler-ancestral", "EulerAncestralDiscreteScheduler", defaults("linspace", Map.of()),
            (c, eta) -> new EulerAncestralDiscreteScheduler(c)),
    /** DPM-Solver++ of order 2, diffusers' {@code algorithm_type="dpmsolver++", solver_order=2}. */
    DPMPP_2M("dpmpp-2m", "DPMSolverMultistepScheduler", defaults("linspace", Map.of("solver_type", "midpoint")),
            (c, eta) -> new DpmSolverMultistepScheduler(dpmPlusPlus2m(c, false))),
    /** The same with Karras sigmas ({@code use_karras_sigmas=True}). */
    DPMPP_2M_KARRAS("dpmpp-2m-karras", "DPMSolverMultistepScheduler", DPMPP_2M.classDefaults,
            (c, eta) -> new DpmSolverMultistepScheduler(dpmPlusPlus2m(c, true))),
    DDPM("ddpm", "DDPMScheduler", defaults("leading", Map.of("clip_sample", true, "variance_type", "fixed_small")),
            (c, eta) -> new DdpmScheduler(c)),
    HEUN("heun", "HeunDiscreteScheduler", Map.of("beta_start", 0.00085, "beta_end", 0.012, "timestep_spacing", "linspace",
            "clip_sample", false), (c, eta) -> new HeunDiscreteScheduler(c)),
    UNIPC("unipc", "UniPCMultistepScheduler", defaults("linspace", Map.of("solver_type", "bh2")),
            (c, eta) -> new UniPcMultistepScheduler(c));

    private final String id;
    private final String diffusersClass;
    private final Map<String, Object> classDefaults;
    private final BiFunction<SchedulerConfig, Double, Scheduler> factory;

    SchedulerKind(String id, String diffusersClass, Map<String, Object> classDefaults,
                  BiFunction<SchedulerConfig, Double, Scheduler> factory) {
        this.id = id;
        this.diffusersClass = diffusersClass;
        this.classDefaults = classDefaults;
        this.factory = factory;
    }

    /** The id requests name it by, e.g. {@code dpmpp-2m-karras}. */
    public String id() {
        return id;
    }

    /** The diffusers class it ports, e.g. {@code DPMSolverMultistepScheduler}. */
    public String diffusersClass() {
        return diffusersClass;
    }

    /** The defaults its diffusers class resolves into a config where the JSON leaves them out. */
    Map<String, Object> classDefaults() {
        return classDefaults;
    }

    /** A new scheduler from a model's config; {@code eta} is DDIM's and ignored by the others. */
    public Scheduler create(SchedulerConfig config, double eta) {
        return factory.apply(config, eta);
    }

    /** Every id, in the table's order. */
    public static List<String> ids() {
        return Arrays.stream(values()).map(SchedulerKind::id).toList();
    }

    /** The scheduler with this id. */
    public static Optional<SchedulerKind> byId(String id) {
        return Arrays.stream(values()).filter(k -> k.id.equals(id)).findFirst();
    }

    /** The first scheduler porting this diffusers class (a model's own scheduler), if Denoise has one. */
    public static Optional<SchedulerKind> forClass(String diffusersClass) {
        return Arrays.stream(values()).filter(k -> k.diffusersClass.equals(diffusersClass)).findFirst();
    }

    private static Map<String, Object> defaults(String spacing, Map<String, Object> extra) {
        Map<String, Object> m = new LinkedHashMap<>(extra);
        m.put("beta_start", 0.0001);
        m.put("beta_end", 0.02);
        m.put("timestep_spacing", spacing);
        return Map.copyOf(m);
    }

    private static SchedulerConfig dpmPlusPlus2m(SchedulerConfig config, boolean karras) {
        return config.with(Map.of(
                "algorithm_type", SchedulerConfig.AlgorithmType.DPMSOLVER_PLUS_PLUS.configValue(),
                "solver_order", 2,
                "use_karras_sigmas", karras));
    }
}
