package io.denoise.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.denoise.images.ImageProbe;
import io.denoise.jobs.JobStore;
import io.denoise.jobs.LimitsConfig;
import io.denoise.jobs.ModelCard;
import io.denoise.jobs.ModelRegistry;
import io.denoise.jobs.Priority;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.recipe.RequestReader;
import io.denoise.webhooks.WebhookConfig;
import io.denoise.webhooks.WebhookTarget;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.lang.reflect.RecordComponent;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Turns a {@code POST /v1/jobs} body into a validated, defaulted request. The checks that belong to the API are
 * here: the body's shape (a JSON object of known fields, text without control characters), the model's name and
 * the upload (base64, a PNG or JPEG within the configured limits); the request's own rules are
 * {@link io.denoise.recipe.RequestRules}'. The first broken rule becomes a 400 naming the field, before anything
 * is stored, so a refused request leaves nothing behind.
 * Thread-safe.
 */
@ApplicationScoped
public class JobRequestValidator {

    /** The request's fields: the components of the record the OpenAPI document describes. */
    static final Set<String> FIELDS = Arrays.stream(JobSubmission.class.getRecordComponents())
            .map(RecordComponent::getName).collect(Collectors.toUnmodifiableSet());

    /** A request that passed every rule; {@code initImage} is the decoded upload or null. */
    public record ValidatedJob(String model, GenerationRequest request, byte[] initImage, JobStore.Handling handling) {
    }

    @Inject
    ModelRegistry models;

    @Inject
    ApiConfig config;

    @Inject
    LimitsConfig limits;

    @Inject
    WebhookConfig webhooks;

    private final SecureRandom random = new SecureRandom();

    /**
     * @param initImageKey where the init image will be stored, should the request carry one
     * @param maxPriority  the highest priority the caller's key allows
     */
    public ValidatedJob validate(JsonNode body, String initImageKey, Priority maxPriority) {
        checkShape(body);
        ModelCard model = model(body);
        byte[] initImage = initImage(body, model);
        GenerationRequest request = request(body, model, initImage == null ? null : initImageKey);
        return new ValidatedJob(model.name(), request, initImage, handling(body, maxPriority));
    }

    /** The body's {@code priority} (default normal, at most {@code maxPriority}) and {@link #webhook}. */
    JobStore.Handling handling(JsonNode body, Priority maxPriority) {
        JsonNode node = body.get("priority");
        Priority priority = Priority.NORMAL;
        if (node != null && !node.isNull()) {
            priority = Priority.parse(node.isTextual() ? node.textValue() : "").orElseThrow(() ->
                    new InvalidRequestException("priority", "must be low, normal or high"));
            if (priority.rank() > maxPriority.rank()) {
                throw new InvalidRequestException("priority", "may be at most " + maxPriority.id() + " with this API key");
            }
        }
        return new JobStore.Handling(priority, webhook(body));
    }

    /**
     * The body's {@code webhook} and {@code webhookEvents} (default, or empty: {@code ["completed"]}), or null for none: the URL's
     * form and scheme, and every address its host resolves to, must be allowed ({@link WebhookTarget}).
     */
    JobStore.Webhook webhook(JsonNode body) {
        JsonNode url = body.get("webhook");
        JsonNode events = body.get("webhookEvents");
        if (events != null && events.isArray() && events.isEmpty()) {
            events = null; // as generated clients send a list field they were not given: the default
        }
        if (url == null || url.isNull()) {
            if (events != null && !events.isNull()) {
                throw new InvalidRequestException("webhookEvents", "needs a webhook to post them to");
            }
            return null;
        }
        if (!url.isTextual()) {
            throw new InvalidRequestException("webhook", "must be a string: the URL to post the job's events to");
        }
        try {
            WebhookTarget.checkAddresses(WebhookTarget.parse(url.textValue(), webhooks), webhooks);
        } catch (WebhookTarget.RefusedTargetException e) {
            throw new InvalidRequestException("webhook", e.getMessage());
        }
        if (events == null || events.isNull()) {
            return new JobStore.Webhook(url.textValue(), List.of("completed"));
        }
        String rule = "must be an array of " + String.join(", ", JobStore.Webhook.EVENTS);
        if (!events.isArray()) {
            throw new InvalidRequestException("webhookEvents", rule);
        }
        Set<String> wanted = new HashSet<>();
        for (JsonNode event : events) {
            if (!event.isTextual() || !JobStore.Webhook.EVENTS.contains(event.textValue())) {
                throw new InvalidRequestException("webhookEvents", rule + "; " + event + " is not one");
            }
            wanted.add(event.textValue());
        }
        return new JobStore.Webhook(url.textValue(), JobStore.Webhook.EVENTS.stream().filter(wanted::contains).toList());
    }

    /** The body is a JSON object of known fields whose text holds no control characters. */
    void checkShape(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw new InvalidRequestException("body", "must be a JSON object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> fields = body.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            String name = field.getKey();
            if (!FIELDS.contains(name)) {
                throw new InvalidRequestException(printable(name), "is not a known field; known fields are "
                        + new TreeSet<>(FIELDS));
            }
            if (field.getValue().isTextual()) {
                checkCharacters(name, field.getValue().textValue());
            }
        }
    }

    /** The card of the model the body names (or the default model). */
    ModelCard model(JsonNode body) {
        JsonNode modelNode = body.get("model");
        if (modelNode != null && !modelNode.isNull() && !modelNode.isTextual()) {
            throw new InvalidRequestException("model", "must be a string");
        }
        String modelName = modelNode == null || modelNode.isNull() ? config.defaultModel() : modelNode.textValue();
        return models.find(modelName).orElseThrow(() -> new InvalidRequestException("model",
                "unknown model '" + modelName + "'; available: " + models.all().keySet()));
    }

    /** The request the body asks of the model, with its defaults; a body without a seed gets a random one. */
    GenerationRequest request(JsonNode body, ModelCard model, String initImageKey) {
        return RequestReader.read(body, model.profile(), limits.toLimits(), initImageKey, () -> new BigInteger(64, random));
    }

    /** The decoded upload of the body's {@code initImage}, checked against the limits, or null. */
    byte[] initImage(JsonNode body, ModelCard model) {
        JsonNode node = body.get("initImage");
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isTextual()) {
            throw new InvalidRequestException("initImage", "must be a base64 string (or a data: URL) of a PNG or JPEG");
        }
        String text = node.textValue();
        int start = 0;
        if (text.startsWith("data:")) {
            int comma = text.indexOf(',');
            if (comma < 0 || !text.startsWith(";base64", comma - ";base64".length())) {
                throw new InvalidRequestException("initImage", "data: URL must be base64-encoded");
            }
            start = comma + 1;
        }
        long maxEncoded = 4L * ((limits.maxInitImageBytes() + 2) / 3) + 4;
        if (text.length() - start > maxEncoded) {
            throw new InvalidRequestException("initImage", "is larger than " + limits.maxInitImageBytes() + " bytes");
        }
        byte[] bytes;
        try {
            bytes = Base64Text.decode(text, start);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException("initImage", "is not valid base64");
        }
        try {
            ImageProbe.probe(bytes, limits.maxInitImageBytes(), limits.maxInitImagePixels());
        } catch (ImageProbe.RejectedImageException e) {
            throw new InvalidRequestException("initImage", e.getMessage());
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
                throw new InvalidRequestException(field, String.format(Locale.ROOT,
                        "must not contain control characters (U+%04X at index %d)", (int) c, i));
            }
            if (Character.isHighSurrogate(c) && i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new InvalidRequestException(field, String.format(Locale.ROOT,
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

}
