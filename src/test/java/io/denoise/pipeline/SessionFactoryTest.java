package io.denoise.pipeline;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SessionFactoryTest {

    private static final Path UNET = TestModels.TINY.resolve("unet").resolve("model.onnx");

    @Test
    void autoFallsBackToCpuWhenTheCudaProviderCannotStartOnThisHost() throws OrtException {
        SessionFactory factory = new SessionFactory(new RuntimeOptions("auto", 0, 1));
        OrtSession session = factory.open(UNET);
        assertEquals("cpu", factory.activeDevice());
        factory.release(session);
        assertEquals(0, factory.liveSessions());
    }

    @Test
    void explicitCudaFailsClearlyInsteadOfSilentlyUsingCpu() {
        SessionFactory factory = new SessionFactory(new RuntimeOptions("cuda", 3, 1));
        OrtException e = assertThrows(OrtException.class, () -> factory.open(UNET));
        assertTrue(e.getMessage().contains("CUDA execution provider requested (device 3)"), e.getMessage());
        assertEquals(0, factory.liveSessions());
    }

    @Test
    void autoAsksForCudaOnceThenStaysOnCpu() throws OrtException {
        AtomicInteger attempts = new AtomicInteger();
        SessionFactory factory = new SessionFactory(new RuntimeOptions("auto", 0, 1), (options, device) -> {
            attempts.incrementAndGet();
            throw new OrtException("no CUDA here");
        });
        factory.release(factory.open(UNET));
        factory.release(factory.open(UNET));
        assertEquals(1, attempts.get());
        assertEquals("cpu", factory.activeDevice());
    }

    @Test
    void aWorkingCudaProviderIsUsedWithTheConfiguredDevice() throws OrtException {
        AtomicInteger device = new AtomicInteger(-1);
        SessionFactory factory = new SessionFactory(new RuntimeOptions("cuda", 2, 1), (options, id) -> device.set(id));
        factory.release(factory.open(UNET));
        assertEquals(2, device.get());
        assertEquals("cuda:2", factory.activeDevice());
    }

    @Test
    void cpuNeverTouchesCuda() throws OrtException {
        SessionFactory factory = new SessionFactory(RuntimeOptions.cpu(), (options, id) -> {
            throw new AssertionError("CUDA must not be tried on cpu");
        });
        factory.release(factory.open(UNET));
        assertEquals("cpu", factory.activeDevice());
    }
}
