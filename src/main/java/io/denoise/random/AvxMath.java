package io.denoise.random;

/**
 * Scalar, bit-exact port of the single-precision {@code log256_ps} and {@code sincos256_ps} routines of PyTorch's
 * {@code aten/src/ATen/native/cpu/avx_mathfun.h} (Cephes polynomials, after Julien Pommier's {@code sse_mathfun}),
 * as PyTorch's x86-64 build compiles them: every multiply that feeds an add is contracted into a fused
 * multiply-add, which {@link Math#fma(float, float, float)} reproduces. Used by {@link TorchGenerator}.
 *
 * <p>Stateless and thread-safe.
 */
final class AvxMath {

    /** {@code _mm256_set1_ps(2.0f * c10::pi<double>)}. */
    static final float TWO_PI = (float) (2.0 * Math.PI);

    private static final float SQRT_HALF = 0.707106781186547524f;
    private static final float[] LOG_P = {
        7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f, -1.2420140846E-1f, 1.4249322787E-1f,
        -1.6668057665E-1f, 2.0000714765E-1f, -2.4999993993E-1f, 3.3333331174E-1f,
    };
    private static final float LOG_Q1 = -2.12194440e-4f;
    private static final float LOG_Q2 = 0.693359375f;
    private static final float FOUR_OVER_PI = 1.27323954473516f;
    private static final float MINUS_DP1 = -0.78515625f;
    private static final float MINUS_DP2 = -2.4187564849853515625e-4f;
    private static final float MINUS_DP3 = -3.77489497744594108e-8f;
    private static final float SINCOF_P0 = -1.9515295891E-4f;
    private static final float SINCOF_P1 = 8.3321608736E-3f;
    private static final float SINCOF_P2 = -1.6666654611E-1f;
    private static final float COSCOF_P0 = 2.443315711809948E-005f;
    private static final float COSCOF_P1 = -1.388731625493765E-003f;
    private static final float COSCOF_P2 = 4.166664568298827E-002f;

    private AvxMath() {
    }

    /** Natural logarithm, port of {@code log256_ps} for one lane (NaN for non-positive input). */
    static float log(float input) {
        boolean invalid = input <= 0f;
        float x = Math.max(input, Float.MIN_NORMAL);
        int exponent = (Float.floatToRawIntBits(x) >>> 23) - 0x7f;
        x = Float.intBitsToFloat((Float.floatToRawIntBits(x) & ~0x7f800000) | Float.floatToRawIntBits(0.5f));
        float e = exponent + 1f;
        boolean below = x < SQRT_HALF;
        float tmp = below ? x : 0f;
        x = x - 1f;
        if (below) {
            e = e - 1f;
        }
        x = x + tmp;

        float z = x * x;
        float y = LOG_P[0];
        for (int k = 1; k < LOG_P.length; k++) {
            y = Math.fma(y, x, LOG_P[k]);
        }
        y = y * x;
        y = Math.fma(y, z, e * LOG_Q1);
        y = Math.fma(-z, 0.5f, y);
        x = x + y;
        x = Math.fma(e, LOG_Q2, x);
        return invalid ? Float.NaN : x;
    }

    /** Sine, the {@code *s} output of {@code sincos256_ps} for one lane. */
    static float sin(float theta) {
        return sinCos(theta, true);
    }

    /** Cosine, the {@code *c} output of {@code sincos256_ps} for one lane. */
    static float cos(float theta) {
        return sinCos(theta, false);
    }

    private static float sinCos(float theta, boolean wantSine) {
        int bits = Float.floatToRawIntBits(theta);
        int signSin = bits & 0x80000000;
        float x = Float.intBitsToFloat(bits & 0x7fffffff);

        int j = (int) (x * FOUR_OVER_PI);
        j = (j + 1) & ~1;
        float y = j;
        signSin ^= (j & 4) << 29;
        int signCos = (~(j - 2) & 4) << 29;
        boolean sinePolynomialForSine = (j & 2) == 0;

        x = Math.fma(y, MINUS_DP1, x);
        x = Math.fma(y, MINUS_DP2, x);
        x = Math.fma(y, MINUS_DP3, x);

        float z = x * x;
        float cosPoly = Math.fma(COSCOF_P0, z, COSCOF_P1);
        cosPoly = Math.fma(cosPoly, z, COSCOF_P2);
        cosPoly = cosPoly * z;
        cosPoly = Math.fma(cosPoly, z, -(z * 0.5f));
        cosPoly = cosPoly + 1f;

        float sinPoly = Math.fma(SINCOF_P0, z, SINCOF_P1);
        sinPoly = Math.fma(sinPoly, z, SINCOF_P2);
        sinPoly = sinPoly * z;
        sinPoly = Math.fma(sinPoly, x, x);

        if (wantSine) {
            float s = sinePolynomialForSine ? sinPoly : cosPoly;
            return Float.intBitsToFloat(Float.floatToRawIntBits(s) ^ signSin);
        }
        float c = sinePolynomialForSine ? cosPoly : sinPoly;
        return Float.intBitsToFloat(Float.floatToRawIntBits(c) ^ signCos);
    }
}
