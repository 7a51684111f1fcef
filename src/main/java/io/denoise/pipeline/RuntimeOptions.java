package io.denoise.pipeline;

/**
 * How ONNX Runtime sessions are created.
 *
 * @param device         {@code cpu}, {@code cuda} (CUDA required: loading fails without it) or {@code auto}
 *                       (CUDA when it can be initialised, otherwise CPU with a warning)
 * @param cudaDeviceId   the CUDA device ordinal
 * @param intraOpThreads threads ONNX Runtime uses inside one operator; 0 lets it choose (one per core)
 * @param allowSpinning  whether ONNX Runtime's intra-op threads spin while waiting for work
 *                       ({@code session.intra_op.allow_spinning}): a little faster on cores of their own, but
 *                       they burn CPU that an API or another process on the same cores needs
 */
public record RuntimeOptions(String device, int cudaDeviceId, int intraOpThreads, boolean allowSpinning) {

    /** With ONNX Runtime's default of spinning threads. */
    public RuntimeOptions(String device, int cudaDeviceId, int intraOpThreads) {
        this(device, cudaDeviceId, intraOpThreads, true);
    }

    public RuntimeOptions {
        if (!device.equals("cpu") && !device.equals("cuda") && !device.equals("auto")) {
            throw new IllegalArgumentException("device must be cpu, cuda or auto, not '" + device + "'");
        }
        if (cudaDeviceId < 0) {
            throw new IllegalArgumentException("cudaDeviceId must be >= 0");
        }
        if (intraOpThreads < 0) {
            throw new IllegalArgumentException("intraOpThreads must be >= 0");
        }
    }

    /** CPU, with ONNX Runtime's default thread count. */
    public static RuntimeOptions cpu() {
        return new RuntimeOptions("cpu", 0, 0);
    }
}
