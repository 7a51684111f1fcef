package io.denoise.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.recipe.GenerationRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java pipeline against the Python reference sampler on the bundled shapes model: for every committed fixture
 * ({@code src/test/resources/fixtures/shapes}), the same token ids, final latents within 1e-3 of the reference's
 * largest magnitude, and every pixel within 2/255.
 */
class ReferenceFixtureTest {

    private static final Path FIXTURES = Path.of("src", "test", "resources", "fixtures", "shapes");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SessionFactory SESSIONS = new SessionFactory(new RuntimeOptions("cpu", 0, 0));
    private static final ModelSet MODEL = ModelSet.load(TestModels.SHAPES, SESSIONS);
    private static final TextToImagePipeline PIPELINE = new TextToImagePipeline(MODEL, TextToImagePipeline.Limits.DEFAULT);

    @AfterAll
    static void close() {
        MODEL.close();
        assertEquals(0, SESSIONS.liveSessions());
    }

    @TestFactory
    Stream<DynamicTest> everyFixtureMatchesTheReferenceSampler() throws IOException {
        List<Path> cases;
        try (Stream<Path> files = Files.list(FIXTURES)) {
            cases = files.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        }
        assertFalse(cases.isEmpty(), "no fixtures in " + FIXTURES);
        return cases.stream().map(file -> DynamicTest.dynamicTest(file.getFileName().toString(), () -> check(file)));
    }

    private static void check(Path file) throws Exception {
        JsonNode f = JSON.readTree(file.toFile());
        assertArrayEquals(longs(f.get("promptIds")), MODEL.tokenizer().encode(f.get("prompt").asText()).ids(), "prompt ids");
        assertArrayEquals(longs(f.get("negativeIds")), MODEL.tokenizer().encode(f.get("negativePrompt").asText()).ids(),
                "negative prompt ids");
        byte[] init = f.get("initImage").isNull() ? null : Files.readAllBytes(FIXTURES.resolve(f.get("initImage").asText()));
        GenerationRequest request = new GenerationRequest(f.get("prompt").asText(), f.get("negativePrompt").asText(),
                f.get("width").asInt(), f.get("height").asInt(), f.get("numInferenceSteps").asInt(),
                f.get("guidanceScale").asDouble(), f.get("scheduler").asText(), new java.math.BigInteger(f.get("seed").asText()),
                f.get("numImages").asInt(), init == null ? null : f.get("initImage").asText(),
                f.get("strength").isNull() ? null : f.get("strength").asDouble(), f.get("eta").asDouble(), "none", 1);
        GenerationResult result = PIPELINE.generate(request, init, GenerationListener.NONE, new Cancellation());

        float[] expected = floats(f.get("finalLatents"));
        float[] actual = result.finalLatents();
        assertEquals(expected.length, actual.length, "latent size");
        float max = 0;
        float worst = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i]));
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= 1e-3f * max, "latents differ by " + worst + " (max |ref| " + max + ")");

        List<String> images = new ArrayList<>();
        f.get("images").forEach(n -> images.add(n.asText()));
        assertEquals(images.size(), result.images().size());
        for (int i = 0; i < images.size(); i++) {
            BufferedImage ref = ImageIO.read(FIXTURES.resolve(images.get(i)).toFile());
            BufferedImage got = ImageIO.read(new ByteArrayInputStream(result.images().get(i).png()));
            int worstPixel = 0;
            for (int y = 0; y < ref.getHeight(); y++) {
                for (int x = 0; x < ref.getWidth(); x++) {
                    int a = ref.getRGB(x, y);
                    int b = got.getRGB(x, y);
                    for (int shift = 0; shift <= 16; shift += 8) {
                        worstPixel = Math.max(worstPixel, Math.abs(((a >> shift) & 0xff) - ((b >> shift) & 0xff)));
                    }
                }
            }
            assertTrue(worstPixel <= 2, images.get(i) + ": a channel differs by " + worstPixel + "/255");
        }
    }

    private static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) array.get(i).asDouble();
        }
        return out;
    }
}
