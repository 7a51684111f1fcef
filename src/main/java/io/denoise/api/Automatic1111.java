package io.denoise.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.recipe.RequestRules;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.zip.InflaterInputStream;

/**
 * The AUTOMATIC1111 web UI API's vocabulary and its translation into a {@code POST /v1/jobs} body, so its requests
 * go through the same validator, queue and workers. Every field of that API is either translated, accepted where
 * it has no effect (its neutral value, or a setting that changes nothing here), or refused: an unknown field with a
 * 400, a known one this service does not do (hires fix, face restoration, subseeds, inpainting, scripts, ...) with a
 * 501 naming it. Stateless and thread-safe.
 */
final class Automatic1111 {

    /** AUTOMATIC1111's sampler names and the schedulers they are here; "PLMS" is that API's older name for PNDM. */
    static final Map<String, String> SAMPLERS = samplers();
    private static final Map<String, String> SAMPLER_ALIASES = Map.of("PLMS", "pndm", "k_euler_a", "euler-ancestral",
            "k_euler", "euler", "k_lms", "lms", "k_heun", "heun", "k_dpmpp_2m", "dpmpp-2m");

    /** Translated fields: AUTOMATIC1111 name → {@code /v1} name (the batch and iteration counts make numImages). */
    private static final Map<String, String> TRANSLATED = Map.of("prompt", "prompt", "negative_prompt", "negativePrompt",
            "steps", "numInferenceSteps", "cfg_scale", "guidanceScale", "width", "width", "height", "height",
            "eta", "eta");

    /** Fields accepted with any value because they change nothing here (nothing is saved beside the job store). */
    static final Set<String> NO_EFFECT = Set.of("save_images", "do_not_save_samples", "do_not_save_grid",
            "override_settings_restore_afterwards", "sampler_index", "send_images", "force_task_id");

    /** Fields this service does not do, each accepted only with the value that does nothing. */
    static final Map<String, Predicate<JsonNode>> UNSUPPORTED = unsupported();

    private Automatic1111() {
    }

    private static Map<String, String> samplers() {
        Map<String, String> names = new LinkedHashMap<>();
        names.put("Euler a", "euler-ancestral");
        names.put("Euler", "euler");
        names.put("LMS", "lms");
        names.put("Heun", "heun");
        names.put("DPM++ 2M", "dpmpp-2m");
        names.put("DPM++ 2M Karras", "dpmpp-2m-karras");
        names.put("DDIM", "ddim");
        names.put("PNDM", "pndm");
        names.put("UniPC", "unipc");
        names.put("DDPM", "ddpm");
        return java.util.Collections.unmodifiableMap(names);
    }

