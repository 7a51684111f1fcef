package io.denoise.pipeline;

import io.denoise.recipe.GenerationRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The habits of the other exporters, each on a variant of a small model made here: the diffusers export rewritten
 * into Optimum's layout ({@code model.onnx_data}, per-part {@code config.json}, int64 timestep), a scalar timestep,
 * the float16 shapes model with none of its configs, an SD 2.x-style v-prediction config padding with
 * {@code "!"}, and a UNet that leaves the width of the text states dynamic. Each variant must load, read what it
 * states, and — where only the packaging changed — produce the very latents of the original. Parts that cannot be
 * used fail at load naming the file and the reason.
 */
class ExportVariantsTest {

    private static final SessionFactory SESSIONS = new SessionFactory(new RuntimeOptions("cpu", 0, 1));
    private static final ModelSet ORIGINAL = ModelSet.load(TestModels.TINY_SD, SESSIONS);

    @AfterAll
    static void close() {
        ORIGINAL.close();
        assertEquals(0, SESSIONS.liveSessions());
    }

    private static GenerationRequest request(ModelSet model) {
        return GenerationRequest.of(model.settings().defaults(), "A painting of a squirrel eating a burger", 0).withSteps(2)
                .withGuidanceScale(6.0).withScheduler("ddim").withSize(64, 64);
    }

    private static float[] latents(ModelSet model) throws Exception {
        return new TextToImagePipeline(model, TextToImagePipeline.Limits.DEFAULT)
                .generate(request(model), GenerationListener.NONE, new Cancellation()).finalLatents();
    }

    @Test
    void theDerivedCardOfAnExportWithoutConfigsOrDenoiseJson() {
        ModelSettings s = ORIGINAL.settings();
        assertEquals(512, s.defaults().width(), "no unet/config.json: 512, diffusers' ONNX pipeline default");
        assertEquals(16, s.limits().minWidth(), "8 latent cells of 2 pixels");
        assertEquals(1024, s.limits().maxWidth(), "twice the native size");
        assertEquals(50, s.defaults().numInferenceSteps());
        assertEquals(7.5, s.defaults().guidanceScale());
    }

    @Test
    void optimumsLayoutLoadsAndGivesTheSameLatents(@TempDir Path dir) throws Exception {
        copy(TestModels.TINY_SD, dir);
        Path unet = dir.resolve("unet");
        Files.move(unet.resolve("weights.pb"), unet.resolve("model.onnx_data"));
        byte[] graph = OnnxProto.renameExternalData(Files.readAllBytes(unet.resolve("model.onnx")), "weights.pb", "model.onnx_data");
        Files.write(unet.resolve("model.onnx"), OnnxProto.int64Input(graph, "timestep"));
        Files.writeString(unet.resolve("config.json"), """
                {"_class_name": "UNet2DConditionModel", "sample_size": 32, "in_channels": 4, "out_channels": 4,
                 "cross_attention_dim": 32, "block_out_channels": [32, 64]}""");
        Files.writeString(dir.resolve("vae_decoder").resolve("config.json"), """
                {"_class_name": "AutoencoderKL", "block_out_channels": [32, 64], "latent_channels": 4,
                 "scaling_factor": 0.18215}""");
        Files.writeString(dir.resolve("text_encoder").resolve("config.json"), """
                {"_class_name": "CLIPTextModel", "hidden_size": 32}""");
        try (ModelSet model = ModelSet.load(dir, SESSIONS)) {
            assertEquals(ElementType.INT64, model.unet().timestepType());
            assertEquals(2, model.vaeScaleFactor());
            assertEquals(64, model.settings().defaults().width(), "sample_size 32 x scale factor 2");
            assertEquals(128, model.settings().limits().maxWidth());
            assertArrayEquals(latents(ORIGINAL), latents(model), "integer timesteps: int64 changes nothing");
        }
    }

    @Test
    void aScalarTimestepLoadsAndGivesTheSameLatents(@TempDir Path dir) throws Exception {
        copy(TestModels.TINY_SD, dir);
        Path file = dir.resolve("unet").resolve("model.onnx");
        Files.write(file, OnnxProto.scalarInput(Files.readAllBytes(file), "timestep"));
        try (ModelSet model = ModelSet.load(dir, SESSIONS)) {
            assertEquals(0, model.unet().timestepRank());
            assertArrayEquals(latents(ORIGINAL), latents(model));
        }
    }

