package io.denoise.pipeline;

/**
 * How ONNX Runtime sessions are created.
 *
 * @param device         {@code cpu}, {@code cuda} (CUDA required: loading fails without it) or {@code auto}
 *                       (CUDA when it can be initialised, otherwise CPU with a warning)
 * @param cudaDeviceId   the CUDA device ordinal
 * @param intraOpThreads threads ONNX Runtime uses inside one operator; 0 lets it choose (one per core)
 */
public record RuntimeOptions(String device, int cudaDeviceId, int intraOpThreads) {

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
