package io.denoise.pipeline;

import io.denoise.recipe.GenerationRequest;

import java.util.Locale;
import java.util.Map;

/**
 * The generation recipe in the "parameters" text form that other Stable Diffusion tools write and read:
 * the prompt, a {@code Negative prompt:} line, then {@code key: value} pairs.
 */
final class Recipe {

    private static final Map<String, String> SAMPLER_NAMES = Map.of(
            "pndm", "PNDM",
            "lms", "LMS",
            "ddim", "DDIM",
            "euler", "Euler",
            "euler-ancestral", "Euler a",
            "dpmpp-2m", "DPM++ 2M",
            "dpmpp-2m-karras", "DPM++ 2M Karras",
            "ddpm", "DDPM",
            "heun", "Heun",
            "unipc", "UniPC");

    private Recipe() {
    }

    static String parameters(ModelSet model, GenerationRequest r, int index) {
        StringBuilder s = new StringBuilder(r.prompt().replace('\n', ' '));
        if (!r.negativePrompt().isEmpty()) {
            s.append("\nNegative prompt: ").append(r.negativePrompt().replace('\n', ' '));
        }
        s.append("\nSteps: ").append(r.numInferenceSteps())
                .append(", Sampler: ").append(SAMPLER_NAMES.getOrDefault(r.scheduler(), r.scheduler()))
                .append(", CFG scale: ").append(number(r.guidanceScale()))
                .append(", Seed: ").append(Long.toUnsignedString(r.seedOf(index)))
                .append(", Size: ").append(r.width()).append('x').append(r.height())
                .append(", Model hash: ").append(model.hash())
                .append(", Model: ").append(model.name());
        if (r.initImage() != null) {
            s.append(", Denoising strength: ").append(number(r.strength()));
        }
        if (r.scheduler().equals("ddim") && r.eta() > 0) {
            s.append(", Eta: ").append(number(r.eta()));
        }
        return s.toString();
    }

    private static String number(double v) {
        return v == Math.rint(v) ? String.format(Locale.ROOT, "%.1f", v) : String.format(Locale.ROOT, "%s", v);
    }
}
