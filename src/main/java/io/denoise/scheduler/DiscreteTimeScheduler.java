package io.denoise.scheduler;

import io.denoise.scheduler.SchedulerConfig.TimestepSpacing;

/**
 * Base of the schedulers that work directly on integer training timesteps and {@code alphas_cumprod} (DDIM, DDPM,
 * PNDM): int64 timesteps and diffusers' {@code DDPMScheduler.add_noise}.
 *
 * <p>Mutable, not thread-safe; see {@link Scheduler}.
 */
abstract class DiscreteTimeScheduler extends AbstractScheduler {

    DiscreteTimeScheduler(SchedulerConfig config) {
        super(config, NoiseSchedules.alphasCumprod(config, 0.0001, 0.02, NoiseSchedules.ZeroSnr.RESCALE));
    }

    DiscreteTimeScheduler(SchedulerConfig config, float[] alphasCumprod) {
        super(config, alphasCumprod);
    }

    @Override
    public boolean integerTimesteps() {
        return true;
    }

    /**
     * The spaced integer timesteps of {@code N} steps, descending ({@code leading} unless configured), as the
     * {@code set_timesteps} of DDIM, DDPM and PNDM compute them.
     */
    double[] spacedTimesteps(int n) {
        return NoiseSchedules.spacedTimesteps(spacing(TimestepSpacing.LEADING), config.numTrainTimesteps(), n,
                config.stepsOffset(), true);
    }

    /**
     * Port of {@code set_timesteps} of DDIM and DDPM (the same in both): the {@linkplain #spacedTimesteps spaced
     * timesteps}.
     */
    @Override
    public void setTimesteps(int numInferenceSteps) {
        beginSetTimesteps(numInferenceSteps);
        timesteps = spacedTimesteps(numInferenceSteps);
    }

    /** Port of {@code DDPMScheduler.add_noise}: {@code sqrt(a_t) * x0 + sqrt(1 - a_t) * noise}. */
    @Override
    public void addNoise(float[] original, float[] noise, double timestep, float[] out) {
        Elementwise.requireSameLength(original, noise, out);
        float alphaProd = (float) alphaProd(integerTimestep(timestep));
        double sqrtAlpha = (float) Math.sqrt(alphaProd);
        double sqrtOneMinusAlpha = (float) Math.sqrt(1f - alphaProd);
        Elementwise.combine(out, sqrtAlpha, original, sqrtOneMinusAlpha, noise);
    }
}
