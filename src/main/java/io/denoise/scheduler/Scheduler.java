package io.denoise.scheduler;

import io.denoise.random.NoiseSource;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A diffusion noise scheduler, in the vocabulary of Hugging Face diffusers' {@code SchedulerMixin}: it chooses the
 * timesteps of a generation, scales the model input, and turns each model output into the next, less noisy latent.
 *
 * <p><b>Shapes.</b> Samples, model outputs and noise are flat row-major {@code float[]} arrays of a
 * {@code [batch, channels, height, width]} tensor. Every scheduler is element-wise, so only the length matters; all
 * arrays passed to one call must have the same length, and it must not change within a generation.
 *
 * <p><b>Usage</b> (diffusers' text-to-image loop):
 * <pre>{@code
 * Scheduler s = Schedulers.create("euler", config);
 * s.setTimesteps(steps);
 * float[] x = initialNoise;                       // times s.initNoiseSigma()
 * for (double t : s.timesteps()) {
 *     s.scaleModelInput(x, t, input);
 *     float[] eps = unet(input, t);              // see integerTimesteps()
 *     s.step(eps, t, x, noise);                  // x becomes x_{t-1}
 * }
 * }</pre>
 * The loop runs over {@link #timesteps()} exactly as given: second-order schedulers ({@link #order()} 2, Heun)
 * list most timesteps twice and expect one model call per entry.
 *
 * <p><b>State and threads.</b> Use one instance per generation; instances are mutable and not thread-safe.
 * {@link #setTimesteps(int)} starts a generation: it resets the step counter, the begin index and any history of
 * multistep methods. History buffers are allocated at the first step of a generation and reused afterwards.
 */
public interface Scheduler {

    /**
     * Chooses the timesteps for a generation of {@code numInferenceSteps} denoising steps and resets all per-generation
     * state. Port of diffusers' {@code set_timesteps}.
     *
     * @param numInferenceSteps number of denoising steps, at least 1
     */
    void setTimesteps(int numInferenceSteps);

    /**
     * The timesteps of the current generation, in the order the model is to be called (diffusers'
     * {@code scheduler.timesteps}). Values are integral for schedulers with {@link #integerTimesteps()}, otherwise
     * float32 values (possibly fractional, e.g. with Karras sigmas).
     *
     * @return a copy; requires {@link #setTimesteps(int)}
     */
    double[] timesteps();

    /**
     * Whether diffusers keeps this scheduler's timesteps as {@code int64} (DDIM, DDPM, PNDM, DPM-Solver, UniPC)
     * rather than {@code float32} (Euler, Euler ancestral, LMS, Heun). A model that takes an integer timestep
     * input can be fed {@code (long) t} in the first case.
     */
    boolean integerTimesteps();

    /**
     * The noise levels of the current generation (diffusers' {@code scheduler.sigmas}, one more than the timesteps
     * for most schedulers), or empty for schedulers that have none (DDIM, DDPM, PNDM).
     *
     * @return a copy; requires {@link #setTimesteps(int)} when present
     */
    Optional<double[]> sigmas();

    /** Standard deviation of the initial noise: multiply the unit normal initial latent by it (txt2img). */
    double initNoiseSigma();

    /** Model calls per denoising step (diffusers' {@code scheduler.order}): 2 for Heun, 1 otherwise. */
    int order();

    /**
     * Scales the latent before it is given to the model at {@code timestep} (diffusers' {@code scale_model_input}).
     * Call it once per entry of {@link #timesteps()}, before {@link #step}; sigma-based schedulers track their
     * position from it.
     *
     * @param sample   current latent, not modified (unless it is also {@code out})
     * @param timestep the current entry of {@link #timesteps()}
     * @param out      destination, same length; may be {@code sample} itself
     */
    void scaleModelInput(float[] sample, double timestep, float[] out);

    /**
     * Advances the latent by one entry of {@link #timesteps()}: from {@code x_t} to {@code x_{t-1}} (diffusers'
     * {@code step(...).prev_sample}).
     *
     * @param modelOutput the model output for the scaled input at {@code timestep} (noise, velocity or sample
     *                    prediction, as the config's {@code prediction_type} says); not modified
     * @param timestep    the current entry of {@link #timesteps()}
     * @param sample      the current latent; overwritten in place with the next one
     * @param noise       source of fresh noise for stochastic schedulers; ignored by deterministic ones
     */
    void step(float[] modelOutput, double timestep, float[] sample, NoiseSource noise);

    /**
     * Noises a clean latent to the level of {@code timestep} (diffusers' {@code add_noise}), as img2img does with
     * the first of its truncated timesteps.
     *
     * @param original clean latent, not modified
     * @param noise    unit normal noise, same length, not modified
     * @param timestep an entry of {@link #timesteps()}
     * @param out      destination, same length; may alias either input
     */
    void addNoise(float[] original, float[] noise, double timestep, float[] out);

    /**
     * Tells the scheduler which entry of {@link #timesteps()} the generation starts at (diffusers'
     * {@code set_begin_index}, called by img2img pipelines; see {@link Schedulers#img2imgTimesteps}). Schedulers that diffusers gives no
     * {@code set_begin_index} (DDIM, DDPM, PNDM) locate steps by timestep value and ignore it.
     *
     * @param beginIndex index into {@link #timesteps()}
     */
    void setBeginIndex(int beginIndex);

    /** The begin index set since the last {@link #setTimesteps(int)}, empty if none or not supported. */
    OptionalInt beginIndex();
}
