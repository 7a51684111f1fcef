package io.denoise.pipeline;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The Java port of the shapes scorer reads drawn shapes the way the Python one does. */
class ShapeScorerTest {

    @ParameterizedTest(name = "{0} {1} on {2}")
    @CsvSource({
            "circle, red, white, 32, 32, 30",
            "square, blue, black, 20, 40, 22",
            "triangle, yellow, gray, 40, 30, 34",
            "circle, purple, black, 24, 24, 16",
            "square, orange, white, 36, 30, 40",
            "triangle, green, white, 30, 36, 26"})
    void readsShapeColourAndBackground(String shape, String colour, String background, int cx, int cy, int size) {
        ShapeScorer.Score score = ShapeScorer.score(draw(shape, colour, background, cx, cy, size));
        assertEquals(new ShapeScorer.Score(background, colour, shape), score);
    }

    static BufferedImage draw(String shape, String colour, String background, int cx, int cy, int size) {
        BufferedImage image = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(color(ShapeScorer.BACKGROUNDS.get(background)));
        g.fillRect(0, 0, 64, 64);
        g.setColor(color(ShapeScorer.COLOURS.get(colour)));
        int half = size / 2;
        switch (shape) {
            case "circle" -> g.fillOval(cx - half, cy - half, size, size);
            case "square" -> g.fillRect(cx - half, cy - half, size, size);
            default -> g.fillPolygon(new Polygon(new int[] {cx, cx + half, cx - half},
                    new int[] {cy - half, cy + half, cy + half}, 3));
        }
        g.dispose();
        return image;
    }

    private static Color color(float[] rgb) {
        return new Color((int) rgb[0], (int) rgb[1], (int) rgb[2]);
    }
}
