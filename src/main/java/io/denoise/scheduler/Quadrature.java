package io.denoise.scheduler;

import java.util.function.DoubleUnaryOperator;

/**
 * Adaptive Gauss-Kronrod quadrature (7-point Gauss, 15-point Kronrod), the rule family behind QUADPACK's
 * {@code qags} that {@code scipy.integrate.quad} calls. It is exact for polynomials up to degree 22 on the first
 * interval, which covers the Lagrange basis polynomials of LMS coefficients, and bisects otherwise.
 *
 * <p>Stateless and thread-safe.
 */
final class Quadrature {

    private static final double[] KRONROD_NODES = {
        0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
        0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
        0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
        0.207784955007898467600689403773245, 0.000000000000000000000000000000000,
    };
    private static final double[] KRONROD_WEIGHTS = {
        0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
        0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
        0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
        0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
    };
    /** Gauss weights of the nodes at odd positions of {@link #KRONROD_NODES} (and the centre). */
    private static final double[] GAUSS_WEIGHTS = {
        0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
        0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
    };
    private static final int MAX_DEPTH = 50;

    private Quadrature() {
    }

    /**
     * Integral of {@code f} from {@code a} to {@code b} (either order), to relative tolerance {@code relTol}.
     */
    static double integrate(DoubleUnaryOperator f, double a, double b, double relTol) {
        return adaptive(f, a, b, relTol, 0);
    }

    private static double adaptive(DoubleUnaryOperator f, double a, double b, double relTol, int depth) {
        double centre = 0.5 * (a + b);
        double halfLength = 0.5 * (b - a);
        double fc = f.applyAsDouble(centre);
        double kronrod = fc * KRONROD_WEIGHTS[7];
        double gauss = fc * GAUSS_WEIGHTS[3];
        for (int j = 0; j < 7; j++) {
            double dx = halfLength * KRONROD_NODES[j];
            double sum = f.applyAsDouble(centre - dx) + f.applyAsDouble(centre + dx);
            kronrod += KRONROD_WEIGHTS[j] * sum;
            if (j % 2 == 1) {
                gauss += GAUSS_WEIGHTS[j / 2] * sum;
            }
        }
        kronrod *= halfLength;
        gauss *= halfLength;
        double error = Math.abs(kronrod - gauss);
        if (error <= Math.max(relTol * Math.abs(kronrod), 1e-300) || depth >= MAX_DEPTH) {
            return kronrod;
        }
        return adaptive(f, a, centre, relTol, depth + 1) + adaptive(f, centre, b, relTol, depth + 1);
    }
}
