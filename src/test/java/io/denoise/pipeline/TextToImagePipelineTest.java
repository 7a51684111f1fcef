package io.denoise.pipeline;

import io.denoise.images.PngTest;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.scheduler.Schedulers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pipeline's plumbing, on the tiny random-weight model (fast; what it draws is noise). */
class TextToImagePipelineTest {

    private static SessionFactory sessions;
    private static ModelSet model;
    private static TextToImagePipeline pipeline;

    @BeforeAll
    static void load() {
        sessions = new SessionFactory(new RuntimeOptions("cpu", 0, 1));
        model = ModelSet.load(TestModels.TINY, sessions);
        pipeline = new TextToImagePipeline(model, TextToImagePipeline.Limits.DEFAULT);
    }

    @AfterAll
    static void close() {
        model.close();
        assertEquals(0, sessions.liveSessions(), "every session closed");
    }

    private static GenerationRequest request(long seed) {
        return GenerationRequest.of(model.settings().defaults(), "a red circle on a white background", seed).withSteps(4);
    }

    private static GenerationResult run(GenerationRequest r) throws Exception {
        return pipeline.generate(r, GenerationListener.NONE, new Cancellation());
    }

    static List<String> schedulers() {
        return List.copyOf(Schedulers.ids());
    }

    @ParameterizedTest
    @MethodSource("schedulers")
    void everySchedulerProducesAFullSizePngWithFiniteLatents(String scheduler) throws Exception {
        GenerationResult result = run(request(3).withScheduler(scheduler));
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(result.images().get(0).png()));
        assertEquals(model.settings().defaults().width(), image.getWidth());
        for (float v : result.finalLatents()) {
            assertTrue(Float.isFinite(v), scheduler + " produced a non-finite latent");
        }
    }

    @Test
    void sameSeedAndSettingsGiveBitIdenticalImages() throws Exception {
        assertArrayEquals(run(request(42)).images().get(0).png(), run(request(42)).images().get(0).png());
    }

    @Test
    void differentSeedsGiveDifferentLatents() throws Exception {
        assertFalse(Arrays.equals(run(request(1)).finalLatents(), run(request(2)).finalLatents()));
    }

    @Test
    void imageIOfABatchEqualsThatImageGeneratedAloneWithSeedPlusI() throws Exception {
        GenerationResult batch = run(request(100).withNumImages(3));
        assertEquals(3, batch.images().size());
        GenerationResult alone = run(request(102));
        assertEquals(102, batch.images().get(2).seed());
        int perImage = alone.finalLatents().length;
        float[] third = Arrays.copyOfRange(batch.finalLatents(), 2 * perImage, 3 * perImage);
        assertArrayEquals(alone.finalLatents(), third, 1e-5f);
    }

    @Test
    void stochasticSchedulersAlsoRegenerateImageIAlone() throws Exception {
        GenerationRequest r = request(500).withScheduler("euler-ancestral");
        GenerationResult batch = run(r.withNumImages(2));
        GenerationResult alone = run(new GenerationRequest(r.prompt(), r.negativePrompt(), r.width(), r.height(),
                r.numInferenceSteps(), r.guidanceScale(), r.scheduler(), java.math.BigInteger.valueOf(501), 1, null, null, 0.0,
                "none", 1));
        int perImage = alone.finalLatents().length;
        assertArrayEquals(alone.finalLatents(), Arrays.copyOfRange(batch.finalLatents(), perImage, 2 * perImage), 1e-5f);
    }

    @Test
    void ddimEtaAddsSeededNoiseOnlyToDdim() throws Exception {
        GenerationRequest ddim = request(4).withScheduler("ddim");
        assertFalse(Arrays.equals(run(ddim).finalLatents(), run(ddim.withEta(1.0)).finalLatents()));
        assertArrayEquals(run(ddim.withEta(1.0)).finalLatents(), run(ddim.withEta(1.0)).finalLatents());
        GenerationRequest euler = request(4).withScheduler("euler");
        assertArrayEquals(run(euler).finalLatents(), run(euler.withEta(1.0)).finalLatents());
    }

    @Test
    void negativePromptChangesTheResultOnlyWithGuidance() throws Exception {
        GenerationRequest guided = request(9).withGuidanceScale(4.0);
        assertFalse(Arrays.equals(run(guided).finalLatents(), run(guided.withNegativePrompt("blue")).finalLatents()));
        GenerationRequest unguided = request(9).withGuidanceScale(1.0);
        assertArrayEquals(run(unguided).finalLatents(), run(unguided.withNegativePrompt("blue")).finalLatents());
    }

    @Test
    void guidanceAtOrBelowOneRunsOneUNetPassPerStep() throws Exception {
        GenerationResult unguided = run(request(5).withGuidanceScale(1.0));
        GenerationResult guided = run(request(5).withGuidanceScale(3.0));
        assertFalse(Arrays.equals(unguided.finalLatents(), guided.finalLatents()));
    }

    @Test
    void listenerSeesEveryStepInOrderWithTotalsAndEta() throws Exception {
        List<StepProgress> steps = new ArrayList<>();
        List<GeneratedImage> images = new ArrayList<>();
        pipeline.generate(request(1).withSteps(6).withNumImages(2), new GenerationListener() {
            @Override
            public void onStep(StepProgress p) {
                steps.add(p);
            }

            @Override
            public void onImage(GeneratedImage image) {
                images.add(image);
            }
        }, new Cancellation());
        assertEquals(6, steps.size());
        for (int i = 0; i < 6; i++) {
            assertEquals(i + 1, steps.get(i).step());
            assertEquals(6, steps.get(i).totalSteps());
        }
        assertEquals(0, steps.get(5).etaMs());
        assertEquals(2, images.size());
    }

    @Test
    void approximateAndFullPreviewsArriveEveryNSteps() throws Exception {
        for (GenerationRequest.PreviewMode mode : List.of(GenerationRequest.PreviewMode.APPROX, GenerationRequest.PreviewMode.FULL)) {
            List<StepProgress> steps = new ArrayList<>();
            pipeline.generate(request(1).withSteps(6).withPreview(mode, 2), new GenerationListener() {
                @Override
                public void onStep(StepProgress p) {
                    steps.add(p);
                }
            }, new Cancellation());
            List<Integer> withPreview = steps.stream().filter(p -> p.preview() != null).map(StepProgress::step).toList();
            assertEquals(List.of(2, 4), withPreview, mode.toString());
            BufferedImage preview = ImageIO.read(new ByteArrayInputStream(steps.get(1).preview()));
            int expectedWidth = mode == GenerationRequest.PreviewMode.APPROX ? model.settings().defaults().width() / 8
                    : model.settings().defaults().width();
            assertEquals(expectedWidth, preview.getWidth(), mode.toString());
        }
    }

    @Test
    void aBatchPreviewsOnlyItsFirstImageAndThatPreviewIsTheFirstImagesOwn() throws Exception {
        for (GenerationRequest.PreviewMode mode : List.of(GenerationRequest.PreviewMode.APPROX, GenerationRequest.PreviewMode.FULL)) {
            List<StepProgress> batch = new ArrayList<>();
            pipeline.generate(request(5).withSteps(4).withNumImages(3).withPreview(mode, 2), new GenerationListener() {
                @Override
                public void onStep(StepProgress p) {
                    batch.add(p);
                }
            }, new Cancellation());
            List<StepProgress> alone = new ArrayList<>();
            pipeline.generate(request(5).withSteps(4).withPreview(mode, 2), new GenerationListener() {
                @Override
                public void onStep(StepProgress p) {
                    alone.add(p);
                }
            }, new Cancellation());
            assertEquals(List.of(2), batch.stream().filter(p -> p.preview() != null).map(StepProgress::step).toList());
            assertArrayEquals(alone.get(1).preview(), batch.get(1).preview(), mode + ": the preview is image 0's");
        }
    }

    @Test
    void cancellingAtAStepStopsBeforeTheNextStepRuns() {
        Cancellation cancel = new Cancellation();
        AtomicInteger lastStep = new AtomicInteger();
        GenerationCancelledException e = assertThrows(GenerationCancelledException.class, () ->
                pipeline.generate(request(1).withSteps(50), new GenerationListener() {
                    @Override
                    public void onStep(StepProgress p) {
                        lastStep.set(p.step());
                        if (p.step() == 10) {
                            cancel.cancel();
                        }
                    }
                }, cancel));
        assertEquals(10, lastStep.get());
        assertEquals(10, e.stepsDone());
    }

    @Test
    void imageToImageRunsTheStrengthsShareOfTheSchedule() throws Exception {
        byte[] init = run(request(8)).images().get(0).png();
        List<StepProgress> steps = new ArrayList<>();
        pipeline.generate(request(8).withSteps(10).withInitImage("init.png", 0.3), init, new GenerationListener() {
            @Override
            public void onStep(StepProgress p) {
                steps.add(p);
            }
        }, new Cancellation());
        assertEquals(3, steps.size());
    }

    @Test
    void pngCarriesTheRecipeInItsParametersChunk() throws Exception {
        GenerationResult result = run(request(7).withNegativePrompt("blue"));
        String parameters = PngTest.textChunks(result.images().get(0).png()).get("tEXt:parameters");
        assertEquals("a red circle on a white background\nNegative prompt: blue\nSteps: 4, Sampler: PNDM, CFG scale: "
                + Recipe_number(model.settings().defaults().guidanceScale()) + ", Seed: 7, Size: "
                + model.settings().defaults().width() + "x" + model.settings().defaults().height()
                + ", Model hash: " + model.hash() + ", Model: tiny-random", parameters);
    }

    private static String Recipe_number(double v) {
        return v == Math.rint(v) ? String.format(java.util.Locale.ROOT, "%.1f", v) : String.valueOf(v);
    }

    @Test
    void unsignedSeedsAboveLongMaxAreReportedUnsigned() throws Exception {
        long seed = Long.parseUnsignedLong("18446744073709551615");
        GenerationResult result = run(request(seed).withNumImages(2));
        assertEquals("18446744073709551615", Long.toUnsignedString(result.images().get(0).seed()));
        assertEquals("0", Long.toUnsignedString(result.images().get(1).seed()));
    }

    @Test
    void invalidRequestsNameTheField() {
        assertEquals("width", assertThrows(InvalidRequestException.class, () -> pipeline.checkInputs(request(1).withSize(60, 64))).field());
        assertEquals("numInferenceSteps", assertThrows(InvalidRequestException.class, () -> pipeline.checkInputs(request(1).withSteps(0))).field());
        assertEquals("scheduler", assertThrows(InvalidRequestException.class, () -> pipeline.checkInputs(request(1).withScheduler("nope"))).field());
        assertEquals("guidanceScale", assertThrows(InvalidRequestException.class, () -> pipeline.checkInputs(request(1).withGuidanceScale(Double.NaN))).field());
        assertEquals("initImage", assertThrows(InvalidRequestException.class, () -> pipeline.generate(request(1).withInitImage("three-bytes.png", 0.5), new byte[] {1, 2, 3},
                GenerationListener.NONE, new Cancellation())).field());
    }

    @Test
    void longPromptsAreTruncatedAndTheResultSaysHowManyTokensWereDropped() throws Exception {
        String longPrompt = String.join(" ", java.util.Collections.nCopies(100, "red"));
        GenerationResult result = run(GenerationRequest.of(model.settings().defaults(), longPrompt, 1).withSteps(1));
        assertEquals(25, result.droppedTokens());
    }
}
