package io.denoise.pipeline;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;

import java.nio.ShortBuffer;

/** Reads ONNX Runtime result tensors into Java arrays. */
final class OnnxOutputs {

    private OnnxOutputs() {
    }

    /** Reads a float32 or float16 result as floats. */
    static float[] toFloats(OnnxTensor tensor) throws OrtException {
        int n = Math.toIntExact(tensor.getInfo().getNumElements());
        float[] out = new float[n];
        switch (tensor.getInfo().type) {
            case FLOAT -> tensor.getFloatBuffer().get(out);
            case FLOAT16 -> {
                ShortBuffer src = tensor.getShortBuffer();
                for (int i = 0; i < n; i++) {
                    out[i] = ai.onnxruntime.platform.Fp16Conversions.fp16ToFloat(src.get(i));
                }
            }
            default -> throw new IllegalArgumentException("not a float tensor: " + tensor.getInfo().type);
        }
        return out;
    }
}
