package io.denoise.scheduler;

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

    /** Port of {@code DDPMScheduler.add_noise}: {@code sqrt(a_t) * x0 + sqrt(1 - a_t) * noise}. */
    @Override
    public void addNoise(float[] original, float[] noise, double timestep, float[] out) {
        Tensors.requireSameLength(original, noise, out);
        float alphaProd = (float) alphaProd(integerTimestep(timestep));
        double sqrtAlpha = (float) Math.sqrt(alphaProd);
        double sqrtOneMinusAlpha = (float) Math.sqrt(1f - alphaProd);
        Tensors.combine(out, sqrtAlpha, original, sqrtOneMinusAlpha, noise);
    }
}
