package io.denoise.pipeline;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * The CLIP text encoder: {@code input_ids [batch, 77]} (int32 or int64, as the export declares) →
 * {@code last_hidden_state [batch, 77, hidden]} (float32 or float16). Thread-safe.
 */
public final class TextEncoder extends ModelPart {

    static final String INPUT_IDS = "input_ids";
    static final String LAST_HIDDEN_STATE = "last_hidden_state";

    private final ElementType idType;
    private final ElementType outputType;
    private final long declaredHidden;

    public TextEncoder(Path dir, SessionFactory sessions) {
        super("text_encoder", dir, sessions);
        try {
            TensorInfo ids = input(INPUT_IDS);
            ElementType t = ElementType.of(ids.type).orElse(null);
            if (t != ElementType.INT32 && t != ElementType.INT64) {
                throw mismatch("input '" + INPUT_IDS + "' must be int32 or int64, found " + ids.type);
            }
            this.idType = t;
            shape(ids, INPUT_IDS, 2);
            TensorInfo out = output(LAST_HIDDEN_STATE);
            this.outputType = floatType(out, LAST_HIDDEN_STATE);
            this.declaredHidden = shape(out, LAST_HIDDEN_STATE, 3)[2];
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    /** The dtype of the hidden states (and so of the UNet's {@code encoder_hidden_states}). */
    public ElementType outputType() {
        return outputType;
    }

    /** The hidden size if the export declares it statically, else -1. */
    public long declaredHiddenSize() {
        return declaredHidden;
    }

    /**
     * Encodes token id rows and writes their hidden states into a new tensor the caller owns.
     *
     * @param ids one row of {@code sequenceLength} ids per prompt
     * @return {@code [ids.length, sequenceLength, hidden]} in {@link #outputType()}
     */
    public NativeTensor encode(OrtEnvironment env, long[][] ids, OrtSession.RunOptions runOptions, InferenceStats stats)
            throws OrtException {
        int seq = ids[0].length;
        try (NativeTensor input = NativeTensor.allocate(env, idType, ids.length, seq)) {
            for (int i = 0; i < ids.length; i++) {
                input.putLongs(i * seq, ids[i]);
            }
            try (OrtSession.Result result = run(Map.of(INPUT_IDS, input.onnx()), Set.of(LAST_HIDDEN_STATE), Map.of(),
                    runOptions, stats)) {
                OnnxValue value = result.get(LAST_HIDDEN_STATE).orElseThrow();
                OnnxTensor hidden = (OnnxTensor) value;
                long[] shape = hidden.getInfo().getShape();
                NativeTensor copy = NativeTensor.allocate(env, outputType, shape);
                try {
                    OnnxOutputs.copy(hidden, copy);
                } catch (RuntimeException | OrtException e) {
                    copy.close();
                    throw e;
                }
                return copy;
            }
        }
    }
}
