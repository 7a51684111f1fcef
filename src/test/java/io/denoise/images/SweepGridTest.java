package io.denoise.images;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.images.Grid.Axis;
import io.denoise.images.Grid.Cell;
import io.denoise.images.Grid.Image;
import io.denoise.images.Grid.Mark;
import io.denoise.recipe.SweepPlan;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A sweep's grid: the layout for one axis and for two, and the plan it carries. */
class SweepGridTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int M = Grid.GAP;
    private static final int L = Grid.LINE;
    private static final int T = Grid.TEXT_GAP;

    private static SweepPlan plan(String x, String y) throws IOException {
        String body = "{\"base\":{\"prompt\":\"a red circle\",\"seed\":7},\"x\":" + x + (y == null ? "" : ",\"y\":" + y)
                + "}";
        return SweepPlan.read(JSON.readTree(body), 64);
    }

    @Test
    void oneAxisOfNineIsThreeColumnsOfThreeEachCaptionedWithItsValue() throws IOException {
        SweepPlan plan = plan("{\"field\":\"guidanceScale\",\"values\":[0.25,0.5,1,2,4,6,8,10,20]}", null);
        List<Cell> cells = solids(9, 200, 40);
        byte[] png = SweepGrid.render(plan, cells);
        BufferedImage grid = GridTest.decode(png);
        // cells 200 wide: each caption (the value) is one line; the title two (the axis, then the prompt)
        int titleBand = 2 * L + M;
        int captionBand = L + T;
        assertEquals(M + 3 * 200 + 2 * M + M, grid.getWidth(), "3 columns");
        assertEquals(M + titleBand + 3 * (captionBand + 40) + 2 * M + M, grid.getHeight(), "3 rows");
        for (int i = 0; i < 9; i++) {
            int left = M + i % 3 * (200 + M);
            int top = M + titleBand + i / 3 * (captionBand + 40 + M) + captionBand;
            assertEquals(colour(i), GridTest.rgb(grid, left + 100, top + 20), "cell " + i + " is row " + i / 3 + ", column "
                    + i % 3);
            assertEquals(colour(i), GridTest.rgb(grid, left, top));
            assertEquals(colour(i), GridTest.rgb(grid, left + 199, top + 39));
        }
        List<String> captions = new ArrayList<>();
        for (String v : new String[] {"0.25", "0.5", "1", "2", "4", "6", "8", "10", "20"}) {
            captions.add(v);
        }
        assertArrayEquals(Grid.images("guidanceScale\na red circle", cells, captions, 3, Map.of("sweep", plan.toJson().toString())),
                png, "the grid is Grid.images with the values as captions");

        assertEquals(2, GridTest.decode(SweepGrid.render(plan("{\"field\":\"seed\",\"values\":[1,2]}", null),
                solids(2, 200, 40))).getWidth() / 200, "two values: one row of two");
    }

    @Test
    void twoAxesAreAnXyPlot() throws IOException {
        SweepPlan plan = plan("{\"field\":\"guidanceScale\",\"values\":[1,2.5,4]}",
                "{\"field\":\"scheduler\",\"values\":[\"pndm\",\"ddim\"]}");
        List<Cell> cells = solids(6, 64, 64);
        byte[] png = SweepGrid.render(plan, cells);
        assertArrayEquals(Grid.plot("a red circle", new Axis("guidanceScale", "1", "2.5", "4"),
                new Axis("scheduler", "pndm", "ddim"), cells, Map.of("sweep", plan.toJson().toString())), png);
        BufferedImage grid = GridTest.decode(png);
        assertTrue(grid.getWidth() > 3 * 64 + 2 * M, "3 columns and the row labels");
        assertTrue(grid.getHeight() > 2 * 64 + M, "2 rows and the column labels");
    }

    @Test
    void theGridCarriesThePlanInItsSweepChunk() throws IOException {
        SweepPlan plan = plan("{\"field\":\"negativePrompt\",\"values\":[\"\",\"blue\"]}",
                "{\"field\":\"prompt\",\"values\":[\"circle\",\"square\"]}");
        byte[] png = SweepGrid.render(plan, solids(4, 16, 16));
        Map<String, String> chunks = PngTest.textByKeyword(png);
        assertEquals(List.of(SweepGrid.PLAN_KEYWORD), List.copyOf(chunks.keySet()));
        String text = chunks.get(SweepGrid.PLAN_KEYWORD);
        assertEquals("{\"base\":{\"prompt\":\"a red circle\",\"seed\":7},"
                + "\"x\":{\"field\":\"negativePrompt\",\"values\":[\"\",\"blue\"]},"
                + "\"y\":{\"field\":\"prompt\",\"values\":[\"circle\",\"square\"]}}", text);
        assertEquals(plan, SweepPlan.read(JSON.readTree(text), 64));
        // the empty value and the prompt S/R axis as the plot labels them
        assertArrayEquals(Grid.plot("a red circle", new Axis("negativePrompt", "\"\"", "blue"),
                new Axis("prompt S/R", "circle", "square"), solids(4, 16, 16), Map.of("sweep", text)), png);
    }

    @Test
    void failedCellsAreMarkedAndTheCellCountMustMatch() throws IOException {
        SweepPlan plan = plan("{\"field\":\"seed\",\"values\":[1,2,3]}", null);
        List<Cell> cells = new ArrayList<>(solids(3, 64, 64));
        cells.set(1, Mark.failed("out of memory"));
        BufferedImage grid = GridTest.decode(SweepGrid.render(plan, cells));
        assertEquals(M + 2 * 64 + M + M, grid.getWidth());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SweepGrid.render(plan, solids(2, 64, 64)));
        assertEquals("a sweep of 3 × 1 needs 3 cells, got 2", e.getMessage());
    }

    // ---- helpers

    private static int colour(int i) {
        return 0x102030 + i * 0x151515;
    }

    private static List<Cell> solids(int n, int w, int h) {
        List<Cell> cells = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] rgb = new byte[w * h * 3];
            for (int p = 0; p < w * h; p++) {
                rgb[3 * p] = (byte) (colour(i) >> 16);
                rgb[3 * p + 1] = (byte) (colour(i) >> 8);
                rgb[3 * p + 2] = (byte) colour(i);
            }
            cells.add(new Image(Png.encode(w, h, rgb, Map.of())));
        }
        return cells;
    }

}
