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
        switch (type) {
            case EPSILON:
                return new double[] {1 / alpha, -sigma / alpha};
            case V_PREDICTION:
                return new double[] {alpha, -sigma};
            case SAMPLE:
                return new double[] {0, 1};
            default:
                throw new IllegalArgumentException("prediction_type: unsupported " + type);
        }
    }

    /** Coefficients of the noise from a VP sample: v {@code alpha m + sigma x}, sample {@code (x - alpha m) / sigma}. */
    static double[] epsilon(PredictionType type, double alpha, double sigma) {
        switch (type) {
            case EPSILON:
                return new double[] {0, 1};
            case V_PREDICTION:
                return new double[] {sigma, alpha};
            case SAMPLE:
                return new double[] {1 / sigma, -alpha / sigma};
            default:
                throw new IllegalArgumentException("prediction_type: unsupported " + type);
        }
    }

    /**
     * Coefficients of {@code x0} from a k-diffusion sample {@code x = x0 + sigma * noise} (so {@code x / sqrt(sigma^2
     * + 1)} is the VP sample): epsilon {@code x - sigma m}, v {@code x / (sigma^2 + 1) - sigma / sqrt(sigma^2 + 1) m}.
     */
    static double[] kDiffusionX0(PredictionType type, double sigma) {
        double alpha = NoiseSchedules.vpAlpha(sigma);
        double[] vp = x0(type, alpha, NoiseSchedules.vpSigma(sigma));
        return new double[] {vp[0] * alpha, vp[1]};
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