    private static Map<String, Predicate<JsonNode>> unsupported() {
        Predicate<JsonNode> absent = n -> n.isNull();
        Predicate<JsonNode> isFalse = n -> n.isNull() || (n.isBoolean() && !n.booleanValue());
        Predicate<JsonNode> empty = n -> n.isNull() || ((n.isArray() || n.isObject()) && n.isEmpty())
                || (n.isTextual() && n.textValue().isEmpty());
        Predicate<JsonNode> minusOneOrZero = n -> n.isNull() || (n.isNumber() && (n.asDouble() == -1 || n.asDouble() == 0));
        Predicate<JsonNode> zero = n -> n.isNull() || (n.isNumber() && n.asDouble() == 0);
        Map<String, Predicate<JsonNode>> m = new LinkedHashMap<>();
        m.put("enable_hr", isFalse);
        m.put("restore_faces", isFalse);
        m.put("tiling", isFalse);
        m.put("subseed", minusOneOrZero);
        m.put("subseed_strength", zero);
        m.put("seed_resize_from_h", minusOneOrZero);
        m.put("seed_resize_from_w", minusOneOrZero);
        m.put("styles", empty);
        m.put("script_name", empty);
        m.put("script_args", empty);
        m.put("alwayson_scripts", empty);
        m.put("comments", empty);
        m.put("infotext", empty);
        m.put("refiner_checkpoint", empty);
        m.put("refiner_switch_at", zero);
        m.put("disable_extra_networks", isFalse);
        m.put("firstpass_image", empty);
        m.put("s_min_uncond", zero);
        m.put("s_churn", zero);
        m.put("s_tmax", n -> n.isNull() || (n.isNumber() && (n.asDouble() == 0 || Double.isInfinite(n.asDouble()))));
        m.put("s_tmin", zero);
        m.put("s_noise", n -> n.isNull() || (n.isNumber() && n.asDouble() == 1));
        for (String hr : new String[] {"hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x", "hr_resize_y",
                "hr_checkpoint_name", "hr_sampler_name", "hr_scheduler", "hr_prompt", "hr_negative_prompt",
                "hr_additional_modules", "firstphase_width", "firstphase_height"}) {
            m.put(hr, n -> true);
        }
        m.put("mask", absent);
        m.put("mask_blur", n -> true);
        m.put("mask_blur_x", n -> true);
        m.put("mask_blur_y", n -> true);
        m.put("mask_round", n -> true);
        m.put("inpainting_fill", zero);
        m.put("inpaint_full_res", isFalse);
        m.put("inpaint_full_res_padding", n -> true);
        m.put("inpainting_mask_invert", zero);
        m.put("initial_noise_multiplier", n -> n.isNull() || (n.isNumber() && n.asDouble() == 1));
        m.put("latent_mask", absent);
        m.put("image_cfg_scale", n -> true);
        m.put("resize_mode", zero);
        m.put("include_init_images", isFalse);
        return java.util.Collections.unmodifiableMap(m);
    }

    /** A field of that API this service does not do; answered 501 naming it. */
    static final class NotSupportedException extends RuntimeException {
        private final String field;

        NotSupportedException(String field, String message) {
            super(message);
            this.field = field;
        }

        String field() {
            return field;
        }
    }

    /** The {@code /v1} field a validation error names, as the AUTOMATIC1111 field the client sent. */
    static String clientField(String v1Field) {
        for (Map.Entry<String, String> e : TRANSLATED.entrySet()) {
            if (e.getValue().equals(v1Field)) {
                return e.getKey();
            }
        }
        return switch (v1Field) {
            case "scheduler" -> "sampler_name";
            case "seed" -> "seed";
            case "numImages" -> "batch_size";
            case "initImage" -> "init_images";
            case "strength" -> "denoising_strength";
            case "model" -> "override_settings.sd_model_checkpoint";
            default -> v1Field;
        };
    }

    /** The scheduler an AUTOMATIC1111 sampler name (or alias, or one of ours) stands for, if any. */
    static Optional<String> scheduler(String samplerName, String schedulerName) {
        String name = samplerName;
        if (schedulerName != null && schedulerName.equalsIgnoreCase("Karras") && !name.endsWith(" Karras")) {
            name = name + " Karras";
        }
        String scheduler = SAMPLERS.get(name);
        if (scheduler == null) {
            scheduler = SAMPLER_ALIASES.get(name);
        }
        if (scheduler == null && SAMPLERS.containsValue(name)) {
            scheduler = name;
        }
        return Optional.ofNullable(scheduler);
    }

    /** The sampler name AUTOMATIC1111 clients know for one of our schedulers. */
    static String samplerName(String scheduler) {
        return SAMPLERS.entrySet().stream().filter(e -> e.getValue().equals(scheduler)).map(Map.Entry::getKey)
                .findFirst().orElse(scheduler);
    }

