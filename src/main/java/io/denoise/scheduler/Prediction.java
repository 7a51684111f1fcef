package io.denoise.scheduler;

import io.denoise.scheduler.SchedulerConfig.PredictionType;

/**
 * Conversion of a model output to the predicted clean sample {@code x0} or the predicted noise, for every
 * {@code prediction_type}. Written for a variance-preserving sample {@code x = alpha * x0 + sigma * noise} with
 * {@code alpha^2 + sigma^2 = 1}; diffusers spells the same formulas per scheduler (for example
 * {@code DDIMScheduler.step} step 3, {@code DPMSolverMultistepScheduler.convert_model_output}, and the
 * {@code c_skip}/{@code c_out} form of {@code EulerDiscreteScheduler.step}). A conversion is the pair
 * {@code (sampleCoeff, modelCoeff)} with {@code result = sampleCoeff * x + modelCoeff * modelOutput}.
 *
 * <p>Stateless and thread-safe.
 */
final class Prediction {

    private Prediction() {
    }

    /** Coefficients of {@code x0} from a VP sample: epsilon {@code (x - sigma m) / alpha}, v {@code alpha x - sigma m}. */
    static double[] x0(PredictionType type, double alpha, double sigma) {
        return switch (type) {
            case EPSILON -> new double[] {1 / alpha, -sigma / alpha};
            case V_PREDICTION -> new double[] {alpha, -sigma};
            case SAMPLE -> new double[] {0, 1};
        };
    }

    /** Coefficients of the noise from a VP sample: v {@code alpha m + sigma x}, sample {@code (x - alpha m) / sigma}. */
    static double[] epsilon(PredictionType type, double alpha, double sigma) {
        return switch (type) {
            case EPSILON -> new double[] {0, 1};
            case V_PREDICTION -> new double[] {sigma, alpha};
            case SAMPLE -> new double[] {1 / sigma, -alpha / sigma};
        };
    }

    /**
     * Coefficients of {@code x0} from a k-diffusion sample {@code x = x0 + sigma * noise} (so {@code x / sqrt(sigma^2
     * + 1)} is the VP sample): epsilon {@code x - sigma m}, v {@code x / (sigma^2 + 1) - sigma / sqrt(sigma^2 + 1) m}.
     */
    static double[] kDiffusionX0(PredictionType type, double sigma) {
        return switch (type) {
            case EPSILON -> new double[] {1, -sigma};
            case V_PREDICTION -> new double[] {1 / (sigma * sigma + 1), -sigma / Math.sqrt(sigma * sigma + 1)};
            case SAMPLE -> new double[] {0, 1};
        };
    }

    /**
     * Coefficients of the k-diffusion ODE derivative {@code (x - x0) / sigma}, with {@code x0} from
     * {@link #kDiffusionX0} at the same sigma (diffusers' "convert to an ODE derivative" step).
     */
    static double[] kDiffusionDerivative(PredictionType type, double sigma) {
        double[] x0 = kDiffusionX0(type, sigma);
        return new double[] {(1 - x0[0]) / sigma, -x0[1] / sigma};
    }

    /** Throws unless {@code type} is one of {@code supported}, naming the scheduler. */
    static void require(PredictionType type, String scheduler, PredictionType... supported) {
        for (PredictionType s : supported) {
            if (s == type) {
                return;
            }
        }
        throw new IllegalArgumentException("prediction_type: " + type.configValue() + " is not supported by "
                + scheduler);
    }
}
