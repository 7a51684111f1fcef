package io.denoise.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.denoise.images.ImageProbe;
import io.denoise.jobs.JobParameters;
import io.denoise.jobs.ModelCard;
import io.denoise.jobs.ModelRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.lang.reflect.RecordComponent;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Turns a {@code POST /v1/jobs} body into validated, defaulted job parameters. Every field is checked against the
 * requested model's card and the API's own limits; the first broken rule becomes a 400 naming the field. Every
 * rule is checked here, before anything is stored, so a refused request leaves nothing behind.
 * Thread-safe.
 */
@ApplicationScoped
public class JobRequestValidator {

    /** The request's fields: the components of the record the OpenAPI document describes. */
    static final Set<String> FIELDS = Arrays.stream(JobSubmission.class.getRecordComponents())
            .map(RecordComponent::getName).collect(Collectors.toUnmodifiableSet());
    static final Set<String> PREVIEWS = Set.of("none", "approx", "full");
    static final BigInteger MAX_SEED = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    static final double MAX_GUIDANCE = 50.0;
    static final double DEFAULT_STRENGTH = 0.75;

    /** A request that passed every rule; {@code initImage} is the decoded upload or null. */
    public record ValidatedJob(String model, JobParameters parameters, byte[] initImage) {
    }

    @Inject
    ModelRegistry models;

    @Inject
    ApiConfig config;

    private final SecureRandom random = new SecureRandom();

    public ValidatedJob validate(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw new InvalidFieldException("body", "must be a JSON object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> fields = body.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            String name = field.getKey();
            if (!FIELDS.contains(name)) {
                throw new InvalidFieldException(printable(name), "is not a known field; known fields are "
                        + new TreeSet<>(FIELDS));
            }
            if (field.getValue().isTextual()) {
                checkCharacters(name, field.getValue().textValue());
            }
        }
        String modelName = text(body, "model", config.defaultModel());
        ModelCard model = models.find(modelName).orElseThrow(() -> new InvalidFieldException("model",
                "unknown model '" + modelName + "'; available: " + models.all().keySet()));
        ModelCard.Defaults d = model.defaults();
        ModelCard.Limits l = model.limits();

        String prompt = text(body, "prompt", null);
        if (prompt == null || prompt.isBlank()) {
            throw new InvalidFieldException("prompt", "is required and must not be blank");
        }
        checkLength("prompt", prompt);
        String negative = text(body, "negativePrompt", "");
        checkLength("negativePrompt", negative);
        int width = integer(body, "width", d.width());
        checkSize("width", width, l.minWidth(), l.maxWidth());
        int height = integer(body, "height", d.height());
        checkSize("height", height, l.minHeight(), l.maxHeight());
        int steps = integer(body, "numInferenceSteps", d.numInferenceSteps());
        if (steps < 1 || steps > l.maxSteps()) {
            throw new InvalidFieldException("numInferenceSteps", "must be between 1 and " + l.maxSteps());
        }
        double guidance = number(body, "guidanceScale", d.guidanceScale());
        if (!Double.isFinite(guidance) || guidance < 0 || guidance > MAX_GUIDANCE) {
            throw new InvalidFieldException("guidanceScale", "must be a number between 0 and " + MAX_GUIDANCE
                    + " (at most 1 disables classifier-free guidance)");
        }
        String scheduler = text(body, "scheduler", d.scheduler());
        if (!model.schedulers().contains(scheduler)) {
            throw new InvalidFieldException("scheduler", "must be one of " + model.schedulers());
        }
        BigInteger seed = seed(body);
        int numImages = integer(body, "numImages", 1);
        if (numImages < 1 || numImages > l.maxImages()) {
            throw new InvalidFieldException("numImages", "must be between 1 and " + l.maxImages());
        }
        byte[] initImage = initImage(body, model);
        Double strength = null;
        if (body.has("strength")) {
            if (initImage == null) {
                throw new InvalidFieldException("strength", "applies only with initImage");
            }
            strength = number(body, "strength", DEFAULT_STRENGTH);
        } else if (initImage != null) {
            strength = DEFAULT_STRENGTH;
        }
        if (strength != null && (!(strength > 0 && strength <= 1) || (int) (steps * strength) < 1)) {
            throw new InvalidFieldException("strength", "must be in (0, 1] and leave at least one of the "
                    + steps + " steps");
        }
        double eta = number(body, "eta", 0.0);
        if (!(eta >= 0 && eta <= 1)) {
            throw new InvalidFieldException("eta", "must be between 0 and 1");
        }
        String preview = text(body, "preview", "none");
        if (!PREVIEWS.contains(preview)) {
            throw new InvalidFieldException("preview", "must be one of " + new TreeSet<>(PREVIEWS));
        }
        int previewEvery = integer(body, "previewEvery", 1);
        if (previewEvery < 1 || previewEvery > steps) {
            throw new InvalidFieldException("previewEvery", "must be between 1 and numInferenceSteps (" + steps + ")");
        }
        JobParameters params = new JobParameters(prompt, negative, width, height, steps, guidance, scheduler, seed,
                numImages, null, strength, eta, preview, previewEvery);
        return new ValidatedJob(modelName, params, initImage);
    }