    /**
     * The {@code /v1/jobs} body for a txt2img or img2img request.
     *
     * @throws InvalidRequestException an unknown field or a wrong value, named as the client sent it
     * @throws NotSupportedException a field this service does not do, with a value that would do something
     */
    static ObjectNode toJob(JsonNode body, boolean img2img) {
        if (body == null || !body.isObject()) {
            throw new InvalidRequestException("body", "must be a JSON object");
        }
        ObjectNode job = JsonNodeFactory.instance.objectNode();
        int batchSize = 1;
        int iterations = 1;
        for (Iterator<Map.Entry<String, JsonNode>> fields = body.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            String name = field.getKey();
            JsonNode value = field.getValue();
            if (TRANSLATED.containsKey(name)) {
                if (!value.isNull()) {
                    job.set(TRANSLATED.get(name), value);
                }
            } else if (name.equals("seed")) {
                seed(value, job);
            } else if (name.equals("sampler_name") || name.equals("scheduler")) {
                // both read together below
                continue;
            } else if (name.equals("batch_size")) {
                batchSize = count(name, value);
            } else if (name.equals("n_iter")) {
                iterations = count(name, value);
            } else if (name.equals("override_settings")) {
                overrideSettings(value, job);
            } else if (name.equals("denoising_strength")) {
                if (img2img && !value.isNull()) {
                    job.set("strength", value);
                }
                // txt2img: that API uses it only for the hires fix (enable_hr), refused above when asked for
            } else if (img2img && name.equals("init_images")) {
                initImages(value, job);
            } else if (NO_EFFECT.contains(name)) {
                continue;
            } else if (UNSUPPORTED.containsKey(name)) {
                if (!UNSUPPORTED.get(name).test(value)) {
                    throw new NotSupportedException(name, name + " is not supported by this service");
                }
            } else {
                throw new InvalidRequestException(JobRequestValidator.printable(name), "is not a field of "
                        + (img2img ? "img2img" : "txt2img") + " this service knows; see GET /q/openapi");
            }
        }
        if (img2img && !job.has("initImage")) {
            throw new InvalidRequestException("init_images", "must hold one image");
        }
        if (img2img && !job.has("strength")) {
            job.put("strength", GenerationRequest.DEFAULT_STRENGTH);
        }
        JsonNode sampler = body.get("sampler_name");
        if (sampler == null || sampler.isNull()) {
            sampler = body.get("sampler_index");
        }
        JsonNode schedulerName = body.get("scheduler");
        if (schedulerName != null && !schedulerName.isNull() && !schedulerName.isTextual()) {
            throw new InvalidRequestException("scheduler", "must be a string");
        }
        String schedulerText = schedulerName == null || schedulerName.isNull() ? null : schedulerName.textValue();
        if (schedulerText != null && !schedulerText.equalsIgnoreCase("Automatic") && !schedulerText.equalsIgnoreCase("Karras")) {
            throw new NotSupportedException("scheduler", "scheduler '" + JobRequestValidator.printable(schedulerText)
                    + "' is not supported; use Automatic or Karras (or a sampler name with Karras in it)");
        }
        if (sampler != null && !sampler.isNull()) {
            if (!sampler.isTextual()) {
                throw new InvalidRequestException("sampler_name", "must be a string");
            }
            String text = sampler.textValue();
            String scheduler = scheduler(text, schedulerText).orElseThrow(() -> new InvalidRequestException("sampler_name",
                    "must be one of " + SAMPLERS.keySet() + " (GET /sdapi/v1/samplers)"));
            job.put("scheduler", scheduler);
        }
        long images = (long) batchSize * iterations;
        if (images > 1) {
            job.put("numImages", images > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) images);
        }
        job.put("preview", "approx");
        return job;
    }

    private static void seed(JsonNode value, ObjectNode job) {
        if (value.isNull()) {
            return;
        }
        if (!value.isIntegralNumber()) {
            throw new InvalidRequestException("seed", "must be an integer (-1: random)");
        }
        if (value.bigIntegerValue().signum() < 0) {
            if (value.bigIntegerValue().intValue() != -1 || !value.canConvertToLong()) {
                throw new InvalidRequestException("seed", "must be -1 (random) or an integer between 0 and "
                        + RequestRules.MAX_SEED);
            }
            return;
        }
        job.set("seed", value);
    }

    private static int count(String name, JsonNode value) {
        if (value.isNull()) {
            return 1;
        }
        if (!value.isIntegralNumber() || !value.canConvertToInt() || value.intValue() < 1) {
            throw new InvalidRequestException(name, "must be an integer of at least 1");
        }
        return value.intValue();
    }

    private static void overrideSettings(JsonNode value, ObjectNode job) {
        if (value.isNull()) {
            return;
        }
        if (!value.isObject()) {
            throw new InvalidRequestException("override_settings", "must be an object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> fields = value.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> setting = fields.next();
            if (setting.getKey().equals("sd_model_checkpoint")) {
                if (!setting.getValue().isTextual()) {
                    throw new InvalidRequestException("override_settings.sd_model_checkpoint", "must be a string");
                }
                job.put("model", modelName(setting.getValue().textValue()));
            } else {
                throw new NotSupportedException("override_settings." + JobRequestValidator.printable(setting.getKey()),
                        "override_settings." + JobRequestValidator.printable(setting.getKey())
                                + " is not supported; only sd_model_checkpoint is");
            }
        }
    }

    private static void initImages(JsonNode value, ObjectNode job) {
        if (!value.isArray() || value.isEmpty()) {
            throw new InvalidRequestException("init_images", "must be a list of one base64 image");
        }
        if (value.size() > 1) {
            throw new NotSupportedException("init_images", "init_images with more than one image is not supported");
        }
        job.set("initImage", value.get(0));
    }

    /** A checkpoint title ({@code "shapes [3a22282e03]"}) or name, as a model name. */
    static String modelName(String checkpoint) {
        int bracket = checkpoint.indexOf(" [");
        return bracket > 0 && checkpoint.endsWith("]") ? checkpoint.substring(0, bracket) : checkpoint;
    }

    /** The checkpoint title clients show and send back: the name and the hash in brackets. */
    static String title(String model, String hash) {
        return model + " [" + hash + "]";
    }

    /** The {@code parameters} text a PNG carries (tEXt, zTXt or iTXt), the infotext clients parse, if any. */
    static Optional<String> infotext(byte[] png) {
        int at = 8;
        while (at + 12 <= png.length) {
            int length = ((png[at] & 0xff) << 24) | ((png[at + 1] & 0xff) << 16) | ((png[at + 2] & 0xff) << 8) | (png[at + 3] & 0xff);
            String type = new String(png, at + 4, 4, StandardCharsets.ISO_8859_1);
            int data = at + 8;
            if (length < 0 || data + length > png.length) {
                return Optional.empty();
            }
            if (type.equals("tEXt") || type.equals("iTXt") || type.equals("zTXt")) {
                int nul = data;
                while (nul < data + length && png[nul] != 0) {
                    nul++;
                }
                String keyword = new String(png, data, nul - data, StandardCharsets.ISO_8859_1);
                if (keyword.equals("parameters") && nul < data + length) {
                    return Optional.of(text(type, png, nul + 1, data + length));
                }
            }
            if (type.equals("IEND")) {
                break;
            }
            at = data + length + 4;
        }
        return Optional.empty();
    }

    private static String text(String type, byte[] png, int from, int to) {
        if (type.equals("tEXt")) {
            return new String(png, from, to - from, StandardCharsets.ISO_8859_1);
        }
        if (type.equals("zTXt")) {
            return new String(inflate(png, from + 1, to), StandardCharsets.ISO_8859_1);
        }
        boolean compressed = png[from] != 0;
        int at = from + 2;
        for (int skip = 0; skip < 2; skip++) {
            while (at < to && png[at] != 0) {
                at++;
            }
            at++;
        }
        byte[] bytes = compressed ? inflate(png, at, to) : java.util.Arrays.copyOfRange(png, at, to);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static byte[] inflate(byte[] png, int from, int to) {
        try (InflaterInputStream in = new InflaterInputStream(new java.io.ByteArrayInputStream(png, from, to - from))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        } catch (IOException e) {
            return new byte[0];
        }
    }
}
