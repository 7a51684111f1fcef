package io.denoise.pipeline;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * One generation's object: its native memory is freed exactly once whatever the outcome, and its text states are
 * the text encoder's own output, in the model's float type, laid out as the UNet takes them.
 */
class GenerationTest {

    private static SessionFactory sessions;
    private static ModelSet tiny;
    private static ModelSet fp16;
    private static TextToImagePipeline pipeline;

    @BeforeAll
    static void load() {
        sessions = new SessionFactory(new RuntimeOptions("cpu", 0, 1));
        tiny = ModelSet.load(TestModels.TINY, sessions);
        fp16 = ModelSet.load(TestModels.SHAPES_FP16, sessions);
        pipeline = new TextToImagePipeline(tiny, TextToImagePipeline.Limits.DEFAULT);
    }

    @AfterAll
    static void close() {
        fp16.close();
        tiny.close();
        assertEquals(0, sessions.liveSessions(), "every session closed");
    }

    private static GenerationRequest request(ModelSet model) {
        return GenerationRequest.of(model.settings().defaults(), "a red circle on a white background", 3).withSteps(4);
    }

    @Test
    void everyNativeTensorIsClosedWhateverTheOutcome() throws Exception {
        byte[] init = pipeline.generate(request(tiny), GenerationListener.NONE, new Cancellation()).images().get(0).png();
        int live = NativeTensor.live();
        GenerationListener failingStep = new GenerationListener() {
            @Override
            public void onStep(StepProgress p) {
                throw new IllegalStateException("listener failed");
            }
        };
        GenerationListener failingImage = new GenerationListener() {
            @Override
            public void onImage(GeneratedImage image) {
                throw new IllegalStateException("listener failed");
            }
        };
        Cancellation cancelled = new Cancellation();
        cancelled.cancel();
        Map<String, Executable> outcomes = Map.of(
                "guided batch with full previews", () -> pipeline.generate(request(tiny).withNumImages(3)
                        .withPreview(GenerationRequest.PreviewMode.FULL, 1), GenerationListener.NONE, new Cancellation()),
                "unguided", () -> pipeline.generate(request(tiny).withGuidanceScale(1.0), GenerationListener.NONE,
                        new Cancellation()),
                "image-to-image", () -> pipeline.generate(request(tiny).withNumImages(2).withInitImage("init.png", 0.5), init,
                        GenerationListener.NONE, new Cancellation()),
                "cancelled", () -> assertThrows(GenerationCancelledException.class,
                        () -> pipeline.generate(request(tiny), GenerationListener.NONE, cancelled)),
                "listener failing at a step", () -> assertThrows(IllegalStateException.class,
                        () -> pipeline.generate(request(tiny), failingStep, new Cancellation())),
                "listener failing at an image", () -> assertThrows(IllegalStateException.class,
                        () -> pipeline.generate(request(tiny).withNumImages(2), failingImage, new Cancellation())),
                "invalid init image", () -> assertThrows(InvalidRequestException.class,
                        () -> pipeline.generate(request(tiny).withInitImage("x.png", 0.5), new byte[] {1, 2, 3},
                                GenerationListener.NONE, new Cancellation())));
        for (Map.Entry<String, Executable> outcome : outcomes.entrySet()) {
            try {
                outcome.getValue().execute();
            } catch (Throwable t) {
                throw new AssertionError(outcome.getKey(), t);
            }
            assertEquals(live, NativeTensor.live(), outcome.getKey() + ": native tensors left open");
        }
    }

    @Test
    void aGenerationIsClosedExactlyOnce() throws Exception {
        int live = NativeTensor.live();
        Generation g = new Generation(tiny, request(tiny), null);
        assertEquals(live + 1, NativeTensor.live(), "the text states");
        g.close();
        assertEquals(live, NativeTensor.live());
        assertThrows(IllegalStateException.class, g::close);
    }

    @Test
    void textStatesAreTheNegativeRowsThenThePositiveRowsOncePerImage() throws Exception {
        for (ModelSet model : new ModelSet[] {tiny, fp16}) {
            GenerationRequest r = request(model).withNegativePrompt("blue");
            short[][] one = rows(model, r, 2);
            short[][] three = rows(model, r.withNumImages(3), 6);
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(one[0], three[i], model.name() + ": negative row " + i);
                assertArrayEquals(one[1], three[3 + i], model.name() + ": positive row " + (3 + i));
            }
            short[][] unguided = rows(model, r.withGuidanceScale(1.0).withNumImages(2), 2);
            assertArrayEquals(rows(model, r.withGuidanceScale(1.0), 1)[0], unguided[1], model.name() + ": unguided");
            assertArrayEquals(unguided[0], unguided[1], model.name() + ": unguided");
        }
    }

    @Test
    void float16TextStatesAreTheEncodersOutputBitForBit() throws Exception {
        GenerationRequest r = request(fp16).withNegativePrompt("blue").withNumImages(2);
        long[][] ids = {fp16.tokenizer().encode("blue").ids(), fp16.tokenizer().encode(r.prompt()).ids()};
        short[] expected;
        try (NativeTensor input = NativeTensor.allocate(sessions.environment(), fp16.textEncoder().idType(), 2, ids[0].length);
             OrtSession.RunOptions options = new OrtSession.RunOptions()) {
            input.putLongs(0, ids[0]);
            input.putLongs(ids[0].length, ids[1]);
            try (OrtSession.Result result = fp16.textEncoder().run(Map.of(TextEncoder.INPUT_IDS, input.onnx()),
                    Set.of(TextEncoder.LAST_HIDDEN_STATE), Map.of(), options, new InferenceStats())) {
                OnnxTensor hidden = (OnnxTensor) result.get(TextEncoder.LAST_HIDDEN_STATE).orElseThrow();
                ShortBuffer raw = hidden.getShortBuffer();
                expected = new short[raw.remaining()];
                raw.get(expected);
            }
        }
        short[][] rows = rows(fp16, r, 4);
        int row = expected.length / 2;
        assertEquals(ElementType.FLOAT16, fp16.textEncoder().outputType());
        assertArrayEquals(Arrays.copyOfRange(expected, 0, row), rows[0], "negative");
        assertArrayEquals(Arrays.copyOfRange(expected, 0, row), rows[1], "negative");
        assertArrayEquals(Arrays.copyOfRange(expected, row, 2 * row), rows[2], "positive");
        assertArrayEquals(Arrays.copyOfRange(expected, row, 2 * row), rows[3], "positive");
    }

    /** The raw 16-bit halves of each row of a generation's text states (float32 values read as two halves each). */
    private static short[][] rows(ModelSet model, GenerationRequest r, int expectedRows) throws Exception {
        try (Generation g = new Generation(model, r, null)) {
            g.encodePrompt();
            NativeTensor states = g.textStates();
            assertEquals(model.floatType(), states.type());
            long[] shape = states.shape();
            assertArrayEquals(new long[] {expectedRows, 77, model.textHiddenSize()}, shape);
            ShortBuffer raw = rawHalves(states);
            short[][] rows = new short[expectedRows][];
            int row = raw.remaining() / expectedRows;
            for (int i = 0; i < expectedRows; i++) {
                rows[i] = new short[row];
                raw.get(rows[i]);
            }
            return rows;
        }
    }

    private static ShortBuffer rawHalves(NativeTensor states) throws Exception {
        return states.onnx().getByteBuffer().order(ByteOrder.nativeOrder()).asShortBuffer();
    }
}