    private BigInteger seed(JsonNode body) {
        JsonNode node = body.get("seed");
        if (node == null || node.isNull()) {
            return new BigInteger(64, random);
        }
        BigInteger seed;
        if (node.isIntegralNumber()) {
            seed = node.bigIntegerValue();
        } else if (node.isTextual() && node.asText().matches("[0-9]{1,20}")) {
            seed = new BigInteger(node.asText());
        } else {
            throw new InvalidFieldException("seed", "must be an integer between 0 and " + MAX_SEED);
        }
        if (seed.signum() < 0 || seed.compareTo(MAX_SEED) > 0) {
            throw new InvalidFieldException("seed", "must be an integer between 0 and " + MAX_SEED);
        }
        return seed;
    }

    private byte[] initImage(JsonNode body, ModelCard model) {
        JsonNode node = body.get("initImage");
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isTextual()) {
            throw new InvalidFieldException("initImage", "must be a base64 string (or a data: URL) of a PNG or JPEG");
        }
        if (!model.imageToImage()) {
            throw new InvalidFieldException("initImage", "model '" + model.name() + "' does not do image-to-image");
        }
        String text = node.textValue();
        int start = 0;
        if (text.startsWith("data:")) {
            int comma = text.indexOf(',');
            if (comma < 0 || !text.startsWith(";base64", comma - ";base64".length())) {
                throw new InvalidFieldException("initImage", "data: URL must be base64-encoded");
            }
            start = comma + 1;
        }
        long maxEncoded = 4L * ((config.maxInitImageBytes() + 2) / 3) + 4;
        if (text.length() - start > maxEncoded) {
            throw new InvalidFieldException("initImage", "is larger than " + config.maxInitImageBytes() + " bytes");
        }
        byte[] bytes;
        try {
            bytes = Base64Text.decode(text, start);
        } catch (IllegalArgumentException e) {
            throw new InvalidFieldException("initImage", "is not valid base64");
        }
        try {
            ImageProbe.probe(bytes, config.maxInitImageBytes(), config.maxInitImagePixels());
        } catch (ImageProbe.RejectedImageException e) {
            throw new InvalidFieldException("initImage", e.getMessage());
        }
        return bytes;
    }

    /**
     * Text fields take any Unicode text but control characters (other than tab, line feed and carriage return) and
     * unpaired surrogates: neither is text, and PostgreSQL's jsonb refuses {@code \u0000}.
     */
    static void checkCharacters(String field, String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isISOControl(c) && c != '\t' && c != '\n' && c != '\r') {
                throw new InvalidFieldException(field, String.format(Locale.ROOT,
                        "must not contain control characters (U+%04X at index %d)", (int) c, i));
            }
            if (Character.isHighSurrogate(c) && i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new InvalidFieldException(field, String.format(Locale.ROOT,
                        "is not valid Unicode (unpaired surrogate U+%04X at index %d)", (int) c, i));
            }
        }
    }

    /** A name from the request as it can be echoed: control characters and lone surrogates as {@code \}{@code uXXXX}. */
    static String printable(String name) {
        StringBuilder out = new StringBuilder(Math.min(name.length(), 100));
        for (int i = 0; i < name.length() && out.length() < 100; i++) {
            char c = name.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < name.length() && Character.isLowSurrogate(name.charAt(i + 1));
            if (pair) {
                out.append(c).append(name.charAt(++i));
            } else if (Character.isISOControl(c) || Character.isSurrogate(c)) {
                out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private void checkLength(String field, String value) {
        if (value.length() > config.maxPromptLength()) {
            throw new InvalidFieldException(field, "must be at most " + config.maxPromptLength() + " characters");
        }
    }

    private static void checkSize(String field, int value, int min, int max) {
        if (value % 8 != 0 || value < min || value > max) {
            throw new InvalidFieldException(field, "must be a multiple of 8 between " + min + " and " + max);
        }
    }

    private static String text(JsonNode body, String field, String fallback) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isTextual()) {
            throw new InvalidFieldException(field, "must be a string");
        }
        return node.asText();
    }

    private static int integer(JsonNode body, String field, int fallback) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw new InvalidFieldException(field, "must be an integer");
        }
        return node.intValue();
    }

    private static double number(JsonNode body, String field, double fallback) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isNumber()) {
            throw new InvalidFieldException(field, "must be a number");
        }
        return node.doubleValue();
    }
}
