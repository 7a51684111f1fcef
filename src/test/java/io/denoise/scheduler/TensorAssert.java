package io.denoise.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Tensor comparison with the reference tolerance {@code |actual - expected| <= 1e-5 * max|expected|}. */
final class TensorAssert {

    static final double RELATIVE_TOLERANCE = 1e-5;

    private TensorAssert() {
    }

    static void assertClose(String what, float[] expected, float[] actual) {
        double[] e = new double[expected.length];
        double[] a = new double[actual.length];
        for (int i = 0; i < e.length; i++) {
            e[i] = expected[i];
        }
        for (int i = 0; i < a.length; i++) {
            a[i] = actual[i];
        }
        assertClose(what, e, a, RELATIVE_TOLERANCE);
    }

    static void assertClose(String what, double[] expected, double[] actual) {
        assertClose(what, expected, actual, RELATIVE_TOLERANCE);
    }

    /** Fails unless {@code |actual[i] - expected[i]| <= relTol * max|expected|} for every {@code i}. */
    static void assertClose(String what, double[] expected, double[] actual, double relTol) {
        assertEquals(expected.length, actual.length, what + ": length");
        double max = 0;
        for (double v : expected) {
            max = Math.max(max, Math.abs(v));
        }
        double tolerance = relTol * max;
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs(actual[i] - expected[i]);
            if (!(diff <= tolerance)) {
                fail(String.format("%s: element %d is %s, expected %s (|diff| %.3g > tolerance %.3g)",
                        what, i, actual[i], expected[i], diff, tolerance));
            }
        }
    }

    static void assertClose(String what, double expected, double actual) {
        assertClose(what, new double[] {expected}, new double[] {actual});
    }
}
