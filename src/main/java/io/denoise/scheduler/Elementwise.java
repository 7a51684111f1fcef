package io.denoise.scheduler;

/**
 * Element-wise helpers over flat float arrays. Every method reads all inputs at an index before writing that index,
 * so the output may alias any input. Arithmetic is done in double and rounded once to float.
 *
 * <p>Stateless and thread-safe.
 */
final class Elementwise {

    private Elementwise() {
    }

    /** {@code out = a * x + b * y}. */
    static void combine(float[] out, double a, float[] x, double b, float[] y) {
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (a * x[i] + b * y[i]);
        }
    }

    /** {@code out = a * x + b * y + c * z}. */
    static void combine(float[] out, double a, float[] x, double b, float[] y, double c, float[] z) {
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (a * x[i] + b * y[i] + c * z[i]);
        }
    }

    /** {@code out = sum_k coefficients[k] * terms[k]}. */
    static void combine(float[] out, double[] coefficients, float[][] terms) {
        if (coefficients.length != terms.length) {
            throw new IllegalArgumentException(coefficients.length + " coefficients for " + terms.length + " terms");
        }
        for (int i = 0; i < out.length; i++) {
            double sum = 0;
            for (int k = 0; k < terms.length; k++) {
                sum += coefficients[k] * terms[k][i];
            }
            out[i] = (float) sum;
        }
    }

    /** Copies {@code from} into {@code to} unless they are the same array. */
    static void copy(float[] from, float[] to) {
        if (from != to) {
            System.arraycopy(from, 0, to, 0, from.length);
        }
    }

    /** Returns {@code buffer} if it has length {@code n}, else a new array of that length. */
    static float[] ensure(float[] buffer, int n) {
        return buffer != null && buffer.length == n ? buffer : new float[n];
    }

    /** Throws unless every array has the length of the first. */
    static void requireSameLength(float[]... arrays) {
        for (float[] a : arrays) {
            if (a.length != arrays[0].length) {
                throw new IllegalArgumentException(
                        "array lengths differ: " + a.length + " vs " + arrays[0].length);
            }
        }
    }
}
