package io.denoise.pipeline;

import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Iteration-level batching: a generation run in a {@link BatchedLoop}, beside others that differ in everything but
 * model and size and that join and leave at other steps, gives what it gives alone — the same final latents and
 * the same PNG bytes, previews included — on a UNet that takes a timestep per row ({@code shapes}) and on one that
 * takes one per call ({@code tiny-random}, grouped by timestep).
 */
class BatchedLoopTest {

    private static SessionFactory sessions;
    private static ModelSet shapes;
    private static ModelSet tiny;
    private static TextToImagePipeline shapesPipeline;
    private static TextToImagePipeline tinyPipeline;

    @BeforeAll
    static void load() {
        sessions = new SessionFactory(new RuntimeOptions("cpu", 0, 1));
        shapes = ModelSet.load(TestModels.SHAPES, sessions);
        tiny = ModelSet.load(TestModels.TINY, sessions);
        shapesPipeline = new TextToImagePipeline(shapes, TextToImagePipeline.Limits.DEFAULT);
        tinyPipeline = new TextToImagePipeline(tiny, TextToImagePipeline.Limits.DEFAULT);
    }

    @AfterAll
    static void close() {
        tiny.close();
        shapes.close();
        assertEquals(0, sessions.liveSessions(), "every session closed");
    }

    /** What a listener saw: the steps as reported (step/total@timestep) and the previews and images' bytes. */
    private static final class Recorder implements GenerationListener {
        final List<String> steps = new ArrayList<>();
        final List<byte[]> previews = new ArrayList<>();
        final List<byte[]> images = new ArrayList<>();

        @Override
        public void onStep(StepProgress p) {
            steps.add(p.step() + "/" + p.totalSteps() + "@" + p.timestep());
            if (p.preview() != null) {
                previews.add(p.preview());
            }
        }

        @Override
        public void onImage(GeneratedImage image) {
            images.add(image.png());
        }
    }

    private record Job(GenerationRequest request, byte[] initImage, int joinAtStep) {
    }

    /**
     * Different step counts, schedulers (pndm, euler-ancestral, dpmpp-2m), guidance (1 and 2.5), image counts (1
     * and 2), previews, an image-to-image job; two join after three steps of the others.
     */
    private static List<Job> jobs(ModelSet model, int size, byte[] init) {
        GenerationRequest base = GenerationRequest.of(model.settings().defaults(), "a red circle on a white background", 11)
                .withSize(size, size);
        return List.of(
                new Job(base.withSteps(12).withScheduler("pndm").withGuidanceScale(2.5), null, 0),
                new Job(GenerationRequest.of(model.settings().defaults(), "a blue square on a black background", 22)
                        .withSize(size, size).withSteps(6).withScheduler("euler-ancestral").withGuidanceScale(1.0)
                        .withNumImages(2), null, 0),
                new Job(GenerationRequest.of(model.settings().defaults(), "a green triangle on a gray background", 33)
                        .withSize(size, size).withSteps(9).withScheduler("dpmpp-2m").withGuidanceScale(2.5)
                        .withNegativePrompt("red").withNumImages(2)
                        .withPreview(GenerationRequest.PreviewMode.FULL, 2), null, 0),
                new Job(GenerationRequest.of(model.settings().defaults(), "a yellow circle on a black background", 44)
                        .withSize(size, size).withSteps(8).withScheduler("euler-ancestral").withGuidanceScale(2.5)
                        .withPreview(GenerationRequest.PreviewMode.APPROX, 3), null, 3),
                new Job(base.withSteps(10).withScheduler("pndm").withGuidanceScale(2.5).withInitImage("init.png", 0.6),
                        init, 3));
    }

    @Test
    void timestepModeIsTheExports() {
        assertTrue(shapes.timestepPerSample(), "shapes: int64 timestep [batch]");
        assertFalse(tiny.timestepPerSample(), "tiny-random: float32 timestep [1]");
    }

    @Test
    void aJobInABatchGivesWhatItGivesAloneWithATimestepPerRow() throws Exception {
        assertSameAsAlone(shapesPipeline, 64);
    }

    @Test
    void aJobInABatchGivesWhatItGivesAloneInFloat16() throws Exception {
        try (ModelSet fp16 = ModelSet.load(TestModels.SHAPES_FP16, sessions)) {
            assertSameAsAlone(new TextToImagePipeline(fp16, TextToImagePipeline.Limits.DEFAULT), 64);
        }
    }

    @Test
    void aJobInABatchGivesWhatItGivesAloneWhenTheUNetTakesOneTimestepPerCall() throws Exception {
        assertSameAsAlone(tinyPipeline, 32);
    }

