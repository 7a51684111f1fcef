package io.denoise.recipe;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.List;

/**
 * Every rule a generation request must meet, in one place: the API checks a request with them before it stores
 * anything, the worker (through the pipeline) before it runs one, the command line before it loads a session.
 * The first broken rule is thrown as an {@link InvalidRequestException} naming the field. Stateless.
 */
public final class RequestRules {

    /** The largest seed: seeds are unsigned 64-bit integers. */
    public static final BigInteger MAX_SEED = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    /** The largest guidance scale; past it images are noise. */
    public static final double MAX_GUIDANCE = 50.0;
    /** The preview modes' names. */
    public static final List<String> PREVIEWS = Arrays.stream(GenerationRequest.PreviewMode.values())
            .map(GenerationRequest.PreviewMode::id).toList();

    private RequestRules() {
    }

    /**
     * Checks a request against a model and the deployment.
     *
     * @throws InvalidRequestException naming the first field that breaks a rule
     */
    public static void check(GenerationRequest r, ModelProfile model, ServiceLimits service) {
        ModelProfile.Limits l = model.limits();
        if (r.prompt() == null || r.prompt().isBlank()) {
            throw new InvalidRequestException("prompt", "is required and must not be blank");
        }
        checkLength("prompt", r.prompt(), service);
        if (r.negativePrompt() == null) {
            throw new InvalidRequestException("negativePrompt", "must not be null (use \"\" for none)");
        }
        checkLength("negativePrompt", r.negativePrompt(), service);
        checkSize("width", r.width(), l.sizeMultiple(), l.minWidth(), l.maxWidth());
        checkSize("height", r.height(), l.sizeMultiple(), l.minHeight(), l.maxHeight());
        int steps = r.numInferenceSteps();
        if (steps < 1 || steps > l.maxSteps()) {
            throw new InvalidRequestException("numInferenceSteps", "must be between 1 and " + l.maxSteps());
        }
        if (!(r.guidanceScale() >= 0 && r.guidanceScale() <= MAX_GUIDANCE)) {
            throw new InvalidRequestException("guidanceScale", "must be a number between 0 and " + MAX_GUIDANCE
                    + " (at most 1 disables classifier-free guidance)");
        }
        if (!model.schedulers().contains(r.scheduler())) {
            throw new InvalidRequestException("scheduler", "must be one of " + model.schedulers());
        }
        if (r.seed() == null || r.seed().signum() < 0 || r.seed().compareTo(MAX_SEED) > 0) {
            throw new InvalidRequestException("seed", "must be an integer between 0 and " + MAX_SEED);
        }
        if (r.numImages() < 1 || r.numImages() > l.maxImages()) {
            throw new InvalidRequestException("numImages", "must be between 1 and " + l.maxImages());
        }
        if (r.initImage() != null && !model.imageToImage()) {
            throw new InvalidRequestException("initImage", "model '" + model.name() + "' does not do image-to-image"
                    + " (it has no vae_encoder)");
        }
        if (r.strength() != null) {
            if (r.initImage() == null) {
                throw new InvalidRequestException("strength", "applies only with initImage");
            }
            if (!(r.strength() > 0 && r.strength() <= 1) || (int) (steps * r.strength()) < 1) {
                throw new InvalidRequestException("strength", "must be in (0, 1] and leave at least one of the "
                        + steps + " steps");
            }
        }
        if (!(r.eta() >= 0 && r.eta() <= 1)) {
            throw new InvalidRequestException("eta", "must be between 0 and 1");
        }
        if (!PREVIEWS.contains(r.preview())) {
            throw new InvalidRequestException("preview", "must be one of " + PREVIEWS);
        }
        if (r.previewEvery() < 1 || r.previewEvery() > steps) {
            throw new InvalidRequestException("previewEvery", "must be between 1 and numInferenceSteps (" + steps + ")");
        }
    }

    private static void checkLength(String field, String value, ServiceLimits service) {
        if (value.length() > service.maxPromptLength()) {
            throw new InvalidRequestException(field, "must be at most " + service.maxPromptLength() + " characters");
        }
    }

    private static void checkSize(String field, int value, int multiple, int min, int max) {
        if (value % multiple != 0 || value < min || value > max) {
            throw new InvalidRequestException(field, "must be a multiple of " + multiple + " between " + min + " and " + max);
        }
    }
}
