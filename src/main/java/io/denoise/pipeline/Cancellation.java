package io.denoise.pipeline;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Cancels one generation from any thread: the loop checks it before every step, and the ONNX Runtime run in
 * flight is told to terminate, so a cancelled generation stops within one step. Thread-safe.
 */
public final class Cancellation {

    private final AtomicBoolean cancelled = new AtomicBoolean();
    private OrtSession.RunOptions inFlight;

    /** Requests cancellation; idempotent. */
    public void cancel() {
        if (cancelled.compareAndSet(false, true)) {
            synchronized (this) {
                if (inFlight != null) {
                    terminate(inFlight);
                }
            }
        }
    }

    public boolean isCancelled() {
        return cancelled.get();
    }

    synchronized void attach(OrtSession.RunOptions options) {
        inFlight = options;
        if (cancelled.get()) {
            terminate(options);
        }
    }

    synchronized void detach() {
        inFlight = null;
    }

    /** Throws {@link GenerationCancelledException} if cancellation was requested. */
    void check(int step) {
        if (cancelled.get()) {
            throw new GenerationCancelledException(step);
        }
    }

    private static void terminate(OrtSession.RunOptions options) {
        try {
            options.setTerminate(true);
        } catch (OrtException e) {
            throw new IllegalStateException("cannot terminate the ONNX Runtime run", e);
        }
    }
}