    private static void assertSameAsAlone(TextToImagePipeline pipeline, int size) throws Exception {
        ModelSet model = pipeline.model();
        byte[] init = pipeline.generate(GenerationRequest.of(model.settings().defaults(), "a purple square", 5)
                .withSize(size, size).withSteps(3), GenerationListener.NONE, new Cancellation()).images().get(0).png();
        List<Job> jobs = jobs(model, size, init);
        List<GenerationResult> alone = new ArrayList<>();
        List<Recorder> aloneSeen = new ArrayList<>();
        for (Job job : jobs) {
            Recorder seen = new Recorder();
            alone.add(pipeline.generate(job.request(), job.initImage(), seen, new Cancellation()));
            aloneSeen.add(seen);
        }

        int live = NativeTensor.live();
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        List<Recorder> batchSeen = new ArrayList<>();
        List<Integer> callsPerStep = new ArrayList<>();
        try (BatchedLoop loop = pipeline.batchedLoop(jobs.size())) {
            for (int step = 0; futures.size() < jobs.size() || !loop.isEmpty(); step++) {
                for (Job job : jobs) {
                    if (job.joinAtStep() == step) {
                        Recorder seen = new Recorder();
                        futures.add(loop.add(job.request(), job.initImage(), seen, new Cancellation()));
                        batchSeen.add(seen);
                    }
                }
                callsPerStep.add(loop.step());
            }
        }
        assertEquals(live, NativeTensor.live(), "native tensors left open");

        double maxLatent = 0;
        int maxPixel = 0;
        boolean pngsIdentical = true;
        for (int j = 0; j < jobs.size(); j++) {
            GenerationResult a = alone.get(j);
            GenerationResult b = futures.get(j).get();
            String job = model.name() + " job " + j;
            assertEquals(a.modelCalls(), b.modelCalls(), job);
            assertEquals(aloneSeen.get(j).steps, batchSeen.get(j).steps, job + ": steps reported");
            assertEquals(a.finalLatents().length, b.finalLatents().length, job);
            for (int i = 0; i < a.finalLatents().length; i++) {
                maxLatent = Math.max(maxLatent, Math.abs(a.finalLatents()[i] - b.finalLatents()[i]));
            }
            assertEquals(a.images().size(), b.images().size(), job);
            for (int i = 0; i < a.images().size(); i++) {
                byte[] pa = a.images().get(i).png();
                byte[] pb = b.images().get(i).png();
                maxPixel = Math.max(maxPixel, maxPixelDifference(pa, pb));
                pngsIdentical &= java.util.Arrays.equals(pa, pb);
            }
            assertEquals(aloneSeen.get(j).previews.size(), batchSeen.get(j).previews.size(), job + ": previews");
            for (int i = 0; i < aloneSeen.get(j).previews.size(); i++) {
                assertArrayEquals(aloneSeen.get(j).previews.get(i), batchSeen.get(j).previews.get(i), job + ": preview " + i);
            }
        }
        System.out.printf(Locale.ROOT, "%s: batched vs alone: max |latent difference| %g, max pixel difference %d, "
                + "PNGs identical: %b; UNet calls per step %s%n", model.name(), maxLatent, maxPixel, pngsIdentical,
                callsPerStep);
        assertEquals(0.0, maxLatent, model.name() + ": final latents bit for bit");
        assertTrue(pngsIdentical, model.name() + ": PNG bytes");
        if (model.timestepPerSample()) {
            assertTrue(callsPerStep.stream().allMatch(c -> c == 1), "one call per step: " + callsPerStep);
        } else {
            assertTrue(callsPerStep.stream().anyMatch(c -> c > 1), "grouped by timestep: " + callsPerStep);
        }
    }

    @Test
    void generationsAtTheSameTimestepShareOneCallWhenTheUNetTakesOneTimestep() throws Exception {
        GenerationRequest r = GenerationRequest.of(tiny.settings().defaults(), "a red circle", 1).withSize(32, 32)
                .withSteps(4).withScheduler("euler").withGuidanceScale(2.5);
        try (BatchedLoop loop = tinyPipeline.batchedLoop(3)) {
            List<CompletableFuture<GenerationResult>> futures = List.of(
                    loop.add(r, null, GenerationListener.NONE, new Cancellation()),
                    loop.add(r.toBuilder().seed(2).build().withGuidanceScale(1.0), null, GenerationListener.NONE, new Cancellation()),
                    loop.add(r.toBuilder().seed(3).build().withNumImages(2), null, GenerationListener.NONE, new Cancellation()));
            for (int i = 0; i < 4; i++) {
                assertEquals(1, loop.step(), "step " + i + ": all three at one timestep");
            }
            assertTrue(loop.isEmpty());
            for (CompletableFuture<GenerationResult> f : futures) {
                assertTrue(f.isDone() && !f.isCompletedExceptionally());
            }
        }
    }

