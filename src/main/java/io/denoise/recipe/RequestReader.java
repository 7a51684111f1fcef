package io.denoise.recipe;

import com.fasterxml.jackson.databind.JsonNode;

import java.math.BigInteger;
import java.util.function.Supplier;

/**
 * Reads a request from its JSON form (the body of {@code POST /v1/jobs}, a sweep's base recipe with one field
 * replaced, the command line's options): each field's JSON type is checked, a field left out or null gets the
 * model's default, and the result must meet {@link RequestRules}. The init image is not read here: it is an upload
 * for the API and a file for the command line, so the caller passes where it will be. Stateless.
 */
public final class RequestReader {

    private RequestReader() {
    }

    /**
     * @param initImage  where the request's init image is (null for text-to-image)
     * @param randomSeed the seed of a request that names none
     * @throws InvalidRequestException naming the first field of the wrong type or breaking a rule
     */
    public static GenerationRequest read(JsonNode body, ModelProfile model, ServiceLimits service, String initImage,
                                         Supplier<BigInteger> randomSeed) {
        ModelProfile.Defaults d = model.defaults();
        GenerationRequest r = new GenerationRequest.Builder(d)
                .prompt(text(body, "prompt", null))
                .negativePrompt(text(body, "negativePrompt", ""))
                .width(integer(body, "width", d.width()))
                .height(integer(body, "height", d.height()))
                .numInferenceSteps(integer(body, "numInferenceSteps", d.numInferenceSteps()))
                .guidanceScale(number(body, "guidanceScale", d.guidanceScale()))
                .scheduler(text(body, "scheduler", d.scheduler()))
                .seed(seed(body, randomSeed))
                .numImages(integer(body, "numImages", 1))
                .initImage(initImage)
                .strength(body.hasNonNull("strength") ? number(body, "strength", 0) : null)
                .eta(number(body, "eta", 0.0))
                .preview(text(body, "preview", GenerationRequest.PreviewMode.NONE.id()))
                .previewEvery(integer(body, "previewEvery", 1))
                .build();
        RequestRules.check(r, model, service);
        return r;
    }

    /** An unsigned 64-bit seed, as a JSON integer or a string of digits (JavaScript cannot hold 64 bits). */
    static BigInteger seed(JsonNode body, Supplier<BigInteger> randomSeed) {
        JsonNode node = body.get("seed");
        if (node == null || node.isNull()) {
            return randomSeed.get();
        }
        if (node.isIntegralNumber()) {
            return node.bigIntegerValue();
        }
        if (node.isTextual() && node.asText().matches("[0-9]{1,20}")) {
            return new BigInteger(node.asText());
        }
        throw new InvalidRequestException("seed", "must be an integer between 0 and " + RequestRules.MAX_SEED);
    }

    static String text(JsonNode body, String field, String fallback) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isTextual()) {
            throw new InvalidRequestException(field, "must be a string");
        }
        return node.asText();
    }

    static int integer(JsonNode body, String field, int fallback) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw new InvalidRequestException(field, "must be an integer");
        }
        return node.intValue();
    }

    static double number(JsonNode body, String field, double fallback) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isNumber()) {
            throw new InvalidRequestException(field, "must be a number");
        }
        return node.doubleValue();
    }
}
