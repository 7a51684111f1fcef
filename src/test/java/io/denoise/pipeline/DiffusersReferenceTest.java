package io.denoise.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.denoise.random.TorchGenerator;
import io.denoise.recipe.GenerationRequest;
import io.denoise.scheduler.Scheduler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.Arrays;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each stage of the Java pipeline on a model that diffusers' own ONNX exporter wrote ({@link TestModels#TINY_SD}),
 * against what diffusers' PyTorch {@code StableDiffusionPipeline} computed for the same weights and request
 * ({@link TestModels#TINY_SD_REFERENCE}: "A painting of a squirrel eating a burger", no negative prompt, 64×64,
 * DDIM eta 0, 2 steps, guidance 6.0, {@code torch.Generator("cpu").manual_seed(0)}). Token ids must be identical,
 * the starting latents bit-exact, text embeddings and the first guided UNet prediction within 1e-4 of the
 * reference's largest magnitude. The reference stops at the first UNet call; the final latents and image it was
 * made with are not in the repository, so the whole request is checked for what it must produce, not for pixels.
 */
class DiffusersReferenceTest {

    private static final String PROMPT = "A painting of a squirrel eating a burger";
    private static final SessionFactory SESSIONS = new SessionFactory(new RuntimeOptions("cpu", 0, 1));
    private static final ModelSet MODEL = ModelSet.load(TestModels.TINY_SD, SESSIONS);
    private static final TextToImagePipeline PIPELINE = new TextToImagePipeline(MODEL, TextToImagePipeline.Limits.DEFAULT);
    private static final JsonNode META = Json.readOptional(TestModels.TINY_SD_REFERENCE.resolve("meta.json"));

    @AfterAll
    static void close() {
        MODEL.close();
        assertEquals(0, SESSIONS.liveSessions());
    }

    private static GenerationRequest request() {
        return GenerationRequest.of(MODEL.settings().defaults(), PROMPT, 0).withSteps(2).withGuidanceScale(6.0).withScheduler("ddim")
                .withSize(64, 64).withEta(0.0);
    }

    @Test
    void theExportReadsAsDiffusersSeesIt() {
        assertEquals(2, MODEL.vaeScaleFactor(), "found by a probe run: the export has no vae_decoder/config.json");
        assertEquals(4, MODEL.latentChannels());
        assertEquals(0.18215, MODEL.scalingFactor());
        assertEquals(ElementType.FLOAT32, MODEL.unet().timestepType());
        assertEquals("ddim", MODEL.settings().defaults().scheduler(), "from scheduler_config.json");
        assertEquals(PROMPT, META.path("prompt").asText());
    }

    @Test
    void tokenIdsAreClipsExactly() throws IOException {
        int[] ref = ints("input_ids_uncond_cond");
        assertArrayEquals(Arrays.copyOfRange(ref, 0, 77), toInts(MODEL.tokenizer().encode("").ids()), "unconditional");
        assertArrayEquals(Arrays.copyOfRange(ref, 77, 154), toInts(MODEL.tokenizer().encode(PROMPT).ids()), "prompt");
    }

    @Test
    void textEmbeddingsMatchWithin1e4OfTheLargest() throws Exception {
        float[] ref = floats("text_embeds_uncond_cond");
        try (Generation generation = new Generation(MODEL, request(), null)) {
            generation.encodePrompt();
            NativeTensor states = generation.textStates();
            assertArrayEquals(new long[] {2, 77, 32}, states.shape());
            float[] ours = new float[states.size()];
            states.get(ours);
            assertClose("text embeddings", ref, ours, 1e-4);
        }
    }

    @Test
    void timestepsAreDiffusers() throws IOException {
        Scheduler scheduler = MODEL.newScheduler("ddim", 0.0);
        scheduler.setTimesteps(2);
        assertArrayEquals(new double[] {501, 1}, scheduler.timesteps());
        long first = ByteBuffer.wrap(Files.readAllBytes(TestModels.TINY_SD_REFERENCE.resolve("timestep0.bin")))
                .order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(first, (long) scheduler.timesteps()[0]);
    }

    @Test
    void startingLatentsAreBitExact() throws IOException {
        float[] ref = floats("init_latents");
        Scheduler scheduler = MODEL.newScheduler("ddim", 0.0);
        scheduler.setTimesteps(2);
        float[] ours = Generation.initialNoise(scheduler,
                Generation.perImageNoise(new TorchGenerator[] {new TorchGenerator(0)}, ref.length), ref.length);
        assertEquals(4 * 32 * 32, ours.length, "[1, 4, 64/2, 64/2]");
        for (int i = 0; i < ref.length; i++) {
            assertEquals(Float.floatToRawIntBits(ref[i]), Float.floatToRawIntBits(ours[i]), "latent " + i);
        }
    }

    @Test
    void firstGuidedNoisePredictionMatchesWithin1e4OfTheLargest() throws Exception {
        float[] ref = floats("unet_step0_eps");
        float[] latents = floats("init_latents");
        Scheduler scheduler = MODEL.newScheduler("ddim", 0.0);
        scheduler.setTimesteps(2);
        double t = scheduler.timesteps()[0];
        float[] scaled = new float[latents.length];
        scheduler.scaleModelInput(latents, t, scaled);
        float[] batch = new float[2 * latents.length];
        System.arraycopy(scaled, 0, batch, 0, scaled.length);
        System.arraycopy(scaled, 0, batch, scaled.length, scaled.length);
        float[] ours = new float[batch.length];
        try (Generation generation = new Generation(MODEL, request(), null)) {
            generation.encodePrompt();
            try (UNet.Invocation unet = MODEL.unet().prepare(SESSIONS.environment(), 2, 4, 32, 32, generation.textStates())) {
                unet.run(batch, t, ours, generation.runOptions(), new InferenceStats());
            }
        }
        assertClose("unet noise prediction [uncond, cond]", ref, ours, 1e-4);
    }

    @Test
    void theWholeRequestRunsAt64By64AndIsDeterministic() throws Exception {
        GenerationResult a = PIPELINE.generate(request(), GenerationListener.NONE, new Cancellation());
        GenerationResult b = PIPELINE.generate(request(), GenerationListener.NONE, new Cancellation());
        assertEquals(1, a.images().size());
        BufferedImage png = ImageIO.read(new ByteArrayInputStream(a.images().get(0).png()));
        assertEquals(64, png.getWidth());
        assertEquals(64, png.getHeight());
        assertEquals(4 * 32 * 32, a.finalLatents().length);
        assertArrayEquals(a.finalLatents(), b.finalLatents());
        assertEquals(2, a.modelCalls(), "two DDIM steps, one UNet call each");
    }

    private static void assertClose(String what, float[] ref, float[] ours, double relative) {
        assertEquals(ref.length, ours.length, what + ": length");
        double max = 0;
        double diff = 0;
        for (int i = 0; i < ref.length; i++) {
            max = Math.max(max, Math.abs(ref[i]));
            diff = Math.max(diff, Math.abs(ref[i] - ours[i]));
        }
        assertTrue(max > 0, what + ": reference is all zeros");
        assertTrue(diff <= relative * max, what + ": max |diff| " + diff + " > " + relative + " x max |ref| " + max);
    }

    private static int[] toInts(long[] ids) {
        return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
    }

    private static ByteBuffer raw(String name, String dtype) throws IOException {
        JsonNode tensor = META.path("tensors").path(name);
        assertEquals(dtype, tensor.path("dtype").asText(), name + " dtype");
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(TestModels.TINY_SD_REFERENCE.resolve(name + ".bin")))
                .order(ByteOrder.LITTLE_ENDIAN);
        long n = 1;
        for (JsonNode d : tensor.path("shape")) {
            n *= d.asLong();
        }
        assertEquals(n * 4, b.remaining(), name + " size against meta.json");
        return b;
    }

    private static float[] floats(String name) throws IOException {
        ByteBuffer b = raw(name, "float32");
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    private static int[] ints(String name) throws IOException {
        ByteBuffer b = raw(name, "int32");
        int[] out = new int[b.remaining() / 4];
        b.asIntBuffer().get(out);
        return out;
    }
}
