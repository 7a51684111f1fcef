package io.denoise.pipeline;

import io.denoise.recipe.GenerationRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bundled shapes model through the Java pipeline, in float32 and float16, scored with the same rules as the
 * Python scorer ({@code models/tools/score.py}).
 */
class ShapesModelTest {

    private static final String[] COLOURS = {"red", "green", "blue", "yellow", "purple", "orange"};
    private static final String[] SHAPES = {"circle", "square", "triangle"};
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

    /** Every full caption once (54 images, seeds 1 to 54), at the model's default guidance and steps. */
    @Test
    void generatedImagesShowTheRequestedColourShapeAndBackground() throws Exception {
        Tally t = defaultGuidance();
        System.out.println("shapes model through the Java pipeline, default guidance: " + t);
        assertTrue(t.colour >= 0.95 * t.n, t.toString());
        assertTrue(t.background >= 0.95 * t.n, t.toString());
        assertTrue(t.shape >= 0.85 * t.n, t.toString());
    }

    /** The same 54 images without guidance: the conditional model alone gets clearly fewer of them right. */
    @Test
    void guidanceMakesMoreImagesRight() throws Exception {
        Tally unguided = everyCaption(1.0);
        Tally guided = defaultGuidance();
        System.out.println("shapes model through the Java pipeline, guidance 1.0: " + unguided);
        assertTrue(guided.all - unguided.all >= 0.1 * guided.n, "default " + guided + " against 1.0 " + unguided);
    }

    /** "a circle on a white background" over 60 seeds, without and with "blue" as the negative prompt. */
    @Test
    void aNegativePromptKeepsItsColourAway() throws Exception {
        TextToImagePipeline pipeline = new TextToImagePipeline(FP32, TextToImagePipeline.Limits.DEFAULT);
        int blueWithout = 0;
        int blueWith = 0;
        for (int seed = 0; seed < 60; seed++) {
            GenerationRequest r = GenerationRequest.of(FP32.settings().defaults(), "a circle on a white background", seed);
            blueWithout += "blue".equals(score(pipeline, r).colour()) ? 1 : 0;
            blueWith += "blue".equals(score(pipeline, r.withNegativePrompt("blue")).colour()) ? 1 : 0;
        }
        System.out.println("blue circles of 60: " + blueWithout + " without a negative prompt, " + blueWith + " with \"blue\"");
        assertTrue(blueWithout >= 6, "blue is common without a negative prompt: " + blueWithout + " of 60");
        assertTrue(2 * blueWith < blueWithout, "\"blue\" as the negative prompt: " + blueWith + " against " + blueWithout);
    }

    private static Tally defaultTally;

    private static synchronized Tally defaultGuidance() throws Exception {
        if (defaultTally == null) {
            defaultTally = everyCaption(FP32.settings().defaults().guidanceScale());
        }
        return defaultTally;
    }

    private static Tally everyCaption(double guidance) throws Exception {
        TextToImagePipeline pipeline = new TextToImagePipeline(FP32, TextToImagePipeline.Limits.DEFAULT);
        Tally t = new Tally();
        int seed = 1;
        for (String colour : COLOURS) {
            for (String shape : SHAPES) {
                for (String background : BACKGROUNDS) {
                    String prompt = (colour.equals("orange") ? "an " : "a ") + colour + " " + shape + " on a "
                            + background + " background";
                    GenerationRequest r = GenerationRequest.of(FP32.settings().defaults(), prompt, seed++).withGuidanceScale(guidance);
                    t.add(prompt + " (seed " + r.seed() + ")", colour, shape, background, score(pipeline, r));
                }
            }
        }
        return t;
    }

    /** How many of the images the scorer reads as prompted: colour, background, shape, all three. */
    private static final class Tally {
        int n;
        int colour;
        int background;
        int shape;
        int all;
        final List<String> misses = new ArrayList<>();

        void add(String what, String colour, String shape, String background, ShapeScorer.Score s) {
            boolean c = colour.equals(s.colour());
            boolean b = background.equals(s.background());
            boolean sh = shape.equals(s.shape());
            n++;
            this.colour += c ? 1 : 0;
            this.background += b ? 1 : 0;
            this.shape += sh ? 1 : 0;
            all += c && b && sh ? 1 : 0;
            if (!(c && b && sh)) {
                misses.add(what + " -> " + s);
            }
        }

        @Override
        public String toString() {
            return "colour " + colour + ", background " + background + ", shape " + shape + ", all three " + all
                    + " of " + n + "; misses: " + misses;
        }
    }

    @Test
    void theSameSeedGivesABitIdenticalImage() throws Exception {
        TextToImagePipeline pipeline = new TextToImagePipeline(FP32, TextToImagePipeline.Limits.DEFAULT);
        GenerationRequest r = GenerationRequest.of(FP32.settings().defaults(), "a purple triangle on a white background", 1234);
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
                ShapeScorer.Score a = score(fp32, GenerationRequest.of(FP32.settings().defaults(), prompt, seed));
                ShapeScorer.Score b = score(fp16, GenerationRequest.of(FP16.settings().defaults(), prompt, seed));
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
