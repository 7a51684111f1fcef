package io.denoise.scheduler;

import java.util.Arrays;
import java.util.List;

/**
 * Creates schedulers by id (the table of them is {@link SchedulerKind}), each from the shared model config as
 * diffusers' {@code X.from_config(config)} does, and truncates schedules for image-to-image.
 *
 * <p>Stateless and thread-safe; every call returns a new scheduler.
 */
public final class Schedulers {

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
        return SchedulerKind.byId(id).orElseThrow(() -> new IllegalArgumentException(
                "unknown scheduler '" + id + "'; valid ids: " + String.join(", ", ids()))).create(config, eta);
    }

    /** The valid scheduler ids, in a stable order. */
    public static List<String> ids() {
        return SchedulerKind.ids();
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
}
