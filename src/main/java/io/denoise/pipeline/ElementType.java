package io.denoise.pipeline;

import ai.onnxruntime.OnnxJavaType;
import java.util.Optional;

/**
 * Element types the pipeline exchanges with ONNX Runtime, with the conversion between Java floats and the
 * tensor's storage. Float tensors of a model are either all {@link #FLOAT32} or all {@link #FLOAT16}; token ids
 * and timesteps may be integers.
 */
public enum ElementType {
    FLOAT32(OnnxJavaType.FLOAT, 4),
    FLOAT16(OnnxJavaType.FLOAT16, 2),
    INT32(OnnxJavaType.INT32, 4),
    INT64(OnnxJavaType.INT64, 8);

    private final OnnxJavaType onnxType;
    private final int bytes;

    ElementType(OnnxJavaType onnxType, int bytes) {
        this.onnxType = onnxType;
        this.bytes = bytes;
    }

    /** The ONNX Runtime type for this element type. */
    public OnnxJavaType onnxType() {
        return onnxType;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** Whether this type carries floating-point values (pixels, latents, embeddings). */
    public boolean isFloatingPoint() {
        return this == FLOAT32 || this == FLOAT16;
    }

    /**
     * The element type for an ONNX Runtime type, or empty when the pipeline does not handle it.
     */
    public static Optional<ElementType> of(OnnxJavaType type) {
        for (ElementType t : values()) {
            if (t.onnxType == type) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
