package io.denoise.pipeline;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.io.ByteArrayInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bundled shapes model through the Java pipeline, in float32 and float16. */
class ShapesModelTest {

    private static final String[] COLOURS = {"red", "green", "blue", "yellow", "purple", "orange"};
    private static final String[] BACKGROUNDS = {"white", "black", "gray"};
    private static final SessionFactory SESSIONS = new SessionFactory(new RuntimeOptions("cpu", 0, 0));
    private static final ModelSet FP32 = ModelSet.load(TestModels.SHAPES, SESSIONS);
    private static final ModelSet FP16 = ModelSet.load(TestModels.SHAPES_FP16, SESSIONS);

    @AfterAll
    static void close() {
        FP16.close();
        FP32.close();
        assertEquals(0, SESSIONS.liveSessions());
    }

    @Test
    void theSameSeedGivesABitIdenticalImage() throws Exception {
        TextToImagePipeline pipeline = new TextToImagePipeline(FP32, TextToImagePipeline.Limits.DEFAULT);
        GenerationRequest r = GenerationRequest.of(FP32, "a purple triangle on a white background", 1234);
        assertArrayEquals(pipeline.generate(r, GenerationListener.NONE, new Cancellation()).images().get(0).png(),
                pipeline.generate(r, GenerationListener.NONE, new Cancellation()).images().get(0).png());
    }

    @Test
    void theFloat16ModelDrawsWhatTheFloat32ModelDraws() throws Exception {
        assertEquals(ElementType.FLOAT16, FP16.floatType());
        assertEquals(ElementType.INT64, FP16.unet().timestepType());
        TextToImagePipeline fp32 = new TextToImagePipeline(FP32, TextToImagePipeline.Limits.DEFAULT);
        TextToImagePipeline fp16 = new TextToImagePipeline(FP16, TextToImagePipeline.Limits.DEFAULT);
        int sameBackground = 0;
        int sameColour = 0;
        int n = 0;
        int seed = 1;
        for (String colour : COLOURS) {
            for (String background : BACKGROUNDS) {
                String article = colour.equals("orange") ? "an" : "a";
                String prompt = article + " " + colour + " circle on a " + background + " background";
                ShapeScorer.Score a = score(fp32, GenerationRequest.of(FP32, prompt, seed));
                ShapeScorer.Score b = score(fp16, GenerationRequest.of(FP16, prompt, seed));
                sameBackground += a.background().equals(b.background()) ? 1 : 0;
                sameColour += String.valueOf(a.colour()).equals(String.valueOf(b.colour())) ? 1 : 0;
                n++;
                seed++;
            }
        }
        assertEquals(n, sameBackground, "float16 and float32 agree on every background");
        assertTrue(sameColour >= n - 2, "float16 and float32 agree on the colour of " + sameColour + " of " + n);
    }

    private static ShapeScorer.Score score(TextToImagePipeline pipeline, GenerationRequest r) throws Exception {
        byte[] png = pipeline.generate(r, GenerationListener.NONE, new Cancellation()).images().get(0).png();
        return ShapeScorer.score(ImageIO.read(new ByteArrayInputStream(png)));
    }
}
