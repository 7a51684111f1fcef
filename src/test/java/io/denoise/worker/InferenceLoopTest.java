package io.denoise.worker;

import io.denoise.pipeline.Cancellation;
import io.denoise.pipeline.GeneratedImage;
import io.denoise.pipeline.GenerationCancelledException;
import io.denoise.pipeline.GenerationListener;
import io.denoise.pipeline.GenerationResult;
import io.denoise.pipeline.ModelSet;
import io.denoise.pipeline.RuntimeOptions;
import io.denoise.pipeline.SessionFactory;
import io.denoise.pipeline.StepProgress;
import io.denoise.pipeline.TextToImagePipeline;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The worker's inference thread on the shapes model: generations handed in from several job threads at once run
 * together step by step and give the PNG bytes they give alone; sizes that cannot share a call run in turn; a
 * cancelled or invalid generation fails on its own; {@link InferenceLoop#hasRoom()} stops at the job limit and the
 * step budget; and with one job per batch nothing is batched.
 */
class InferenceLoopTest {

    private static SessionFactory sessions;
    private static ModelSet shapes;
    private static TextToImagePipeline pipeline;
    private final List<InferenceLoop> loops = new ArrayList<>();

    @BeforeAll
    static void load() {
        sessions = new SessionFactory(new RuntimeOptions("cpu", 0, 1));
        shapes = ModelSet.load(Path.of("models", "shapes"), sessions);
        pipeline = new TextToImagePipeline(shapes, TextToImagePipeline.Limits.DEFAULT);
    }

    @AfterAll
    static void close() {
        shapes.close();
        assertEquals(0, sessions.liveSessions(), "every session closed");
    }

    @AfterEach
    void stopLoops() {
        loops.forEach(InferenceLoop::stop);
    }

    private InferenceLoop loop(int maxBatchJobs, Duration stepBudget) {
        InferenceLoop loop = new InferenceLoop();
        loop.config = JobRunnerTest.workerConfig(maxBatchJobs, stepBudget);
        loops.add(loop);
        return loop;
    }

    /** What a listener saw: each step as {@code label:step} in one shared log, the thread, and the images. */
    private static final class Recorder implements GenerationListener {
        final String label;
        final List<String> log;
        final List<byte[]> images = new ArrayList<>();
        volatile String thread;
        volatile Runnable atStep = () -> { };

        Recorder(String label, List<String> log) {
            this.label = label;
            this.log = log;
        }

        @Override
        public void onStep(StepProgress p) {
            thread = Thread.currentThread().getName();
            log.add(label + ":" + p.step());
            atStep.run();
        }

        @Override
        public void onImage(GeneratedImage image) {
            images.add(image.png());
        }
    }

    private static GenerationRequest request(String prompt, long seed) {
        return GenerationRequest.of(shapes.settings().defaults(), prompt, seed);
    }

    /** The first image of the request generated alone, straight through the pipeline. */
    private static byte[] alone(GenerationRequest r) throws Exception {
        return pipeline.generate(r, GenerationListener.NONE, new Cancellation()).images().get(0).png();
    }

    /** Hands every request in from a thread of its own, all at once, and waits for their results. */
    private static List<GenerationResult> together(InferenceLoop loop, List<GenerationRequest> requests,
                                                   List<Recorder> recorders) {
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<GenerationResult>> results = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            GenerationRequest r = requests.get(i);
            Recorder seen = recorders.get(i);
            results.add(CompletableFuture.supplyAsync(() -> {
                try {
                    go.await();
                    return loop.generate(pipeline, r, null, seen, new Cancellation());
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            }, r2 -> new Thread(r2, "job-" + seen.label).start()));
        }
        go.countDown();
        return results.stream().map(CompletableFuture::join).toList();
    }

    @Test
    void generationsHandedInTogetherRunStepByStepTogetherAndGiveWhatTheyGiveAlone() throws Exception {
        List<GenerationRequest> requests = List.of(
                request("a red circle on a white background", 1).withSteps(12),
                request("a blue square on a black background", 2).withSteps(6).withScheduler("euler-ancestral")
                        .withGuidanceScale(1.0),
                request("a green triangle on a gray background", 3).withSteps(9).withScheduler("dpmpp-2m")
                        .withNumImages(2),
                request("a yellow circle on a black background", 4).withSteps(8).withNegativePrompt("red"));
        List<byte[]> alone = new ArrayList<>();
        for (GenerationRequest r : requests) {
            alone.addAll(pipeline.generate(r, GenerationListener.NONE, new Cancellation()).images().stream()
                    .map(GeneratedImage::png).toList());
        }

        List<String> log = Collections.synchronizedList(new ArrayList<>());
        List<Recorder> recorders = List.of(new Recorder("a", log), new Recorder("b", log), new Recorder("c", log),
                new Recorder("d", log));
        List<GenerationResult> results = together(loop(4, Duration.ofHours(1)), requests, recorders);

        List<byte[]> batched = results.stream().flatMap(r -> r.images().stream()).map(GeneratedImage::png).toList();
        assertEquals(alone.size(), batched.size());
        for (int i = 0; i < alone.size(); i++) {
            assertArrayEquals(alone.get(i), batched.get(i), "image " + i + ": the same PNG bytes as alone");
        }
        for (Recorder r : recorders) {
            assertEquals("inference", r.thread, r.label + " ran on the inference thread");
        }
        // the steps interleave: every generation's first step comes before the longest one's last
        int lastOfA = log.indexOf("a:12");
        for (String label : List.of("b", "c", "d")) {
            assertTrue(log.indexOf(label + ":1") < lastOfA, label + " joined while a ran: " + log);
        }
    }

    @Test
    void generationsOfDifferentSizesRunInLoopsOfTheirOwnSteppedInTurn() throws Exception {
        List<GenerationRequest> requests = List.of(request("a red circle", 5).withSteps(6),
                request("a blue square", 6).withSteps(6).withSize(32, 32));
        List<byte[]> alone = List.of(alone(requests.get(0)), alone(requests.get(1)));
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        List<GenerationResult> results = together(loop(4, Duration.ofHours(1)), requests,
                List.of(new Recorder("big", log), new Recorder("small", log)));
        for (int i = 0; i < 2; i++) {
            assertArrayEquals(alone.get(i), results.get(i).images().get(0).png(), "request " + i);
        }
        assertTrue(log.indexOf("small:1") < log.indexOf("big:6") && log.indexOf("big:1") < log.indexOf("small:6"),
                "stepped in turn: " + log);
    }

    @Test
    void aCancelledGenerationLeavesAtAStepBoundaryAndTheOthersFinishAsAlone() throws Exception {
        InferenceLoop loop = loop(4, Duration.ofHours(1));
        GenerationRequest kept = request("a red circle", 7).withSteps(10);
        byte[] alone = alone(kept);
        Cancellation cancel = new Cancellation();
        List<String> log = new CopyOnWriteArrayList<>();
        Recorder cancelled = new Recorder("x", log);
        cancelled.atStep = () -> {
            if (log.contains("x:3")) {
                cancel.cancel();
            }
        };
        CompletableFuture<Exception> failure = CompletableFuture.supplyAsync(() -> {
            try {
                loop.generate(pipeline, request("a blue square", 8).withSteps(10), null, cancelled, cancel);
                return null;
            } catch (Exception e) {
                return e;
            }
        });
        GenerationResult result = loop.generate(pipeline, kept, null, new Recorder("k", log), new Cancellation());
        assertInstanceOf(GenerationCancelledException.class, failure.get(30, TimeUnit.SECONDS));
        assertFalse(log.contains("x:5"), "stopped within one step of the cancel: " + log);
        assertArrayEquals(alone, result.images().get(0).png(), "the other generation is unaffected");
        assertEquals(0, loop.held());
    }

    @Test
    void anInvalidRequestFailsItsOwnCallWithTheRuleItBroke() {
        InferenceLoop loop = loop(4, Duration.ofHours(1));
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> loop.generate(pipeline,
                request("a red circle", 9).withSteps(10_000), null, GenerationListener.NONE, new Cancellation()));
        assertEquals("numInferenceSteps", e.field());
        assertEquals(0, loop.held());
    }

    @Test
    void roomEndsAtTheJobLimitAndAtTheStepBudget() throws Exception {
        InferenceLoop generous = loop(2, Duration.ofHours(1));
        assertTrue(generous.hasRoom(), "an idle loop has room");
        List<Boolean> seenGenerous = new CopyOnWriteArrayList<>();
        List<String> log = new CopyOnWriteArrayList<>();
        Recorder one = new Recorder("one", log);
        one.atStep = () -> seenGenerous.add(generous.hasRoom());
        generous.generate(pipeline, request("a red circle", 10).withSteps(5), null, one, new Cancellation());
        assertTrue(seenGenerous.stream().allMatch(b -> b), "one of two held, within the budget: room " + seenGenerous);

        InferenceLoop full = loop(2, Duration.ofHours(1));
        List<Recorder> two = List.of(new Recorder("p", log), new Recorder("q", log));
        List<Boolean> seenFull = new CopyOnWriteArrayList<>();
        two.get(0).atStep = () -> seenFull.add(full.hasRoom());
        together(full, List.of(request("a red circle", 11).withSteps(5), request("a blue square", 12).withSteps(5)), two);
        assertTrue(seenFull.contains(false), "two of two held: no room " + seenFull);

        InferenceLoop tight = loop(8, Duration.ofNanos(1));
        List<Boolean> seenTight = new CopyOnWriteArrayList<>();
        Recorder alone = new Recorder("t", log);
        alone.atStep = () -> seenTight.add(tight.hasRoom());
        tight.generate(pipeline, request("a red circle", 13).withSteps(5), null, alone, new Cancellation());
        assertFalse(seenTight.get(seenTight.size() - 1), "a step over the budget: no room " + seenTight);
        assertTrue(tight.hasRoom(), "nothing held: room again");
    }

    @Test
    void roomCountsTheJobsTakenFollowsTheAverageRoundNotOneSlowOneAndRejoiningNeedsAMargin() {
        InferenceLoop loop = loop(8, Duration.ofMillis(100));
        loop.noteRound(40_000_000, 2);
        assertTrue(loop.hasRoom(4), "4 taken: 5 × 20 ms = 100 ms, within the budget");
        assertFalse(loop.hasRoom(5), "5 taken: 6 × 20 ms is over the budget, though none was handed in yet");
        assertFalse(loop.hasRoomToRejoin(4), "coming back needs 90 % of the budget: 100 ms is not");
        assertTrue(loop.hasRoomToRejoin(3), "4 × 20 ms is");
        loop.noteRound(200_000_000, 2);
        assertTrue(loop.hasRoom(1), "one slow round moves the average to 40 ms: two generations still fit");
        assertFalse(loop.hasRoom(2), "three at 40 ms do not");
        assertFalse(loop(8, Duration.ofHours(1)).hasRoom(8), "8 taken of 8: no room whatever the budget");
        assertTrue(loop.hasRoom(0), "nothing taken: room");
    }

    @Test
    void withOneJobPerBatchAGenerationRunsAloneOnItsCallersThread() throws Exception {
        InferenceLoop off = loop(1, Duration.ofHours(1));
        assertFalse(off.batching());
        Recorder seen = new Recorder("solo", new ArrayList<>());
        GenerationRequest r = request("a red circle", 14).withSteps(4);
        GenerationResult result = off.generate(pipeline, r, null, seen, new Cancellation());
        assertEquals(Thread.currentThread().getName(), seen.thread);
        assertArrayEquals(alone(r), result.images().get(0).png());
    }

    @Test
    void afterStopNothingMoreIsTaken() throws Exception {
        InferenceLoop loop = loop(4, Duration.ofHours(1));
        loop.generate(pipeline, request("a red circle", 15).withSteps(3), null, GenerationListener.NONE, new Cancellation());
        loop.stop();
        assertThrows(IllegalStateException.class, () -> loop.generate(pipeline, request("a red circle", 16).withSteps(3),
                null, GenerationListener.NONE, new Cancellation()));
        assertEquals(0, loop.held());
    }
}
