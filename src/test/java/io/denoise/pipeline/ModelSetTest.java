package io.denoise.pipeline;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelSetTest {

    @Test
    void readsContractsAndSettingsFromTheFiles() {
        SessionFactory sessions = new SessionFactory(RuntimeOptions.cpu());
        try (ModelSet model = ModelSet.load(TestModels.TINY, sessions)) {
            assertEquals("tiny-random", model.name());
            assertEquals(4, model.latentChannels());
            assertEquals(8, model.vaeScaleFactor());
            assertEquals(ElementType.FLOAT32, model.floatType());
            assertEquals(ElementType.FLOAT32, model.unet().timestepType());
            assertTrue(model.supportsImageToImage());
            assertEquals(10, model.hash().length());
            assertEquals(4, sessions.liveSessions(), "one session per part: text encoder, unet, vae decoder, vae encoder");
        }
        assertEquals(0, sessions.liveSessions(), "close releases every session");
    }

    @Test
    void aMissingPartFailsAtLoadNamingTheFile(@TempDir Path dir) throws IOException {
        copy(TestModels.TINY, dir);
        Files.delete(dir.resolve("vae_decoder").resolve("model.onnx"));
        SessionFactory sessions = new SessionFactory(RuntimeOptions.cpu());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelSet.load(dir, sessions));
        assertTrue(e.getMessage().contains("vae_decoder") && e.getMessage().contains("model.onnx"), e.getMessage());
        assertEquals(0, sessions.liveSessions(), "parts loaded before the failure are closed");
    }

    @Test
    void aMismatchedTensorFailsAtLoadNamingPartAndTensor(@TempDir Path dir) throws IOException {
        copy(TestModels.TINY, dir);
        Files.copy(dir.resolve("vae_encoder").resolve("model.onnx"), dir.resolve("vae_decoder").resolve("model.onnx"),
                StandardCopyOption.REPLACE_EXISTING);
        SessionFactory sessions = new SessionFactory(RuntimeOptions.cpu());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelSet.load(dir, sessions));
        assertTrue(e.getMessage().startsWith("vae_decoder: no input tensor 'latent_sample'"), e.getMessage());
        assertEquals(0, sessions.liveSessions());
    }

    @Test
    void withoutAVaeEncoderImageToImageIsRefusedClearly(@TempDir Path dir) throws Exception {
        copy(TestModels.TINY, dir);
        Files.delete(dir.resolve("vae_encoder").resolve("model.onnx"));
        try (ModelSet model = ModelSet.load(dir, new SessionFactory(RuntimeOptions.cpu()))) {
            assertFalse(model.supportsImageToImage());
            TextToImagePipeline pipeline = new TextToImagePipeline(model, TextToImagePipeline.Limits.DEFAULT);
            InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> pipeline.checkInputs(
                    GenerationRequest.of(model.settings().defaults(), "x", 1).withInitImage("init.png", 0.5)));
            assertEquals("initImage", e.field());
        }
    }

    @Test
    void aCancelledGenerationTerminatesTheOnnxRuntimeRunInFlight() throws Exception {
        SessionFactory sessions = new SessionFactory(RuntimeOptions.cpu());
        try (ModelSet model = ModelSet.load(TestModels.TINY, sessions);
             OrtSession.RunOptions runOptions = new OrtSession.RunOptions();
             NativeTensor states = NativeTensor.allocate(sessions.environment(), ElementType.FLOAT32, 1, 77, 32);
             UNet.Invocation unet = model.unet().prepare(sessions.environment(), 1, 4, 8, 8, states)) {
            Cancellation cancel = new Cancellation();
            cancel.attach(runOptions);
            float[] io = new float[4 * 8 * 8];
            unet.run(io, 500, io, runOptions, new InferenceStats());
            cancel.cancel();
            assertThrows(OrtException.class, () -> unet.run(io, 500, io, runOptions, new InferenceStats()),
                    "the run options carry the terminate flag");
        }
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
