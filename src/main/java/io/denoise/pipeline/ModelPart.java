package io.denoise.pipeline;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.Arrays;

/**
 * One ONNX model of the pipeline (text encoder, UNet, VAE decoder or encoder) and the session that runs it.
 * Subclasses check the model's tensor contract when they are constructed, so a mismatched export fails at load,
 * never mid-job. Owns its session; {@link #close()} closes it exactly once. Thread-safe: ONNX Runtime sessions
 * may run concurrently.
 */
public abstract class ModelPart implements AutoCloseable {

    private final String name;
    private final SessionFactory sessions;
    private final OrtSession session;
    private final Map<String, NodeInfo> inputs;
    private final Map<String, NodeInfo> outputs;
    private boolean closed;

    /**
     * Opens {@code dir/model.onnx} (external weight files beside it are found by ONNX Runtime).
     *
     * @throws ModelLoadException when the file is missing or ONNX Runtime rejects it
     */
    protected ModelPart(String name, Path dir, SessionFactory sessions) {
        this.name = name;
        this.sessions = sessions;
        Path file = dir.resolve("model.onnx");
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException(name + ": missing model file " + file);
        }
        try {
            this.session = sessions.open(file);
        } catch (OrtException e) {
            throw new ModelLoadException(name + ": cannot load " + file + ": " + e.getMessage(), e);
        }
        try {
            this.inputs = session.getInputInfo();
            this.outputs = session.getOutputInfo();
        } catch (OrtException e) {
            closeQuietly();
            throw new ModelLoadException(name + ": cannot read tensor info of " + file + ": " + e.getMessage(), e);
        }
    }

    /** The part's directory name in the diffusers layout, e.g. {@code unet}. */
    public String name() {
        return name;
    }

    /** The input's tensor info, or a load error naming the part and tensor. */
    protected TensorInfo input(String tensor) {
        return tensorInfo(inputs, tensor, "input");
    }

    /** The output's tensor info, or a load error naming the part and tensor. */
    protected TensorInfo output(String tensor) {
        return tensorInfo(outputs, tensor, "output");
    }

    /** The named output if present, else the model's only output. */
    protected String outputNamed(String preferred) {
        if (outputs.containsKey(preferred)) {
            return preferred;
        }
        if (outputs.size() == 1) {
            return outputs.keySet().iterator().next();
        }
        throw new ModelLoadException(name + ": no output '" + preferred + "' (outputs: " + outputs.keySet() + ")");
    }

    /** The element type of a tensor, which must be floating point (float32 or float16). */
    protected ElementType floatType(TensorInfo info, String tensor) {
        ElementType type = ElementType.of(info.type).orElse(null);
        if (type == null || !type.isFloatingPoint()) {
            throw new ModelLoadException(name + ": tensor '" + tensor + "' must be float32 or float16, found " + info.type);
        }
        return type;
    }

    /** Checks a tensor's rank; dimensions of -1 are dynamic. */
    protected long[] shape(TensorInfo info, String tensor, int rank) {
        long[] shape = info.getShape();
        if (shape.length != rank) {
            throw new ModelLoadException(name + ": tensor '" + tensor + "' must have rank " + rank + ", found shape "
                    + Arrays.toString(shape));
        }
        return shape;
    }

    /** A load error about this part. */
    protected ModelLoadException mismatch(String message) {
        return new ModelLoadException(name + ": " + message);
    }

    /**
     * Runs the model. Outputs in {@code pinned} are written into the given tensors; the others are returned in the
     * result, which the caller closes.
     */
    protected OrtSession.Result run(Map<String, OnnxTensor> feeds, Set<String> wanted, Map<String, ? extends OnnxValue> pinned,
                                    OrtSession.RunOptions runOptions, InferenceStats stats) throws OrtException {
        long start = System.nanoTime();
        try {
            return session.run(feeds, wanted, pinned, runOptions);
        } finally {
            stats.record(System.nanoTime() - start);
        }
    }

    /** Runs a single-input model on float values and returns its named float output. */
    protected float[] runFloat(OrtEnvironment env, String inputName, ElementType type, float[] values, long[] shape,
                               String outputName, OrtSession.RunOptions runOptions, InferenceStats stats) throws OrtException {
        try (NativeTensor input = NativeTensor.allocate(env, type, shape)) {
            input.put(values);
            try (OrtSession.Result result = run(Map.of(inputName, input.onnx()), Set.of(outputName), Map.of(),
                    runOptions, stats)) {
                return OnnxOutputs.toFloats((OnnxTensor) result.get(outputName).orElseThrow());
            }
        }
    }

    private TensorInfo tensorInfo(Map<String, NodeInfo> infos, String tensor, String kind) {
        NodeInfo node = infos.get(tensor);
        if (node == null) {
            throw new ModelLoadException(name + ": no " + kind + " tensor '" + tensor + "' (" + kind + "s: " + infos.keySet() + ")");
        }
        if (!(node.getInfo() instanceof TensorInfo info)) {
            throw new ModelLoadException(name + ": " + kind + " '" + tensor + "' is not a tensor");
        }
        return info;
    }

    /** Closes the session if the subclass constructor fails after the session was opened. */
    protected final void closeQuietly() {
        try {
            close();
        } catch (OrtException ignored) {
            // the load error being reported matters more
        }
    }

    @Override
    public synchronized void close() throws OrtException {
        if (!closed) {
            closed = true;
            sessions.release(session);
        }
    }
}
