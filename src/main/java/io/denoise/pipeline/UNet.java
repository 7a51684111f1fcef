package io.denoise.pipeline;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.Arrays;

/**
 * The denoising UNet: {@code sample [batch, channels, h/s, w/s]} (s: the VAE scale factor), {@code timestep} and
 * {@code encoder_hidden_states [batch, 77, hidden]} → {@code out_sample} (same shape as sample). Float tensors are
 * float32 or float16 as the export declares; {@code timestep} may be float32, float16 or int64, a scalar, shape [1]
 * or shape [batch]. Thread-safe; a batch's buffers live in {@link Invocation}.
 */
public final class UNet extends ModelPart {

    static final String SAMPLE = "sample";
    static final String TIMESTEP = "timestep";
    static final String ENCODER_HIDDEN_STATES = "encoder_hidden_states";

    private enum TimestepShape { SCALAR, ONE, BATCH }

    private final ElementType floatType;
    private final ElementType timestepType;
    private final TimestepShape timestepShape;
    private final long declaredChannels;
    private final long declaredOutputChannels;
    private final long[] declaredSample;
    private final long declaredHidden;
    private final String outputName;

    public UNet(Path dir, SessionFactory sessions) {
        super("unet", dir, sessions);
        try {
            TensorInfo sample = input(SAMPLE);
            this.floatType = floatType(sample, SAMPLE);
            this.declaredSample = shape(sample, SAMPLE, 4);
            this.declaredChannels = declaredSample[1];
            TensorInfo ehs = input(ENCODER_HIDDEN_STATES);
            if (floatType(ehs, ENCODER_HIDDEN_STATES) != floatType) {
                throw mismatch("'" + ENCODER_HIDDEN_STATES + "' is " + ehs.type + " but '" + SAMPLE + "' is " + sample.type);
            }
            this.declaredHidden = shape(ehs, ENCODER_HIDDEN_STATES, 3)[2];
            TensorInfo t = input(TIMESTEP);
            ElementType tt = ElementType.of(t.type).orElse(null);
            if (tt == null || tt == ElementType.INT32) {
                throw mismatch("input '" + TIMESTEP + "' must be float32, float16 or int64, found " + t.type);
            }
            this.timestepType = tt;
            long[] ts = t.getShape();
            if (ts.length == 0) {
                this.timestepShape = TimestepShape.SCALAR;
            } else if (ts.length == 1) {
                this.timestepShape = ts[0] == 1 ? TimestepShape.ONE : TimestepShape.BATCH;
            } else {
                throw mismatch("input '" + TIMESTEP + "' must be a scalar or rank 1, found shape " + Arrays.toString(ts));
            }
            this.outputName = outputNamed("out_sample");
            TensorInfo out = output(outputName);
            if (floatType(out, outputName) != floatType) {
                throw mismatch("output '" + outputName + "' must have the dtype of '" + SAMPLE + "'");
            }
            this.declaredOutputChannels = shape(out, outputName, 4)[1];
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    public ElementType floatType() {
        return floatType;
    }

    public ElementType timestepType() {
        return timestepType;
    }

    /** The declared rank of {@code timestep}: 0 (scalar) or 1 ([1] or [batch]). */
    public int timestepRank() {
        return timestepShape == TimestepShape.SCALAR ? 0 : 1;
    }

    /**
     * Whether each row of a batch takes its own timestep: the export declares {@code timestep} as {@code [batch]}.
     * Otherwise (a scalar or {@code [1]}) one timestep serves a whole call, and only generations at the same
     * timestep can share one.
     */
    public boolean timestepPerSample() {
        return timestepShape == TimestepShape.BATCH;
    }

    /** Latent channels if declared statically, else -1. */
    public long declaredChannels() {
        return declaredChannels;
    }

    /** Channels of the predicted noise if declared statically, else -1. */
    public long declaredOutputChannels() {
        return declaredOutputChannels;
    }

    /** The latent size {@code [height, width]} if the export fixed it (community exports with static shapes), else null. */
    public long[] declaredLatentSize() {
        return declaredSample[2] > 0 && declaredSample[3] > 0 ? new long[] {declaredSample[2], declaredSample[3]} : null;
    }

    /** Hidden size of the text states if declared statically, else -1. */
    public long declaredHiddenSize() {
        return declaredHidden;
    }

    /**
     * Allocates the buffers for a batch of {@code batch} rows: the caller owns the invocation and closes it. The
     * text states {@code [batch, 77, hidden]} are the caller's, fed as given, and must outlive the invocation; their
     * rows line up with the rows of the sample, so one invocation can serve one generation (unconditional rows, then
     * conditional ones) or, side by side, several.
     */
    public Invocation prepare(OrtEnvironment env, int batch, int channels, int latentHeight, int latentWidth,
                              NativeTensor encoderHiddenStates) throws OrtException {
        return new Invocation(env, batch, channels, latentHeight, latentWidth, encoderHiddenStates);
    }

    /** One batch's UNet buffers, reused across its steps. Not thread-safe. */
    public final class Invocation implements AutoCloseable {
        private final int batch;
        private final NativeTensor sample;
        private final NativeTensor timestep;
        private final NativeTensor output;
        private final Map<String, OnnxTensor> feeds;
        private final Map<String, OnnxTensor> pinned;

        private Invocation(OrtEnvironment env, int batch, int channels, int h, int w, NativeTensor ehs) throws OrtException {
            long[] states = ehs.shape();
            if (states.length != 3 || states[0] != batch) {
                throw new IllegalArgumentException("text states " + ehs + " do not have the batch's " + batch + " rows");
            }
            this.batch = batch;
            NativeTensor s = null;
            NativeTensor t = null;
            try {
                s = NativeTensor.allocate(env, floatType, batch, channels, h, w);
                t = switch (timestepShape) {
                    case SCALAR -> NativeTensor.allocate(env, timestepType);
                    case ONE -> NativeTensor.allocate(env, timestepType, 1);
                    case BATCH -> NativeTensor.allocate(env, timestepType, batch);
                };
                this.output = NativeTensor.allocate(env, floatType, batch, channels, h, w);
            } catch (OrtException | RuntimeException e) {
                if (t != null) {
                    t.close();
                }
                if (s != null) {
                    s.close();
                }
                throw e;
            }
            this.sample = s;
            this.timestep = t;
            this.feeds = Map.of(SAMPLE, sample.onnx(), TIMESTEP, timestep.onnx(), ENCODER_HIDDEN_STATES, ehs.onnx());
            this.pinned = Map.of(outputName, output.onnx());
        }

        /**
         * Predicts noise for {@code modelInput} at timestep {@code t}.
         *
         * @param modelInput [batch, channels, h, w], already scaled by the scheduler
         * @param noisePred  receives [batch, channels, h, w]
         */
        public void run(float[] modelInput, double t, float[] noisePred, OrtSession.RunOptions runOptions,
                        InferenceStats stats) throws OrtException {
            if (modelInput.length != sample.size() || noisePred.length != output.size()) {
                throw new IllegalArgumentException("expected " + sample.size() + " values in and out, got "
                        + modelInput.length + " and " + noisePred.length);
            }
            putSample(0, modelInput);
            run(t, runOptions, stats);
            getPrediction(0, noisePred);
        }

        /** Writes {@code values} into the sample from element {@code offset} on: some rows of the batch. */
        public void putSample(int offset, float[] values) {
            sample.put(offset, values, 0, values.length);
        }

        /**
         * Runs the UNet at timestep {@code t} on the sample as written; the prediction is then read with
         * {@link #getPrediction}.
         */
        public void run(double t, OrtSession.RunOptions runOptions, InferenceStats stats) throws OrtException {
            timestep.fill(timestepType == ElementType.INT64 ? Math.floor(t) : t);
            try (OrtSession.Result ignored = UNet.this.run(feeds, Set.of(), pinned, runOptions, stats)) {
                // written into output
            }
        }

        /**
         * Runs the UNet with row {@code i} of the batch at timestep {@code rowTimesteps[i]}. Where the model takes
         * one timestep per row ({@link #timestepPerSample()}) each row gets its own, rounded down for an int64
         * timestep as {@link #run(double, OrtSession.RunOptions, InferenceStats)} rounds; otherwise every row must
         * be at the same timestep.
         *
         * @throws IllegalArgumentException if there is not one timestep per row, or the rows' timesteps differ
         *                                  where the model takes one for the whole call
         */
        public void run(double[] rowTimesteps, OrtSession.RunOptions runOptions, InferenceStats stats)
                throws OrtException {
            if (rowTimesteps.length != batch) {
                throw new IllegalArgumentException(rowTimesteps.length + " timesteps for a batch of " + batch + " rows");
            }
            if (timestepShape != TimestepShape.BATCH) {
                for (double t : rowTimesteps) {
                    if (Double.compare(t, rowTimesteps[0]) != 0) {
                        throw new IllegalArgumentException("the UNet takes one timestep per call, but the rows are at "
                                + Arrays.toString(rowTimesteps));
                    }
                }
                run(rowTimesteps[0], runOptions, stats);
                return;
            }
            float[] values = new float[batch];
            for (int i = 0; i < batch; i++) {
                values[i] = (float) (timestepType == ElementType.INT64 ? Math.floor(rowTimesteps[i]) : rowTimesteps[i]);
            }
            timestep.put(0, values, 0, batch);
            try (OrtSession.Result ignored = UNet.this.run(feeds, Set.of(), pinned, runOptions, stats)) {
                // written into output
            }
        }

        /** Rows of this batch. */
        public int batch() {
            return batch;
        }

        /** Reads {@code dst.length} values of the last run's prediction from element {@code offset} on. */
        public void getPrediction(int offset, float[] dst) {
            output.get(offset, dst, 0, dst.length);
        }

        @Override
        public void close() {
            output.close();
            timestep.close();
            sample.close();
        }
    }
}
