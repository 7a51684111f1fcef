package io.denoise.scheduler;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Creates schedulers by id, each from the shared model config as diffusers' {@code X.from_config(config)} does.
 *
 * <table>
 *   <caption>Scheduler ids</caption>
 *   <tr><th>id</th><th>diffusers class</th><th>overrides</th></tr>
 *   <tr><td>{@code pndm}</td><td>PNDMScheduler</td><td></td></tr>
 *   <tr><td>{@code lms}</td><td>LMSDiscreteScheduler</td><td></td></tr>
 *   <tr><td>{@code ddim}</td><td>DDIMScheduler</td><td>eta 0</td></tr>
 *   <tr><td>{@code euler}</td><td>EulerDiscreteScheduler</td><td></td></tr>
 *   <tr><td>{@code euler-ancestral}</td><td>EulerAncestralDiscreteScheduler</td><td></td></tr>
 *   <tr><td>{@code dpmpp-2m}</td><td>DPMSolverMultistepScheduler</td>
 *       <td>algorithm_type dpmsolver++, solver_order 2, use_karras_sigmas false</td></tr>
 *   <tr><td>{@code dpmpp-2m-karras}</td><td>DPMSolverMultistepScheduler</td>
 *       <td>algorithm_type dpmsolver++, solver_order 2, use_karras_sigmas true</td></tr>
 *   <tr><td>{@code ddpm}</td><td>DDPMScheduler</td><td></td></tr>
 *   <tr><td>{@code heun}</td><td>HeunDiscreteScheduler</td><td></td></tr>
 *   <tr><td>{@code unipc}</td><td>UniPCMultistepScheduler</td><td></td></tr>
 * </table>
 *
 * <p>Stateless and thread-safe; every call returns a new scheduler.
 */
public final class Schedulers {

    /** Factories by id, from the config and DDIM's eta (which the other schedulers ignore, as diffusers' do). */
    private static final Map<String, BiFunction<SchedulerConfig, Double, Scheduler>> FACTORIES = new LinkedHashMap<>();

    static {
        FACTORIES.put("pndm", (c, eta) -> new PndmScheduler(c));
        FACTORIES.put("lms", (c, eta) -> new LmsDiscreteScheduler(c));
        FACTORIES.put("ddim", DdimScheduler::new);
        FACTORIES.put("euler", (c, eta) -> new EulerDiscreteScheduler(c));
        FACTORIES.put("euler-ancestral", (c, eta) -> new EulerAncestralDiscreteScheduler(c));
        FACTORIES.put("dpmpp-2m", (c, eta) -> new DpmSolverMultistepScheduler(dpmPlusPlus2m(c, false)));
        FACTORIES.put("dpmpp-2m-karras", (c, eta) -> new DpmSolverMultistepScheduler(dpmPlusPlus2m(c, true)));
        FACTORIES.put("ddpm", (c, eta) -> new DdpmScheduler(c));
        FACTORIES.put("heun", (c, eta) -> new HeunDiscreteScheduler(c));
        FACTORIES.put("unipc", (c, eta) -> new UniPcMultistepScheduler(c));
    }

    private Schedulers() {
    }

    /**
     * Creates a scheduler.
     *
     * @param id     one of {@link #ids()}
     * @param config the model's scheduler config (for Stable Diffusion, the one shipped with the model)
     * @return a new scheduler; call {@link Scheduler#setTimesteps(int)} before use
     * @throws IllegalArgumentException for an unknown id (the message lists the valid ones) or a config value the
     *                                  scheduler does not support
     */
    public static Scheduler create(String id, SchedulerConfig config) {
        return create(id, config, 0.0);
    }

    /**
     * Creates a scheduler with DDIM's {@code eta} (the weight of the fresh noise each DDIM step adds; 0 is
     * deterministic DDIM). Other schedulers ignore {@code eta}, as diffusers' pipelines do.
     *
     * @throws IllegalArgumentException as {@link #create(String, SchedulerConfig)}
     */
    public static Scheduler create(String id, SchedulerConfig config, double eta) {
        BiFunction<SchedulerConfig, Double, Scheduler> factory = FACTORIES.get(id);
        if (factory == null) {
            throw new IllegalArgumentException("unknown scheduler '" + id + "'; valid ids: " + String.join(", ", ids()));
        }
        return factory.apply(config, eta);
    }

    /** The valid scheduler ids, in a stable order. */
    public static List<String> ids() {
        return List.copyOf(FACTORIES.keySet());
    }

    /**
     * Truncates the schedule for img2img, as diffusers' {@code StableDiffusionImg2ImgPipeline.get_timesteps}:
     * {@code init_timestep = min(int(N * strength), N)}, {@code t_start = max(N - init_timestep, 0)}, the
     * timesteps from index {@code t_start * order} on, and {@code set_begin_index(t_start * order)}.
     *
     * @param scheduler         a scheduler on which {@code setTimesteps(numInferenceSteps)} has been called
     * @param numInferenceSteps the {@code N} passed to {@link Scheduler#setTimesteps(int)}
     * @param strength          img2img strength in {@code [0, 1]}
     * @return the timesteps to denoise over; noise the init latent with {@link Scheduler#addNoise} at the first
     *         of them
     */
    public static double[] img2imgTimesteps(Scheduler scheduler, int numInferenceSteps, double strength) {
        if (!(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in [0, 1], got " + strength);
        }
        int initTimestep = Math.min((int) (numInferenceSteps * strength), numInferenceSteps);
        int tStart = Math.max(numInferenceSteps - initTimestep, 0);
        int begin = tStart * scheduler.order();
        double[] all = scheduler.timesteps();
        double[] truncated = Arrays.copyOfRange(all, Math.min(begin, all.length), all.length);
        scheduler.setBeginIndex(begin);
        return truncated;
    }

    private static SchedulerConfig dpmPlusPlus2m(SchedulerConfig config, boolean karras) {
        return config.with(Map.of(
                "algorithm_type", SchedulerConfig.AlgorithmType.DPMSOLVER_PLUS_PLUS.configValue(),
                "solver_order", 2,
                "use_karras_sigmas", karras));
    }
}