    @Test
    void float16PartsWithoutAnyConfigAreReadByProbing(@TempDir Path dir) throws Exception {
        copy(TestModels.SHAPES_FP16, dir);
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().equals("config.json")).toList()) {
                Files.delete(f);
            }
        }
        Files.delete(dir.resolve("denoise.json"));
        try (ModelSet model = ModelSet.load(dir, SESSIONS);
             ModelSet bundled = ModelSet.load(TestModels.SHAPES_FP16, SESSIONS)) {
            assertEquals(ElementType.FLOAT16, model.floatType());
            assertEquals(8, model.vaeScaleFactor(), "found by the decoder's probe run in float16");
            assertEquals(bundled.latentChannels(), model.latentChannels());
            assertEquals(512, model.settings().defaults().width());
            GenerationRequest r = GenerationRequest.of(model.settings().defaults(), "a red circle on a white background", 7).withSize(64, 64)
                    .withSteps(4).withScheduler("pndm").withGuidanceScale(2.5);
            GenerationRequest same = GenerationRequest.of(bundled.settings().defaults(), r.prompt(), 7).withSize(64, 64).withSteps(4)
                    .withScheduler("pndm").withGuidanceScale(2.5);
            assertArrayEquals(
                    new TextToImagePipeline(bundled, TextToImagePipeline.Limits.DEFAULT).generate(same, GenerationListener.NONE, new Cancellation()).finalLatents(),
                    new TextToImagePipeline(model, TextToImagePipeline.Limits.DEFAULT).generate(r, GenerationListener.NONE, new Cancellation()).finalLatents());
        }
    }

    @Test
    void anSd2StyleConfigPredictsVelocityAndPadsWithExclamationMarks(@TempDir Path dir) throws Exception {
        copy(TestModels.TINY_SD, dir);
        Path scheduler = dir.resolve("scheduler").resolve("scheduler_config.json");
        Files.writeString(scheduler, Files.readString(scheduler).replace("\"epsilon\"", "\"v_prediction\""));
        Path specials = dir.resolve("tokenizer").resolve("special_tokens_map.json");
        Files.writeString(specials, Files.readString(specials).replace("\"pad_token\": \"<|endoftext|>\"", "\"pad_token\": \"!\""));
        try (ModelSet model = ModelSet.load(dir, SESSIONS)) {
            long[] ids = model.tokenizer().encode("a squirrel").ids();
            assertEquals(49407, ids[3], "the end token itself stays <|endoftext|>");
            for (int i = 4; i < 77; i++) {
                assertEquals(0, ids[i], "padding is '!', id 0");
            }
            assertEquals(49407, ORIGINAL.tokenizer().encode("a squirrel").ids()[4]);
            assertFalse(java.util.Arrays.equals(latents(ORIGINAL), latents(model)), "the scheduler reads prediction_type");
        }
    }

    @Test
    void aUNetThatDeclaresNoHiddenSizeTakesTheTextEncodersAndGivesTheSameLatents(@TempDir Path dir) throws Exception {
        copy(TestModels.TINY_SD, dir);
        Path unet = dir.resolve("unet").resolve("model.onnx");
        Files.write(unet, OnnxProto.symbolicDim(Files.readAllBytes(unet), false, "encoder_hidden_states", 2, "hidden"));
        try (ModelSet model = ModelSet.load(dir, SESSIONS)) {
            assertEquals(-1, model.unet().declaredHiddenSize());
            assertEquals(32, model.textHiddenSize(), "the text encoder's");
            assertEquals(32, model.textEncoder().probeHiddenSize(SESSIONS.environment(), model.tokenizer().encode("").ids()),
                    "what a probe run finds when no graph declares it (ONNX Runtime infers the encoder's output shape)");
            assertArrayEquals(latents(ORIGINAL), latents(model));
        }
    }

    @Test
    void aMissingExternalWeightsFileFailsAtLoadNamingIt(@TempDir Path dir) throws IOException {
        copy(TestModels.TINY_SD, dir);
        Files.delete(dir.resolve("unet").resolve("weights.pb"));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelSet.load(dir, SESSIONS));
        assertTrue(e.getMessage().startsWith("unet: ") && e.getMessage().contains("weights.pb"), e.getMessage());
    }

    @Test
    void configsThatContradictTheGraphFailAtLoadSayingWhich(@TempDir Path dir) throws IOException {
        copy(TestModels.TINY_SD, dir);
        Files.writeString(dir.resolve("unet").resolve("config.json"), "{\"in_channels\": 9, \"out_channels\": 4}");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelSet.load(dir, SESSIONS));
        assertTrue(e.getMessage().contains("unet/config.json in_channels=9") && e.getMessage().contains("inpainting"),
                e.getMessage());
    }

    @Test
    void aVaeConfigThatContradictsTheUNetFailsAtLoadSayingWhich(@TempDir Path dir) throws IOException {
        copy(TestModels.TINY_SD, dir);
        Files.writeString(dir.resolve("vae_decoder").resolve("config.json"), "{\"latent_channels\": 8}");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelSet.load(dir, SESSIONS));
        assertTrue(e.getMessage().contains("latent channels disagree"), e.getMessage());
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(f, target);
                }
            }
        }
    }
}