    @Test
    void cancellingOneLeavesTheOthersRunningAndUnaffected() throws Exception {
        GenerationRequest base = GenerationRequest.of(shapes.settings().defaults(), "a red circle on a white background", 7)
                .withSteps(8);
        List<GenerationRequest> requests = List.of(base, base.toBuilder().seed(8).build().withScheduler("euler-ancestral"),
                base.toBuilder().seed(9).build().withNumImages(2));
        List<GenerationResult> alone = new ArrayList<>();
        for (GenerationRequest r : requests) {
            alone.add(shapesPipeline.generate(r, GenerationListener.NONE, new Cancellation()));
        }
        int live = NativeTensor.live();
        Cancellation cancel = new Cancellation();
        List<Integer> cancelledSaw = new ArrayList<>();
        try (BatchedLoop loop = shapesPipeline.batchedLoop(3)) {
            CompletableFuture<GenerationResult> first = loop.add(requests.get(0), null, GenerationListener.NONE, new Cancellation());
            CompletableFuture<GenerationResult> cancelled = loop.add(requests.get(1), null, new GenerationListener() {
                @Override
                public void onStep(StepProgress p) {
                    cancelledSaw.add(p.step());
                    if (p.step() == 3) {
                        cancel.cancel();
                    }
                }
            }, cancel);
            CompletableFuture<GenerationResult> third = loop.add(requests.get(2), null, GenerationListener.NONE, new Cancellation());
            boolean sawItLeave = false;
            while (!loop.isEmpty()) {
                loop.step();
                if (cancelled.isDone() && !sawItLeave) {
                    sawItLeave = true;
                    assertEquals(2, loop.size(), "the other two still running");
                }
            }
            ExecutionException e = assertThrows(ExecutionException.class, cancelled::get);
            GenerationCancelledException c = assertInstanceOf(GenerationCancelledException.class, e.getCause());
            assertEquals(3, c.stepsDone());
            assertEquals(List.of(1, 2, 3), cancelledSaw, "no step after the cancel");
            assertSameImages(alone.get(0), first.get());
            assertSameImages(alone.get(2), third.get());
        }
        assertEquals(live, NativeTensor.live(), "native tensors left open");
    }

    @Test
    void aListenerThatThrowsFailsItsOwnGenerationOnly() throws Exception {
        GenerationRequest r = GenerationRequest.of(tiny.settings().defaults(), "a red circle", 4).withSize(32, 32).withSteps(5);
        GenerationResult alone = tinyPipeline.generate(r, GenerationListener.NONE, new Cancellation());
        int live = NativeTensor.live();
        try (BatchedLoop loop = tinyPipeline.batchedLoop(2)) {
            CompletableFuture<GenerationResult> ok = loop.add(r, null, GenerationListener.NONE, new Cancellation());
            CompletableFuture<GenerationResult> failing = loop.add(r.toBuilder().seed(5).build(), null,
                    new GenerationListener() {
                        @Override
                        public void onStep(StepProgress p) {
                            if (p.step() == 2) {
                                throw new IllegalStateException("listener failed");
                            }
                        }
                    }, new Cancellation());
            while (!loop.isEmpty()) {
                loop.step();
            }
            ExecutionException e = assertThrows(ExecutionException.class, failing::get);
            assertEquals("listener failed", e.getCause().getMessage());
            assertSameImages(alone, ok.get());
        }
        assertEquals(live, NativeTensor.live(), "native tensors left open");
    }

    @Test
    void anInvalidRequestIsRefusedAtAddWithoutDisturbingTheBatch() throws Exception {
        GenerationRequest r = GenerationRequest.of(shapes.settings().defaults(), "a green square on a gray background", 3)
                .withSteps(6);
        GenerationResult alone = shapesPipeline.generate(r, GenerationListener.NONE, new Cancellation());
        int live = NativeTensor.live();
        try (BatchedLoop loop = shapesPipeline.batchedLoop(2)) {
            CompletableFuture<GenerationResult> f = loop.add(r, null, GenerationListener.NONE, new Cancellation());
            loop.step();
            assertThrows(InvalidRequestException.class, () -> loop.add(r.withSteps(0), null, GenerationListener.NONE,
                    new Cancellation()));
            assertThrows(InvalidRequestException.class, () -> loop.add(r.withInitImage("x.png", 0.5), new byte[] {1, 2, 3},
                    GenerationListener.NONE, new Cancellation()));
            assertThrows(InvalidRequestException.class, () -> loop.add(r.withInitImage("x.png", 0.5), null,
                    GenerationListener.NONE, new Cancellation()));
            assertFalse(loop.accepts(r.withSize(128, 128)), "another latent size");
            assertThrows(IllegalStateException.class, () -> loop.add(r.withSize(128, 128), null,
                    GenerationListener.NONE, new Cancellation()));
            assertEquals(1, loop.size());
            while (!loop.isEmpty()) {
                loop.step();
            }
            assertSameImages(alone, f.get());
            assertTrue(loop.accepts(r.withSize(128, 128)), "an empty loop takes any size");
        }
        assertEquals(live, NativeTensor.live(), "native tensors left open");
    }

