package io.denoise.pipeline;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.file.Path;
import java.util.Arrays;
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

    /** The dtype of the token ids: int32 or int64. */
    ElementType idType() {
        return idType;
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
     * Encodes token id rows straight into {@code out}: the hidden states are a pinned output, so ONNX Runtime
     * writes them there in {@link #outputType()} and nothing is copied or converted on the Java side.
     *
     * @param ids one row of {@code sequenceLength} ids per prompt
     * @param out {@code [ids.length, sequenceLength, hidden]} in {@link #outputType()}, e.g. a
     *            {@link NativeTensor#view view} of the rows of a larger batch
     */
    public void encode(OrtEnvironment env, long[][] ids, NativeTensor out, OrtSession.RunOptions runOptions,
                       InferenceStats stats) throws OrtException {
        if (out.type() != outputType) {
            throw new IllegalArgumentException("hidden states are " + outputType + ", not " + out.type());
        }
        int seq = ids[0].length;
        long[] shape = out.shape();
        if (shape.length != 3 || shape[0] != ids.length || shape[1] != seq) {
            throw new IllegalArgumentException("cannot write " + ids.length + " rows of " + seq + " tokens into " + out);
        }
        try (NativeTensor input = NativeTensor.allocate(env, idType, ids.length, seq)) {
            for (int i = 0; i < ids.length; i++) {
                input.putLongs(i * seq, ids[i]);
            }
            try (OrtSession.Result ignored = run(Map.of(INPUT_IDS, input.onnx()), Set.of(),
                    Map.of(LAST_HIDDEN_STATE, out.onnx()), runOptions, stats)) {
                // written into out
            }
        }
    }

    /**
     * Finds the hidden size of an export that declares it nowhere by encoding {@code ids} once and reading the
     * shape of the result.
     *
     * @throws ModelLoadException when the run fails or its result is not {@code [1, ids.length, hidden]}
     */
    public long probeHiddenSize(OrtEnvironment env, long[] ids) {
        try (NativeTensor input = NativeTensor.allocate(env, idType, 1, ids.length);
             OrtSession.RunOptions options = new OrtSession.RunOptions()) {
            input.putLongs(0, ids);
            try (OrtSession.Result result = run(Map.of(INPUT_IDS, input.onnx()), Set.of(LAST_HIDDEN_STATE), Map.of(),
                    options, new InferenceStats())) {
                long[] shape = ((OnnxTensor) result.get(LAST_HIDDEN_STATE).orElseThrow()).getInfo().getShape();
                if (shape.length != 3 || shape[0] != 1 || shape[1] != ids.length || shape[2] < 1) {
                    throw mismatch("a probe run on " + ids.length + " token ids returned hidden states of shape "
                            + Arrays.toString(shape) + ", expected [1, " + ids.length + ", hidden]");
                }
                return shape[2];
            }
        } catch (OrtException e) {
            throw mismatch("a probe run on " + ids.length + " token ids failed (" + e.getMessage().strip() + ")");
        }
    }
}
