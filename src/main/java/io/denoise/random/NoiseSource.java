package io.denoise.random;

/**
 * Supplies standard normal noise to stochastic scheduler steps (DDIM with {@code eta > 0}, Euler ancestral, DDPM),
 * in place of diffusers' {@code randn_tensor(shape, generator=...)}. A pipeline that mirrors diffusers draws each
 * batch item's slice from that image's own {@link TorchGenerator}.
 *
 * <p>Schedulers call it at most once per {@link Scheduler#step step}, and only when the step needs noise.
 */
@FunctionalInterface
public interface NoiseSource {

    /**
     * Fills {@code out} entirely with independent standard normal values.
     *
     * @param out flat row-major {@code [batch, channels, height, width]} array, the shape of the sample
     */
    void sample(float[] out);

    /** A source for deterministic runs: fails if a step asks for noise. */
    static NoiseSource none() {
        return out -> {
            throw new IllegalStateException("this scheduler configuration needs noise; pass a NoiseSource");
        };
    }
}