    @Test
    void aGenerationPreparedOnAnotherThreadJoinsAsAddWouldAndOneNeverTakenIsFreedByItsClose() throws Exception {
        GenerationRequest r = GenerationRequest.of(shapes.settings().defaults(), "a blue circle on a white background", 8)
                .withSteps(7);
        GenerationResult alone = shapesPipeline.generate(r, GenerationListener.NONE, new Cancellation());
        int live = NativeTensor.live();
        try (BatchedLoop loop = shapesPipeline.batchedLoop(1)) {
            PreparedGeneration prepared = CompletableFuture.supplyAsync(() -> {
                try {
                    return shapesPipeline.prepare(r, null, GenerationListener.NONE, new Cancellation());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).get();
            CompletableFuture<GenerationResult> f = loop.add(prepared);
            prepared.close();
            assertThrows(IllegalStateException.class, () -> loop.add(prepared), "taken once");
            PreparedGeneration extra = shapesPipeline.prepare(r, null, GenerationListener.NONE, new Cancellation());
            assertThrows(IllegalStateException.class, () -> loop.add(extra), "the loop is full");
            extra.close();
            extra.close();
            while (!loop.isEmpty()) {
                loop.step();
            }
            assertSameImages(alone, f.get());
        }
        assertEquals(live, NativeTensor.live(), "native tensors left open");
    }

    @Test
    void closingFailsWhatIsHeldAndFreesEverythingOnce() throws Exception {
        GenerationRequest r = GenerationRequest.of(tiny.settings().defaults(), "a red circle", 4).withSize(32, 32).withSteps(5);
        int live = NativeTensor.live();
        BatchedLoop loop = tinyPipeline.batchedLoop(2);
        CompletableFuture<GenerationResult> f = loop.add(r, null, GenerationListener.NONE, new Cancellation());
        Cancellation cancelled = new Cancellation();
        cancelled.cancel();
        CompletableFuture<GenerationResult> early = loop.add(r, null, GenerationListener.NONE, cancelled);
        assertInstanceOf(GenerationCancelledException.class,
                assertThrows(ExecutionException.class, early::get).getCause(), "cancelled before it joined");
        assertEquals(1, loop.size());
        loop.step();
        assertTrue(NativeTensor.live() > live);
        loop.close();
        assertEquals(live, NativeTensor.live(), "native tensors left open");
        assertInstanceOf(IllegalStateException.class, assertThrows(ExecutionException.class, f::get).getCause());
        loop.close();
        assertThrows(IllegalStateException.class, loop::step);
        assertFalse(loop.accepts(r));
    }

    private static void assertSameImages(GenerationResult expected, GenerationResult actual) {
        assertArrayEquals(expected.finalLatents(), actual.finalLatents());
        assertEquals(expected.images().size(), actual.images().size());
        for (int i = 0; i < expected.images().size(); i++) {
            assertArrayEquals(expected.images().get(i).png(), actual.images().get(i).png(), "image " + i);
        }
    }

    private static int maxPixelDifference(byte[] a, byte[] b) throws IOException {
        BufferedImage ia = ImageIO.read(new ByteArrayInputStream(a));
        BufferedImage ib = ImageIO.read(new ByteArrayInputStream(b));
        assertEquals(ia.getWidth(), ib.getWidth());
        assertEquals(ia.getHeight(), ib.getHeight());
        int max = 0;
        for (int y = 0; y < ia.getHeight(); y++) {
            for (int x = 0; x < ia.getWidth(); x++) {
                int pa = ia.getRGB(x, y);
                int pb = ib.getRGB(x, y);
                for (int shift = 0; shift <= 16; shift += 8) {
                    max = Math.max(max, Math.abs(((pa >> shift) & 0xff) - ((pb >> shift) & 0xff)));
                }
            }
        }
        return max;
    }
}
