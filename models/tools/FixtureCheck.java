import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.platform.Fp16Conversions;

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Replays the fixtures written by fixtures.py with ONNX Runtime: the model's ONNX graphs,
 * a port of torch's CPU randn (mt19937 + Box-Muller in blocks of 16), PNDM (skip_prk_steps) and
 * DDIM as in schedulers.py, classifier-free guidance, image-to-image.  Prints, per case, the
 * largest latent difference relative to the largest latent magnitude and the largest pixel
 * difference against the fixture's PNGs; exits 1 when a latent difference exceeds the limit.
 *
 * java -cp ~/.m2/repository/com/microsoft/onnxruntime/onnxruntime_gpu/1.23.2/onnxruntime_gpu-1.23.2.jar \
 *      models/tools/FixtureCheck.java models/shapes src/test/resources/fixtures/shapes [limit, default 1e-3]
 */
public class FixtureCheck {
    static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

    public static void main(String[] args) throws Exception {
        String model = args[0];
        Path dir = Path.of(args[1]);
        double limit = args.length > 2 ? Double.parseDouble(args[2]) : 1e-3;
        double scaling = ((Number) ((Map<?, ?>) Json.parse(Files.readString(
                Path.of(model, "vae_decoder", "config.json")))).get("scaling_factor")).doubleValue();
        boolean ok = true;
        try (OrtSession text = open(model, "text_encoder"); OrtSession unet = open(model, "unet");
             OrtSession dec = open(model, "vae_decoder"); OrtSession enc = open(model, "vae_encoder")) {
            File[] files = dir.toFile().listFiles((d, n) -> n.endsWith(".json"));
            Arrays.sort(files);
            for (File f : files) {
                Map<?, ?> c = (Map<?, ?>) Json.parse(Files.readString(f.toPath()));
                long t0 = System.nanoTime();
                float[][] res = run(c, dir, scaling, text, unet, dec, enc);
                float[] want = floats((List<?>) c.get("finalLatents"));
                double maxDiff = 0, maxAbs = 0;
                for (int i = 0; i < want.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(res[0][i] - want[i]));
                    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
                }
                double rel = maxDiff / Math.max(maxAbs, 1e-12);
                int pix = 0;
                List<?> names = (List<?>) c.get("images");
                int per = res[1].length / names.size();
                for (int k = 0; k < names.size(); k++) {
                    BufferedImage im = ImageIO.read(dir.resolve((String) names.get(k)).toFile());
                    int h = im.getHeight(), w = im.getWidth();
                    for (int y = 0; y < h; y++) {
                        for (int x = 0; x < w; x++) {
                            int rgb = im.getRGB(x, y);
                            for (int ch = 0; ch < 3; ch++) {
                                int v = (rgb >> (16 - 8 * ch)) & 255;
                                int mine = (int) res[1][k * per + (y * w + x) * 3 + ch];
                                pix = Math.max(pix, Math.abs(v - mine));
                            }
                        }
                    }
                }
                boolean pass = rel <= limit;
                ok &= pass;
                System.out.printf("%-32s latents max|diff| %.3g, max|latent| %.3g, relative %.3g; pixels max|diff| %d"
                        + " (%.0f ms) %s%n", c.get("case"), maxDiff, maxAbs, rel, pix,
                        (System.nanoTime() - t0) / 1e6, pass ? "ok" : "FAIL");
            }
        }
        System.exit(ok ? 0 : 1);
    }

    static OrtSession open(String model, String part) throws Exception {
        return ENV.createSession(model + "/" + part + "/model.onnx", new OrtSession.SessionOptions());
    }

    /** Returns {final latents, pixels [n, H, W, 3] as 0..255}. */
    static float[][] run(Map<?, ?> c, Path dir, double scaling, OrtSession text, OrtSession unet, OrtSession dec,
                         OrtSession enc) throws Exception {
        int n = ((Number) c.get("numImages")).intValue();
        int steps = ((Number) c.get("numInferenceSteps")).intValue();
        double g = ((Number) c.get("guidanceScale")).doubleValue();
        float eta = ((Number) c.get("eta")).floatValue();
        long seed = ((Number) c.get("seed")).longValue();
        int w = ((Number) c.get("width")).intValue() / 8, h = ((Number) c.get("height")).intValue() / 8;
        int lat = 4 * h * w;
        boolean cfg = g > 1.0;
        int[] pos = ints((List<?>) c.get("promptIds")), neg = ints((List<?>) c.get("negativeIds"));
        int rows = cfg ? 2 * n : n;
        int[] ids = new int[rows * 77];
        for (int r = 0; r < rows; r++) System.arraycopy(cfg && r < n ? neg : pos, 0, ids, r * 77, 77);
        float[] ctx;
        long[] ctxShape;
        try (OnnxTensor t = OnnxTensor.createTensor(ENV, IntBuffer.wrap(ids), new long[] {rows, 77});
             OrtSession.Result r = text.run(Map.of("input_ids", t))) {
            OnnxTensor o = (OnnxTensor) r.get("last_hidden_state").get();
            ctxShape = o.getInfo().getShape();
            ctx = read(o);
        }
        Scheduler s = "ddim".equals(c.get("scheduler")) ? new Ddim(eta) : new Pndm();
        s.setTimesteps(steps);
        int[] ts = s.timesteps;
        TorchRandom[] gens = new TorchRandom[n];
        for (int i = 0; i < n; i++) gens[i] = new TorchRandom(seed + i);
        float[] x = new float[n * lat];
        Object init = c.get("initImage");
        if (init == null) {
            for (int i = 0; i < n; i++) System.arraycopy(gens[i].randn(lat), 0, x, i * lat, lat);
        } else {
            BufferedImage im = ImageIO.read(dir.resolve((String) init).toFile());
            int H = im.getHeight(), W = im.getWidth();
            float[] px = new float[3 * H * W];
            for (int y = 0; y < H; y++) {
                for (int xx = 0; xx < W; xx++) {
                    int rgb = im.getRGB(xx, y);
                    for (int ch = 0; ch < 3; ch++) {
                        px[ch * H * W + y * W + xx] = 2 * (((rgb >> (16 - 8 * ch)) & 255) / 255f) - 1;
                    }
                }
            }
            float[] mean;
            try (OnnxTensor t = tensor(enc, "sample", px, new long[] {1, 3, H, W});
                 OrtSession.Result r = enc.run(Map.of("sample", t))) {
                mean = read((OnnxTensor) r.get(0));
            }
            double strength = ((Number) c.get("strength")).doubleValue();
            int initT = Math.min((int) (steps * strength), steps);
            int tStart = Math.max(steps - initT, 0);
            ts = Arrays.copyOfRange(ts, tStart, ts.length);
            float a = s.alphas[ts[0]];
            float sa = (float) Math.sqrt(a), sb = (float) Math.sqrt(1 - a);
            for (int i = 0; i < n; i++) {
                float[] noise = gens[i].randn(lat);
                for (int k = 0; k < lat; k++) x[i * lat + k] = sa * (mean[k] * (float) scaling) + sb * noise[k];
            }
        }
        TensorInfo tInfo = (TensorInfo) unet.getInputInfo().get("timestep").getInfo();
        for (int t : ts) {
            float[] in = cfg ? concat(x, x) : x;
            Map<String, OnnxTensor> m = new HashMap<>();
            m.put("sample", tensor(unet, "sample", in, new long[] {rows, 4, h, w}));
            m.put("encoder_hidden_states", tensor(unet, "encoder_hidden_states", ctx, ctxShape));
            long[] tShape = tInfo.getShape().length == 0 ? new long[0]
                    : new long[] {tInfo.getShape()[0] == 1 ? 1 : rows};
            int tn = tShape.length == 0 ? 1 : (int) tShape[0];
            if (tInfo.type == OnnxJavaType.INT64) {
                long[] v = new long[tn];
                Arrays.fill(v, t);
                m.put("timestep", OnnxTensor.createTensor(ENV, LongBuffer.wrap(v), tShape));
            } else {
                float[] v = new float[tn];
                Arrays.fill(v, t);
                m.put("timestep", tensor(unet, "timestep", v, tShape));
            }
            float[] out;
            try (OrtSession.Result r = unet.run(m)) {
                out = read((OnnxTensor) r.get(0));
            } finally {
                for (OnnxTensor o : m.values()) o.close();
            }
            float[] eps = out;
            if (cfg) {
                eps = new float[n * lat];
                for (int k = 0; k < eps.length; k++) {
                    float u = out[k], co = out[n * lat + k];
                    eps[k] = u + (float) g * (co - u);
                }
            }
            x = s.step(eps, t, x, gens, lat);
        }
        float[] z = new float[x.length];
        for (int k = 0; k < z.length; k++) z[k] = x[k] / (float) scaling;
        float[] img;
        long[] shape;
        try (OnnxTensor t = tensor(dec, "latent_sample", z, new long[] {n, 4, h, w});
             OrtSession.Result r = dec.run(Map.of("latent_sample", t))) {
            OnnxTensor o = (OnnxTensor) r.get(0);
            shape = o.getInfo().getShape();
            img = read(o);
        }
        int H = (int) shape[2], W = (int) shape[3];
        float[] px = new float[n * H * W * 3];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < 3; ch++) {
                for (int p = 0; p < H * W; p++) {
                    float v = img[((i * 3) + ch) * H * W + p] / 2 + 0.5f;
                    v = Math.min(1f, Math.max(0f, v));
                    px[(i * H * W + p) * 3 + ch] = (float) Math.rint(v * 255f);
                }
            }
        }
        return new float[][] {x, px};
    }

    static float[] concat(float[] a, float[] b) {
        float[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    static OnnxTensor tensor(OrtSession s, String name, float[] v, long[] shape) throws Exception {
        TensorInfo ti = (TensorInfo) s.getInputInfo().get(name).getInfo();
        if (ti.type == OnnxJavaType.FLOAT16) {
            short[] h = new short[v.length];
            for (int i = 0; i < v.length; i++) h[i] = Fp16Conversions.floatToFp16(v[i]);
            return OnnxTensor.createTensor(ENV, ShortBuffer.wrap(h), shape, OnnxJavaType.FLOAT16);
        }
        return OnnxTensor.createTensor(ENV, FloatBuffer.wrap(v), shape);
    }

    static float[] read(OnnxTensor t) {
        FloatBuffer fb = t.getFloatBuffer();
        float[] v = new float[fb.remaining()];
        fb.get(v);
        return v;
    }

    static float[] floats(List<?> l) {
        float[] r = new float[l.size()];
        for (int i = 0; i < r.length; i++) r[i] = ((Number) l.get(i)).floatValue();
        return r;
    }

    static int[] ints(List<?> l) {
        int[] r = new int[l.size()];
        for (int i = 0; i < r.length; i++) r[i] = ((Number) l.get(i)).intValue();
        return r;
    }

    // ------------------------------------------------------------ torch.Generator().manual_seed(s); torch.randn

    static final class TorchRandom {
        final int[] mt = new int[624];
        int idx = 624;

        TorchRandom(long seed) {
            mt[0] = (int) seed;
            for (int i = 1; i < 624; i++) mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
        }

        int next() {
            if (idx >= 624) {
                for (int i = 0; i < 624; i++) {
                    int y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
                    mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
                }
                idx = 0;
            }
            int y = mt[idx++];
            y ^= y >>> 11;
            y ^= (y << 7) & 0x9d2c5680;
            y ^= (y << 15) & 0xefc60000;
            return y ^ (y >>> 18);
        }

        float uniform() {
            return (next() & ((1 << 24) - 1)) * (1.0f / (1 << 24));
        }

        /** torch.randn(n) for float32, n >= 16 (CPU normal_fill). */
        float[] randn(int n) {
            float[] d = new float[n];
            for (int i = 0; i < n; i++) d[i] = uniform();
            for (int i = 0; i + 16 <= n; i += 16) fill16(d, i);
            if (n % 16 != 0) {
                for (int i = n - 16; i < n; i++) d[i] = uniform();
                fill16(d, n - 16);
            }
            return d;
        }

        static void fill16(float[] d, int o) {
            for (int j = 0; j < 8; j++) {
                float u1 = 1 - d[o + j], u2 = d[o + j + 8];
                float radius = (float) Math.sqrt(-2 * (float) Math.log(u1));
                float theta = (float) (2.0 * Math.PI * u2);
                d[o + j] = radius * (float) Math.cos(theta);
                d[o + j + 8] = radius * (float) Math.sin(theta);
            }
        }
    }

    // ------------------------------------------------------------ schedulers (SD 1.x settings, as schedulers.py)

    abstract static class Scheduler {
        final float[] alphas = new float[1000];
        int[] timesteps;
        int num;

        Scheduler() {
            float start = (float) Math.sqrt(0.00085), end = (float) Math.sqrt(0.012);
            float step = (end - start) / 999;
            float p = 1;
            for (int i = 0; i < 1000; i++) {
                float v = i < 500 ? start + step * i : end - step * (999 - i);
                p *= 1 - v * v;
                alphas[i] = p;
            }
        }

        float alphaPrev(int t) {
            return t >= 0 ? alphas[t] : alphas[0];
        }

        abstract void setTimesteps(int n);

        abstract float[] step(float[] eps, int t, float[] x, TorchRandom[] gens, int lat);
    }

    static final class Pndm extends Scheduler {
        final List<float[]> ets = new ArrayList<>();
        int counter;
        float[] cur;

        void setTimesteps(int n) {
            num = n;
            int ratio = 1000 / n;
            int[] ts = new int[n];
            for (int i = 0; i < n; i++) ts[i] = i * ratio + 1;
            timesteps = new int[n + 1];
            // [ts[-1], ts[-2], ts[-2], ts[-3], ..., ts[0]]
            int k = 0;
            timesteps[k++] = ts[n - 1];
            if (n >= 2) timesteps[k++] = ts[n - 2];
            for (int i = n - 2; i >= 0; i--) timesteps[k++] = ts[i];
            timesteps = Arrays.copyOf(timesteps, k);
        }

        float[] step(float[] eps, int t, float[] x, TorchRandom[] gens, int lat) {
            int ratio = 1000 / num;
            int prev = t - ratio;
            if (counter != 1) {
                if (ets.size() > 3) ets.subList(0, ets.size() - 3).clear();
                ets.add(eps);
            } else {
                prev = t;
                t = t + ratio;
            }
            float[] e = new float[eps.length];
            int m = ets.size();
            for (int k = 0; k < e.length; k++) {
                if (m == 1 && counter == 0) {
                    e[k] = eps[k];
                } else if (m == 1 && counter == 1) {
                    e[k] = (eps[k] + ets.get(0)[k]) / 2;
                } else if (m == 2) {
                    e[k] = (3 * ets.get(1)[k] - ets.get(0)[k]) / 2;
                } else if (m == 3) {
                    e[k] = (23 * ets.get(2)[k] - 16 * ets.get(1)[k] + 5 * ets.get(0)[k]) / 12;
                } else {
                    e[k] = (1f / 24) * (55 * ets.get(3)[k] - 59 * ets.get(2)[k] + 37 * ets.get(1)[k] - 9 * ets.get(0)[k]);
                }
            }
            if (m == 1 && counter == 0) {
                cur = x;
            } else if (m == 1 && counter == 1) {
                x = cur;
                cur = null;
            }
            float at = alphas[t], ap = alphaPrev(prev);
            float bt = 1 - at, bp = 1 - ap;
            float coeff = (float) Math.sqrt(ap / at);
            float denom = at * (float) Math.sqrt(bp) + (float) Math.sqrt(at * bt * ap);
            float[] out = new float[x.length];
            for (int k = 0; k < out.length; k++) out[k] = coeff * x[k] - (ap - at) * e[k] / denom;
            counter++;
            return out;
        }
    }

    static final class Ddim extends Scheduler {
        final float eta;

        Ddim(float eta) {
            this.eta = eta;
        }

        void setTimesteps(int n) {
            num = n;
            int ratio = 1000 / n;
            timesteps = new int[n];
            for (int i = 0; i < n; i++) timesteps[n - 1 - i] = i * ratio + 1;
        }

        float[] step(float[] eps, int t, float[] x, TorchRandom[] gens, int lat) {
            int prev = t - 1000 / num;
            float at = alphas[t], ap = alphaPrev(prev);
            float bt = 1 - at, bp = 1 - ap;
            float variance = (bp / bt) * (1 - at / ap);
            float std = eta * (float) Math.sqrt(variance);
            float sa = (float) Math.sqrt(at), sb = (float) Math.sqrt(bt), sap = (float) Math.sqrt(ap);
            float dir = (float) Math.sqrt(1 - ap - std * std);
            float[] out = new float[x.length];
            for (int k = 0; k < out.length; k++) {
                float x0 = (x[k] - sb * eps[k]) / sa;
                out[k] = sap * x0 + dir * eps[k];
            }
            if (eta > 0) {
                for (int i = 0; i < gens.length; i++) {
                    float[] z = gens[i].randn(lat);
                    for (int k = 0; k < lat; k++) out[i * lat + k] += std * z[k];
                }
            }
            return out;
        }
    }

    // ------------------------------------------------------------ minimal JSON reader

    static final class Json {
        final String s;
        int i;

        Json(String s) {
            this.s = s;
        }

        static Object parse(String s) {
            return new Json(s).value();
        }

        void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        Object value() {
            ws();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                ws();
                if (s.charAt(i) == '}') {
                    i++;
                    return m;
                }
                while (true) {
                    ws();
                    String k = (String) value();
                    ws();
                    i++; // ':'
                    m.put(k, value());
                    ws();
                    if (s.charAt(i++) == '}') return m;
                }
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                ws();
                if (s.charAt(i) == ']') {
                    i++;
                    return l;
                }
                while (true) {
                    l.add(value());
                    ws();
                    if (s.charAt(i++) == ']') return l;
                }
            }
            if (c == '"') {
                StringBuilder b = new StringBuilder();
                i++;
                while (s.charAt(i) != '"') {
                    char ch = s.charAt(i++);
                    if (ch == '\\') {
                        char e = s.charAt(i++);
                        switch (e) {
                            case 'n' -> b.append('\n');
                            case 't' -> b.append('\t');
                            case 'r' -> b.append('\r');
                            case 'b' -> b.append('\b');
                            case 'f' -> b.append('\f');
                            case 'u' -> {
                                b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                                i += 4;
                            }
                            default -> b.append(e);
                        }
                    } else {
                        b.append(ch);
                    }
                }
                i++;
                return b.toString();
            }
            if (s.startsWith("null", i)) {
                i += 4;
                return null;
            }
            if (s.startsWith("true", i)) {
                i += 4;
                return true;
            }
            if (s.startsWith("false", i)) {
                i += 5;
                return false;
            }
            int j = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            return Double.parseDouble(s.substring(j, i));
        }
    }
}
