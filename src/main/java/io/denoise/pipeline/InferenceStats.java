package io.denoise.pipeline;

import java.util.concurrent.atomic.LongAdder;

/**
 * Accumulates time spent inside ONNX Runtime {@code run} calls, so the pipeline's own overhead can be measured
 * as wall time minus this. Thread-safe.
 */
public final class InferenceStats {

    private final LongAdder runNanos = new LongAdder();
    private final LongAdder runs = new LongAdder();

    void record(long nanos) {
        runNanos.add(nanos);
        runs.increment();
    }

    /** Total nanoseconds inside ONNX Runtime {@code run}. */
    public long runNanos() {
        return runNanos.sum();
    }

    /** Number of {@code run} calls. */
    public long runs() {
        return runs.sum();
    }
}
