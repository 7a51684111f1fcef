package io.denoise.pipeline;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The bundled shapes model's rule-based scorer, ported from {@code models/tools/score.py} rule for rule: background
 * from the median of the 2-pixel border (nearest of white/black/gray); shape colour from the median of the pixels
 * far from the background (nearest of the six colours); coverage by projecting each pixel on the background →
 * shape colour line; triangle when under 0.375 of the coverage lies in the top half of its box, else square when
 * the box is over 0.87 filled, else circle.
 */
public final class ShapeScorer {

    /** What an image shows; colour and shape are null when no shape was found. */
    public record Score(String background, String colour, String shape) {
    }

    static final Map<String, float[]> COLOURS = new LinkedHashMap<>();
    static final Map<String, float[]> BACKGROUNDS = new LinkedHashMap<>();

    static {
        COLOURS.put("red", new float[] {220, 30, 30});
        COLOURS.put("green", new float[] {30, 170, 50});
        COLOURS.put("blue", new float[] {30, 70, 230});
        COLOURS.put("yellow", new float[] {245, 215, 30});
        COLOURS.put("purple", new float[] {140, 50, 190});
        COLOURS.put("orange", new float[] {250, 135, 20});
        BACKGROUNDS.put("white", new float[] {255, 255, 255});
        BACKGROUNDS.put("black", new float[] {0, 0, 0});
        BACKGROUNDS.put("gray", new float[] {128, 128, 128});
    }

    private ShapeScorer() {
    }

    public static Score score(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        float[][] px = new float[w * h][];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = image.getRGB(x, y);
                px[y * w + x] = new float[] {(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff};
            }
        }
        // the border in score.py's order: top 2 rows, bottom 2 rows, left 2 columns, right 2 columns
        java.util.List<float[]> border = new java.util.ArrayList<>();
        for (int y : new int[] {0, 1, h - 2, h - 1}) {
            for (int x = 0; x < w; x++) {
                border.add(px[y * w + x]);
            }
        }
        for (int y = 0; y < h; y++) {
            for (int x : new int[] {0, 1, w - 2, w - 1}) {
                border.add(px[y * w + x]);
            }
        }
        float[] bg = median(border);
        String background = nearest(bg, BACKGROUNDS);
        double[] dist = new double[w * h];
        java.util.List<float[]> core = new java.util.ArrayList<>();
        for (int i = 0; i < px.length; i++) {
            dist[i] = Math.sqrt(sq(px[i][0] - bg[0]) + sq(px[i][1] - bg[1]) + sq(px[i][2] - bg[2]));
            if (dist[i] > 80) {
                core.add(px[i]);
            }
        }
        if (core.size() < 12) {
            return new Score(background, null, null);
        }
        float[] fg = median(core);
        String colour = nearest(fg, COLOURS);
        double[] axis = {fg[0] - bg[0], fg[1] - bg[1], fg[2] - bg[2]};
        double norm = Math.max(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2], 1e-6);
        double[] alpha = new double[w * h];
        int y0 = h;
        int y1 = -1;
        int x0 = w;
        int x1 = -1;
        for (int i = 0; i < px.length; i++) {
            double a = ((px[i][0] - bg[0]) * axis[0] + (px[i][1] - bg[1]) * axis[1] + (px[i][2] - bg[2]) * axis[2]) / norm;
            a = Math.max(0, Math.min(1, a));
            if (dist[i] < 25) {
                a = 0;
            }
            alpha[i] = a;
            if (a > 0.5) {
                int y = i / w;
                int x = i % w;
                y0 = Math.min(y0, y);
                y1 = Math.max(y1, y + 1);
                x0 = Math.min(x0, x);
                x1 = Math.max(x1, x + 1);
            }
        }
        double area = 0;
        int bh = y1 - y0;
        double[] rows = new double[bh];
        for (int y = y0; y < y1; y++) {
            for (int x = x0; x < x1; x++) {
                rows[y - y0] += alpha[y * w + x];
            }
            area += rows[y - y0];
        }
        double fill = area / ((double) bh * (x1 - x0));
        double top = 0;
        for (int r = 0; r < bh / 2; r++) {
            top += rows[r];
        }
        if (bh % 2 == 1) {
            top += rows[bh / 2] * 0.5;
        }
        double topFraction = top / Math.max(area, 1e-6);
        String shape = topFraction < 0.375 ? "triangle" : fill > 0.87 ? "square" : "circle";
        return new Score(background, colour, shape);
    }

    private static double sq(double v) {
        return v * v;
    }

    /** Per-channel median, averaging the two middle values of an even count (as numpy does). */
    private static float[] median(java.util.List<float[]> values) {
        float[] out = new float[3];
        float[] channel = new float[values.size()];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < channel.length; i++) {
                channel[i] = values.get(i)[c];
            }
            Arrays.sort(channel);
            int n = channel.length;
            out[c] = n % 2 == 1 ? channel[n / 2] : (channel[n / 2 - 1] + channel[n / 2]) / 2f;
        }
        return out;
    }

    private static String nearest(float[] rgb, Map<String, float[]> table) {
        String best = null;
        double bestDistance = Double.MAX_VALUE;
        for (Map.Entry<String, float[]> e : table.entrySet()) {
            double d = sq(e.getValue()[0] - rgb[0]) + sq(e.getValue()[1] - rgb[1]) + sq(e.getValue()[2] - rgb[2]);
            if (d < bestDistance) {
                bestDistance = d;
                best = e.getKey();
            }
        }
        return best;
    }
}
