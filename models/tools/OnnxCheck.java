import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.platform.Fp16Conversions;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Loads every ONNX part of one or more model folders with ONNX Runtime (CPU),
 * prints each tensor signature and runs each part at two batch sizes and two
 * spatial sizes.  With several folders, also prints the largest difference of
 * each output against the first folder's (e.g. shapes vs shapes-fp16).
 *
 * java -cp ~/.m2/repository/com/microsoft/onnxruntime/onnxruntime_gpu/1.23.2/onnxruntime_gpu-1.23.2.jar \
 *      models/tools/OnnxCheck.java models/shapes models/shapes-fp16
 */
public class OnnxCheck {
    static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

    public static void main(String[] args) throws Exception {
        List<Map<String, float[]>> results = new ArrayList<>();
        for (String dir : args) {
            System.out.println("== " + dir);
            results.add(check(dir));
        }
        for (int i = 1; i < results.size(); i++) {
            System.out.println("== max |" + args[i] + " - " + args[0] + "|");
            for (var e : results.get(0).entrySet()) {
                float[] a = e.getValue(), b = results.get(i).get(e.getKey());
                double max = 0, scale = 0;
                for (int k = 0; k < a.length; k++) {
                    max = Math.max(max, Math.abs(a[k] - b[k]));
                    scale = Math.max(scale, Math.abs(a[k]));
                }
                System.out.printf("  %-40s max diff %.5f (max |value| %.3f)%n", e.getKey(), max, scale);
            }
        }
    }

    static Map<String, float[]> check(String dir) throws Exception {
        Map<String, float[]> out = new HashMap<>();
        int hidden;
        try (OrtSession s = open(dir + "/text_encoder/model.onnx")) {
            hidden = 0;
            for (int batch : new int[] {1, 3}) {
                int[] ids = new int[batch * 77];
                Arrays.fill(ids, 586);
                for (int b = 0; b < batch; b++) {
                    ids[b * 77] = 585;
                    ids[b * 77 + 1] = 320 + b;
                }
                Map<String, OnnxTensor> in = Map.of("input_ids",
                        OnnxTensor.createTensor(ENV, IntBuffer.wrap(ids), new long[] {batch, 77}));
                hidden = (int) run(s, in, out, "text_encoder b" + batch).get("last_hidden_state")[2];
            }
        }
        try (OrtSession s = open(dir + "/unet/model.onnx")) {
            TensorInfo ti = (TensorInfo) s.getInputInfo().get("timestep").getInfo();
            for (int[] c : new int[][] {{2, 8, 8}, {1, 5, 7}, {3, 4, 12}}) {
                int batch = c[0], h = c[1], w = c[2];
                Map<String, OnnxTensor> in = new HashMap<>();
                in.put("sample", floats(s, "sample", new long[] {batch, 4, h, w}, 1));
                in.put("encoder_hidden_states", floats(s, "encoder_hidden_states", new long[] {batch, 77, hidden}, 2));
                if (ti.type == OnnxJavaType.INT64) {
                    long[] t = new long[batch];
                    Arrays.fill(t, 501);
                    in.put("timestep", OnnxTensor.createTensor(ENV, LongBuffer.wrap(t), new long[] {batch}));
                } else {
                    in.put("timestep", floats(s, "timestep", new long[] {1}, -501));
                }
                run(s, in, out, "unet b" + batch + " " + h + "x" + w);
            }
        }
        try (OrtSession s = open(dir + "/vae_decoder/model.onnx")) {
            for (int[] c : new int[][] {{1, 8, 8}, {2, 5, 7}}) {
                run(s, Map.of("latent_sample", floats(s, "latent_sample", new long[] {c[0], 4, c[1], c[2]}, 3)),
                        out, "vae_decoder b" + c[0] + " " + c[1] + "x" + c[2]);
            }
        }
        try (OrtSession s = open(dir + "/vae_encoder/model.onnx")) {
            for (int[] c : new int[][] {{1, 64, 64}, {2, 40, 56}}) {
                run(s, Map.of("sample", floats(s, "sample", new long[] {c[0], 3, c[1], c[2]}, 4)),
                        out, "vae_encoder b" + c[0] + " " + c[1] + "x" + c[2]);
            }
        }
        return out;
    }

    static OrtSession open(String path) throws Exception {
        OrtSession s = ENV.createSession(path, new OrtSession.SessionOptions());
        System.out.println(path);
        for (NodeInfo n : s.getInputInfo().values()) System.out.println("  in  " + describe(n));
        for (NodeInfo n : s.getOutputInfo().values()) System.out.println("  out " + describe(n));
        return s;
    }

    static String describe(NodeInfo n) {
        TensorInfo t = (TensorInfo) n.getInfo();
        String[] names = t.getDimensionNames();
        long[] shape = t.getShape();
        StringBuilder b = new StringBuilder(n.getName() + " " + t.type + " [");
        for (int i = 0; i < shape.length; i++) {
            b.append(i > 0 ? "," : "").append(shape[i] >= 0 ? String.valueOf(shape[i]) : names[i]);
        }
        return b.append("]").toString();
    }

    /** Random normal values (or the constant -value when value is negative), float or float16 as the input wants. */
    static OnnxTensor floats(OrtSession s, String name, long[] shape, int seed) throws Exception {
        int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        float[] v = new float[n];
        Random r = new Random(seed);
        for (int i = 0; i < n; i++) v[i] = seed < 0 ? -seed : (float) r.nextGaussian();
        TensorInfo ti = (TensorInfo) s.getInputInfo().get(name).getInfo();
        if (ti.type == OnnxJavaType.FLOAT16) {
            short[] h = new short[n];
            for (int i = 0; i < n; i++) h[i] = Fp16Conversions.floatToFp16(v[i]);
            return OnnxTensor.createTensor(ENV, ShortBuffer.wrap(h), shape, OnnxJavaType.FLOAT16);
        }
        return OnnxTensor.createTensor(ENV, FloatBuffer.wrap(v), shape);
    }

    static Map<String, long[]> run(OrtSession s, Map<String, OnnxTensor> in, Map<String, float[]> keep, String label)
            throws Exception {
        Map<String, long[]> shapes = new HashMap<>();
        long t0 = System.nanoTime();
        try (OrtSession.Result r = s.run(in)) {
            double ms = (System.nanoTime() - t0) / 1e6;
            StringBuilder b = new StringBuilder(String.format("  run %-26s %7.1f ms:", label, ms));
            for (var e : r) {
                OnnxTensor t = (OnnxTensor) e.getValue();
                long[] shape = t.getInfo().getShape();
                shapes.put(e.getKey(), shape);
                FloatBuffer fb = t.getFloatBuffer();
                float[] v = new float[fb.remaining()];
                fb.get(v);
                double sum = 0, sq = 0;
                boolean finite = true;
                for (float x : v) {
                    sum += x;
                    sq += x * x;
                    finite &= Float.isFinite(x);
                }
                double mean = sum / v.length, std = Math.sqrt(Math.max(0, sq / v.length - mean * mean));
                b.append(String.format(" %s %s mean %.4f std %.4f%s", e.getKey(), Arrays.toString(shape), mean, std,
                        finite ? "" : " NON-FINITE"));
                keep.put(label + " " + e.getKey(), v);
                if (!finite) throw new IllegalStateException("non-finite output in " + label);
            }
            System.out.println(b);
        } finally {
            for (OnnxTensor t : in.values()) t.close();
        }
        return shapes;
    }
}
