package io.denoise.random;

/**
 * Bit-exact Java port of PyTorch's CPU random generator ({@code torch.Generator('cpu')}) as far as
 * {@code manual_seed} and {@code torch.randn(..., dtype=torch.float32)} are concerned (torch 1.13 semantics).
 *
 * <p>The engine is the 32-bit Mersenne Twister of {@code aten/src/ATen/core/MT19937RNGEngine.h}, seeded the way
 * {@code CPUGeneratorImpl} seeds it (only the low 32 bits of the unsigned 64-bit seed reach the state). Normal
 * draws follow {@code normal_kernel} of {@code aten/src/ATen/native/cpu/DistributionTemplates.h}:
 * <ul>
 *   <li>fewer than 16 values: one {@code at::normal_distribution<double>} draw per value (Box-Muller over two
 *       53-bit uniforms; the sine half of each pair is cached in the generator and returned by the next scalar
 *       draw, even one made by a later call);</li>
 *   <li>16 values or more: {@code normal_fill_AVX2}: one 24-bit float uniform per value, then Box-Muller over
 *       pairs {@code (i, i + 8)} of every block of 16; when the count is not a multiple of 16 the last 16 values are
 *       redrawn from fresh uniforms and transformed again.</li>
 * </ul>
 * The vectorised path reproduces the AVX2 kernel that PyTorch dispatches to on x86-64 CPUs with AVX2 (see
 * {@link AvxMath}); PyTorch itself produces different low bits on CPUs without AVX2 and on other architectures.
 * Successive calls continue the same stream, exactly like successive {@code torch.randn(shape, generator=g)}
 * calls. Arrays are flat row-major, so only the element count of a shape matters.
 *
 * <p>Mutable and not thread-safe: use one instance per stream (for example one per image of a batch).
 */
public final class TorchGenerator {

    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;
    private static final int VECTORIZED_MIN_NUMEL = 16;

    private final int[] state = new int[N];
    private int left;
    private int next;
    private boolean hasCachedNormal;
    private double cachedNormal;

    /**
     * Creates a generator in the state of {@code torch.Generator('cpu').manual_seed(seed)}.
     *
     * @param seed the seed, read as an unsigned 64-bit integer (as Python passes it to PyTorch)
     */
    public TorchGenerator(long seed) {
        manualSeed(seed);
    }

    /**
     * Re-seeds the generator: port of {@code CPUGeneratorImpl::set_current_seed}, which also drops the cached
     * normal sample.
     *
     * @param seed the seed, read as an unsigned 64-bit integer
     */
    public void manualSeed(long seed) {
        state[0] = (int) seed;
        for (int j = 1; j < N; j++) {
            int prev = state[j - 1];
            state[j] = 1812433253 * (prev ^ (prev >>> 30)) + j;
        }
        left = 1;
        next = 0;
        hasCachedNormal = false;
    }

    /**
     * Returns a new array of standard normal values, as {@code torch.randn(shape, generator=g)}.
     *
     * @param shape tensor shape; the result holds the product of its dimensions, row-major
     * @return freshly drawn values
     */
    public float[] randn(int... shape) {
        long numel = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape: " + d);
            }
            numel *= d;
        }
        if (numel > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("shape too large: " + numel + " elements");
        }
        float[] out = new float[(int) numel];
        randn(out);
        return out;
    }

    /**
     * Fills {@code out} with standard normal values, as {@code torch.randn} of a tensor with
     * {@code out.length} elements.
     *
     * @param out destination, overwritten entirely
     */
    public void randn(float[] out) {
        if (out.length >= VECTORIZED_MIN_NUMEL) {
            normalFill(out);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) scalarNormal();
            }
        }
    }

    /** Next raw 32-bit output of the engine, as an unsigned value in an int. Port of {@code mt19937::operator()}. */
    int nextInt32() {
        if (--left == 0) {
            twist();
        }
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    private void twist() {
        left = N;
        next = 0;
        for (int k = 0; k < N; k++) {
            int y = (state[k] & UPPER_MASK) | (state[(k + 1) % N] & LOWER_MASK);
            int mag = (state[(k + 1) % N] & 1) != 0 ? MATRIX_A : 0;
            state[k] = state[(k + M) % N] ^ (y >>> 1) ^ mag;
        }
    }

    /** Port of {@code CPUGeneratorImpl::random64}: the first 32-bit draw forms the high half. */
    private long nextInt64() {
        long hi = nextInt32() & 0xffffffffL;
        long lo = nextInt32() & 0xffffffffL;
        return (hi << 32) | lo;
    }

    /** {@code uniform_real_distribution<double>(0, 1)}: the low 53 bits of a 64-bit draw. */
    private double uniformDouble() {
        return (nextInt64() & ((1L << 53) - 1)) * 0x1.0p-53;
    }

    /** {@code uniform_real_distribution<float>(0, 1)}: the low 24 bits of a 32-bit draw. */
    private float uniformFloat() {
        return (nextInt32() & ((1 << 24) - 1)) * 0x1.0p-24f;
    }

    /** Port of {@code at::normal_distribution<double>::operator()} with mean 0 and standard deviation 1. */
    private double scalarNormal() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u1 = uniformDouble();
        double u2 = uniformDouble();
        double r = Math.sqrt(-2.0 * Math.log(1.0 - u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * Math.sin(theta);
        hasCachedNormal = true;
        return r * Math.cos(theta);
    }

    /** Port of {@code normal_fill} (float, mean 0, std 1); requires {@code data.length >= 16}. */
    private void normalFill(float[] data) {
        int size = data.length;
        for (int i = 0; i < size; i++) {
            data[i] = uniformFloat();
        }
        for (int i = 0; i + 16 <= size; i += 16) {
            normalFill16(data, i);
        }
        if (size % 16 != 0) {
            int start = size - 16;
            for (int i = 0; i < 16; i++) {
                data[start + i] = uniformFloat();
            }
            normalFill16(data, start);
        }
    }

    /**
     * Port of {@code normal_fill_16_AVX2}: Box-Muller over elements {@code j} and {@code j + 8}, in float, with the
     * Cephes-derived {@code log256_ps} / {@code sincos256_ps} of {@code avx_mathfun.h} rather than libm.
     */
    private static void normalFill16(float[] data, int offset) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - data[offset + j];
            float u2 = data[offset + j + 8];
            float radius = (float) Math.sqrt(-2f * AvxMath.log(u1));
            float theta = AvxMath.TWO_PI * u2;
            data[offset + j] = radius * AvxMath.cos(theta);
            data[offset + j + 8] = radius * AvxMath.sin(theta);
        }
    }
}
