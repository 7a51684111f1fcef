package io.denoise.images;

import io.denoise.images.Grid.Axis;
import io.denoise.images.Grid.Cell;
import io.denoise.images.Grid.Image;
import io.denoise.images.Grid.Mark;
import io.denoise.images.Grid.Options;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GridTest {

    private static final BitmapFont FONT = BitmapFont.unifont();
    private static final int[] COLOURS = {0xE04040, 0x40A040, 0x4040E0, 0xE0C040, 0x40C0C0, 0xC040C0, 0x806020};
    // At text scale 1 (cells narrower than 512 pixels):
    private static final int M = Grid.GAP;
    private static final int L = Grid.LINE;
    private static final int T = Grid.TEXT_GAP;

    /** A rectangle of the grid, {@code [x, x + w) × [y, y + h)}. */
    private record Box(int x, int y, int w, int h) {
        boolean contains(int px, int py) {
            return px >= x && px < x + w && py >= y && py < y + h;
        }
    }

    @Test
    void plotSizeFollowsFromCellsGapsAndLabels() throws IOException {
        List<Cell> cells = solids(6, 40, 30);
        BufferedImage plain = decode(Grid.plot(null, new Axis(null, "a", "b", "c"), new Axis("", "r1", "r2"), cells,
                null));
        int yLabels = FONT.width("r1");
        assertEquals(16, yLabels);
        assertEquals(M + yLabels + M + 3 * 40 + 2 * M + M, plain.getWidth());
        assertEquals(M + (L + T) + 2 * 30 + M + M, plain.getHeight());

        BufferedImage titled = decode(Grid.plot("Grid", new Axis("CFG", "a", "b", "c"),
                new Axis("Sampler", "r1", "r2"), cells, null));
        int yTitle = FONT.width("Sampler");
        assertEquals(56, yTitle);
        assertEquals(M + yTitle + M + 3 * 40 + 2 * M + M, titled.getWidth());
        assertEquals(M + (L + M) + (L + T) + (L + T) + 2 * 30 + M + M, titled.getHeight());

        BufferedImage oneRow = decode(Grid.plot(null, new Axis("CFG", "a", "b", "c"), null, cells.subList(0, 3),
                null));
        assertEquals(M + 3 * 40 + 2 * M + M, oneRow.getWidth());
        assertEquals(M + (L + T) + (L + T) + 30 + M, oneRow.getHeight());

        BufferedImage wrapped = decode(Grid.plot(null, new Axis(null, "a", "b", "a label far wider than forty pixels"),
                new Axis("", "r1", "r2"), cells, null));
        assertEquals(plain.getWidth(), wrapped.getWidth());
        assertEquals(plain.getHeight() + 2 * L, wrapped.getHeight(), "the wide x label takes three lines");
    }

    @Test
    void eachCellIsAtItsPlaceAndLabelsOnlyWhereTheyBelong() throws IOException {
        List<Cell> cells = solids(6, 40, 30);
        BufferedImage grid = decode(Grid.plot(null, new Axis(null, "a", "b", "c"), new Axis("", "r1", "r2"), cells,
                null));
        int gridLeft = M + 16 + M;
        int gridTop = M + L + T;
        List<Box> cellBoxes = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            for (int c = 0; c < 3; c++) {
                cellBoxes.add(new Box(gridLeft + c * (40 + M), gridTop + r * (30 + M), 40, 30));
            }
        }
        List<Box> labelBoxes = new ArrayList<>();
        for (int c = 0; c < 3; c++) {
            labelBoxes.add(new Box(gridLeft + c * (40 + M), gridTop - T - L, 40, L));
        }
        for (int r = 0; r < 2; r++) {
            labelBoxes.add(new Box(M, gridTop + r * (30 + M) + (30 - L) / 2, 16, L));
        }
        for (int i = 0; i < 6; i++) {
            assertSolid(grid, cellBoxes.get(i), COLOURS[i], "cell " + i);
        }
        for (Box label : labelBoxes) {
            assertTrue(darkPixels(grid, label) > 10, "dark text in " + label);
        }
        assertOnlyBackgroundOutside(grid, cellBoxes, labelBoxes);
    }

    @Test
    void titlesAreAboveTheColumnsAndInTheCorner() throws IOException {
        List<Cell> cells = solids(6, 40, 30);
        BufferedImage grid = decode(Grid.plot("Grid", new Axis("CFG", "a", "b", "c"),
                new Axis("Sampler", "r1", "r2"), cells, null));
        int yw = FONT.width("Sampler");
        int gridLeft = M + yw + M;
        int columns = 3 * 40 + 2 * M;
        int gridTop = M + (L + M) + (L + T) + (L + T);
        List<Box> cellBoxes = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            for (int c = 0; c < 3; c++) {
                cellBoxes.add(new Box(gridLeft + c * (40 + M), gridTop + r * (30 + M), 40, 30));
            }
        }
        Box title = new Box(M, M, grid.getWidth() - 2 * M, L);
        Box xTitle = new Box(gridLeft, M + L + M, columns, L);
        Box yTitle = new Box(M, gridTop - T - L, yw, L);
        List<Box> labels = new ArrayList<>(List.of(title, xTitle, yTitle));
        for (int c = 0; c < 3; c++) {
            labels.add(new Box(gridLeft + c * (40 + M), gridTop - T - L, 40, L));
        }
        for (int r = 0; r < 2; r++) {
            labels.add(new Box(M, gridTop + r * (30 + M) + (30 - L) / 2, yw, L));
        }
        for (Box b : labels) {
            assertTrue(darkPixels(grid, b) > 10, "dark text in " + b);
        }
        for (int i = 0; i < 6; i++) {
            assertSolid(grid, cellBoxes.get(i), COLOURS[i], "cell " + i);
        }
        assertOnlyBackgroundOutside(grid, cellBoxes, labels);
    }

    @Test
    void cellsTakeTheLargestImageSizeAndSmallerImagesAreCentred() throws IOException {
        List<Cell> cells = List.of(solid(20, 10, COLOURS[0]), solid(40, 12, COLOURS[1]), solid(8, 30, COLOURS[2]));
        BufferedImage grid = decode(Grid.plot(null, new Axis(null, "", "", ""), null, cells, null));
        assertEquals(M + 3 * 40 + 2 * M + M, grid.getWidth());
        assertEquals(M + 30 + M, grid.getHeight(), "blank x labels take no band");
        List<Box> boxes = List.of(new Box(M + 10, M + 10, 20, 10), new Box(M + 48, M + 9, 40, 12),
                new Box(M + 96 + 16, M, 8, 30));
        for (int i = 0; i < 3; i++) {
            assertSolid(grid, boxes.get(i), COLOURS[i], "image " + i);
        }
        assertOnlyBackgroundOutside(grid, boxes, List.of());
    }

    @Test
    void aMarkCellIsAGreyBoxWithDarkText() throws IOException {
        List<Cell> cells = List.of(solid(128, 96, COLOURS[0]), Mark.failed("out of memory"), Mark.cancelled(null));
        BufferedImage grid = decode(Grid.plot(null, new Axis(null, "", "", ""), null, cells, null));
        for (int c = 1; c < 3; c++) {
            Box cell = new Box(M + c * (128 + M), M, 128, 96);
            int fill = 0;
            int text = 0;
            for (int y = cell.y; y < cell.y + cell.h; y++) {
                for (int x = cell.x; x < cell.x + cell.w; x++) {
                    int p = rgb(grid, x, y);
                    if (p == Grid.MARK_FILL) {
                        fill++;
                    } else if (p == Grid.MARK_TEXT) {
                        text++;
                    } else {
                        throw new AssertionError("mark " + c + " pixel " + x + "," + y + " is "
                                + Integer.toHexString(p));
                    }
                }
            }
            assertTrue(fill > cell.w * cell.h * 3 / 4, "mostly grey: " + fill);
            assertTrue(text > 80, "dark text: " + text);
            assertTrue(dark(Grid.MARK_TEXT) && !dark(Grid.MARK_FILL));
            // the word's large letters sit in the middle band, none in the box's padding
            assertEquals(0, darkPixels(grid, new Box(cell.x, cell.y, cell.w, Grid.GAP)));
            assertEquals(0, darkPixels(grid, new Box(cell.x, cell.y, Grid.GAP, cell.h)));
        }
        // "FAILED" at twice the text scale plus a line of reason; "CANCELLED" alone
        Box failed = new Box(M + 128 + M, M, 128, 96);
        int wordTop = M + (96 - (2 * L + T + L)) / 2;
        assertTrue(darkPixels(grid, new Box(failed.x, wordTop, 128, 2 * L)) > 100);
        assertTrue(darkPixels(grid, new Box(failed.x, wordTop + 2 * L + T, 128, L)) > 30);
    }

    @Test
    void renderingIsDeterministic() {
        List<Cell> cells = new ArrayList<>(solids(3, 33, 21));
        cells.add(Mark.failed("seed 7: NaN"));
        Map<String, String> text = new LinkedHashMap<>();
        text.put("parameters", "a red circle\nSteps: 20");
        byte[] first = Grid.plot("t", new Axis("x", "1", "2"), new Axis("y", "p", "q"), cells, text);
        byte[] second = Grid.plot("t", new Axis("x", "1", "2"), new Axis("y", "p", "q"), List.copyOf(cells),
                new LinkedHashMap<>(text));
        assertArrayEquals(first, second);
        List<String> captions = List.of("seed 1", "seed 2", "seed 3", "seed 4");
        assertArrayEquals(Grid.images("j", cells, captions, 0, text), Grid.images("j", cells, captions, 0, text));
    }

    @Test
    void wideLabelsWrapAtSpacesAndAreCutWithAnEllipsis() {
        List<String> lines = Grid.wrap(FONT, "one two three four five six seven eight", 72, 3);
        assertEquals(List.of("one two", "three", "four fiv…"), lines);
        for (String l : lines) {
            assertTrue(FONT.width(l) <= 72, l);
        }
        assertEquals(List.of("one two three"), Grid.wrap(FONT, " one two three ", 200, 3), "fits: not cut");
        assertEquals(List.of("abcdefgh", "ijklmnop", "qrstuvw…"), Grid.wrap(FONT, "abcdefghijklmnopqrstuvwxyz", 64, 3),
                "a word wider than the column breaks anywhere");
        assertEquals(List.of("日本語の", "ラベル"), Grid.wrap(FONT, "日本語のラベル", 64, 3));
        assertEquals(List.of("a", "", "b"), Grid.wrap(FONT, "a\n\nb", 64, 3), "newlines start lines");
        assertEquals(List.of("a", "b…"), Grid.wrap(FONT, "a\nb\nc", 64, 2));
        assertEquals(List.of("e\u0301"), Grid.wrap(FONT, "e\u0301", 8, 1), "a combining mark stays with its letter");
        assertEquals(List.of(), Grid.wrap(FONT, " \n\t ", 64, 3));
        assertEquals(List.of(), Grid.wrap(FONT, null, 64, 3));
        assertEquals(1, Grid.wrap(FONT, "x".repeat(50_000), 64, 1).size());
        assertTrue(Grid.wrap(FONT, "x".repeat(50_000), 1_000_000, 3).get(0).endsWith("…"),
                "labels past 10,000 characters are cut even where the column is wide enough");
        assertFalse(Grid.wrap(FONT, "anything", 0, 3).isEmpty());
    }

    @Test
    void oddTextDoesNotThrow() throws IOException {
        String odd = "\u0000\u0007\uD800 \uDFFF😀👩‍👩‍👧\n\n\t\u202Eשלום\u0301\u200B\uFEFF" + "長".repeat(20_000);
        List<Cell> cells = List.of(solid(24, 24, COLOURS[0]), new Mark(odd, odd), new Mark(null, null),
                Mark.failed(""));
        BufferedImage grid = decode(Grid.plot(odd, new Axis(odd, odd, "", null, "x"), null, cells, null));
        assertTrue(grid.getWidth() > 4 * 24);
        decode(Grid.plot(null, new Axis(null, "a", "b"), new Axis(odd, odd, "\r\n"), cells, Map.of("parameters", odd)));
        decode(Grid.images(odd, cells, Collections.nCopies(4, odd), 0, null));
        decode(Grid.images(null, cells, java.util.Arrays.asList(null, "", " ", "\n"), 1, null));
    }

    @Test
    void limitsThrowWithAClearMessageBeforeAllocating() {
        List<Cell> marks = Collections.nCopies(65, Mark.failed("x"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Grid.images(null, marks, null, 0, null));
        assertEquals("a grid has at most 64 cells, this one has 65", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Grid.plot(null, new Axis("x", values(9)),
                new Axis("y", values(8)), marks, null));
        assertEquals("a grid has at most 64 cells, this one (9 x values × 8 y values) has 72", e.getMessage());
        Grid.images(null, marks.subList(0, 4), null, 0, null, Options.DEFAULT.withMaxCells(4));

        List<Cell> two = solids(2, 40, 30);
        e = assertThrows(IllegalArgumentException.class,
                () -> Grid.images(null, two, null, 0, null, Options.DEFAULT.withMaxPixels(4_000)));
        int w = M + 2 * 40 + M + M;
        int h = M + 30 + M;
        assertEquals("the grid would be " + w + " × " + h + " = " + w * h + " pixels (" + 3 * w * h
                + " bytes of RGB); a grid has at most 4000 pixels", e.getMessage());

        // a small file declaring a huge image is refused from its header
        List<Cell> huge = List.of(new Image(declaredOnly(60_000, 60_000)));
        e = assertThrows(IllegalArgumentException.class, () -> Grid.images(null, huge, null, 0, null));
        assertEquals("the grid would be 60064 × 60064 = 3607684096 pixels (10823052288 bytes of RGB); a grid has at"
                + " most 40000000 pixels", e.getMessage(), "text scale 4 for cells this wide: 32-pixel margins");
        List<Cell> wide = List.of(new Image(declaredOnly(50_000_000, 1)));
        e = assertThrows(IllegalArgumentException.class, () -> Grid.images(null, wide, null, 0, null));
        assertEquals("the grid would be 50000064 pixels wide; a grid has at most 40000000 pixels", e.getMessage());
        List<Cell> tall = List.of(new Image(declaredOnly(100, 2_000_000)));
        e = assertThrows(IllegalArgumentException.class, () -> Grid.images(null, tall, null, 0, null));
        assertTrue(e.getMessage().contains("at most 40000000 pixels"), e.getMessage());

        assertThrows(IllegalArgumentException.class, () -> Options.DEFAULT.withMaxPixels(1L << 31));
        assertThrows(IllegalArgumentException.class, () -> Options.DEFAULT.withMaxCells(0));
        assertThrows(IllegalArgumentException.class, () -> Options.DEFAULT.withTextScale(9));
    }

    @Test
    void inputsThatDoNotMatchAreRefused() {
        List<Cell> five = solids(5, 8, 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Grid.plot(null, new Axis("x", "1", "2"), new Axis("y", "a", "b"), five, null));
        assertEquals("2 x values × 2 y values need 4 cells, got 5", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Grid.plot(null, new Axis("x", List.of()), null, five.subList(0, 1), null));
        assertEquals("the x axis has no values", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Grid.images(null, five, List.of("a"), 0, null));
        assertEquals("5 cells need as many captions, got 1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Grid.images(null, List.of(), null, 0, null));
        assertEquals("a grid needs at least one cell", e.getMessage());
        List<Cell> junk = List.of(five.get(0), new Image("not an image".getBytes(StandardCharsets.US_ASCII)));
        e = assertThrows(IllegalArgumentException.class,
                () -> Grid.plot(null, new Axis("x", "1", "2"), null, junk, null));
        assertTrue(e.getMessage().startsWith("cell 1 (row 0, column 1) "), e.getMessage());
    }

    @Test
    void textChunksAreWrittenInOrder() throws IOException {
        Map<String, String> text = new LinkedHashMap<>();
        text.put("parameters", "a red circle\nNegative prompt: blue\nSteps: 20, Seed: 7");
        text.put("comment", "円と四角");
        text.put("Software", "denoise");
        byte[] png = Grid.images(null, solids(2, 8, 8), List.of("seed 7", "seed 8"), 0, text);
        List<String[]> chunks = PngTest.rawTextChunks(png);
        assertEquals(3, chunks.size());
        assertArrayEquals(new String[] {"tEXt", "parameters", text.get("parameters")}, chunks.get(0));
        assertArrayEquals(new String[] {"iTXt", "comment", "円と四角"}, chunks.get(1));
        assertArrayEquals(new String[] {"tEXt", "Software", "denoise"}, chunks.get(2));
    }

    @Test
    void imagesOfOneJobAreInCeilSqrtColumnsWithCaptions() throws IOException {
        assertEquals(1, Grid.columnsFor(1));
        assertEquals(2, Grid.columnsFor(2));
        assertEquals(2, Grid.columnsFor(4));
        assertEquals(3, Grid.columnsFor(5));
        assertEquals(3, Grid.columnsFor(9));
        assertEquals(4, Grid.columnsFor(10));
        assertEquals(8, Grid.columnsFor(64));

        List<Cell> cells = solids(5, 40, 30);
        List<String> captions = List.of("#42", "#43", "#44", "#45", "#46");
        BufferedImage grid = decode(Grid.images(null, cells, captions, 0, null));
        int band = L + T;
        assertEquals(M + 3 * 40 + 2 * M + M, grid.getWidth());
        assertEquals(M + 2 * (band + 30) + M + M, grid.getHeight());
        List<Box> cellBoxes = new ArrayList<>();
        List<Box> captionBoxes = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            int left = M + i % 3 * (40 + M);
            int rowTop = M + i / 3 * (band + 30 + M);
            cellBoxes.add(new Box(left, rowTop + band, 40, 30));
            captionBoxes.add(new Box(left, rowTop, 40, L));
        }
        for (int i = 0; i < 5; i++) {
            assertSolid(grid, cellBoxes.get(i), COLOURS[i], "image " + i);
            assertTrue(darkPixels(grid, captionBoxes.get(i)) > 10, "caption " + i);
        }
        assertOnlyBackgroundOutside(grid, cellBoxes, captionBoxes);

        BufferedImage twoColumns = decode(Grid.images(null, cells, null, 2, null));
        assertEquals(M + 2 * 40 + M + M, twoColumns.getWidth());
        assertEquals(M + 3 * 30 + 2 * M + M, twoColumns.getHeight(), "no captions, no band");
        BufferedImage oneRow = decode(Grid.images(null, cells, null, 10, null));
        assertEquals(M + 5 * 40 + 4 * M + M, oneRow.getWidth());
    }

    @Test
    void largeCellsGetLargerTextAndGaps() throws IOException {
        BufferedImage grid = decode(Grid.images(null, solids(1, 512, 8), List.of("seed 1"), 0, null));
        int s = 2;
        assertEquals(2 * M * s + 512, grid.getWidth());
        assertEquals(M * s + (L + T) * s + 8 + M * s, grid.getHeight());
        BufferedImage fixed = decode(Grid.images(null, solids(1, 512, 8), List.of("seed 1"), 0, null,
                Options.DEFAULT.withTextScale(1)));
        assertEquals(2 * M + 512, fixed.getWidth());
    }

    @Test
    void transparentPixelsShowTheBackground() throws IOException {
        BufferedImage argb = new BufferedImage(10, 10, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 10; y++) {
            for (int x = 0; x < 10; x++) {
                argb.setRGB(x, y, x < 5 ? 0x00FF0000 : 0x80000000);
            }
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(argb, "png", png);
        BufferedImage grid = decode(Grid.images(null, List.of(new Image(png.toByteArray())), null, 0, null));
        assertEquals(Grid.BACKGROUND, rgb(grid, M + 2, M + 2));
        int half = (0xFA * 127 + 127) / 255;
        assertEquals(half << 16 | half << 8 | half, rgb(grid, M + 7, M + 2));
    }

    // ---- helpers

    private static List<Cell> solids(int n, int w, int h) {
        List<Cell> cells = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cells.add(solid(w, h, COLOURS[i % COLOURS.length]));
        }
        return cells;
    }

    private static Image solid(int w, int h, int colour) {
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) {
            rgb[3 * i] = (byte) (colour >> 16);
            rgb[3 * i + 1] = (byte) (colour >> 8);
            rgb[3 * i + 2] = (byte) colour;
        }
        return new Image(Png.encode(w, h, rgb, Map.of()));
    }

    private static List<String> values(int n) {
        List<String> v = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            v.add(Integer.toString(i));
        }
        return v;
    }

    static BufferedImage decode(byte[] png) throws IOException {
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        assertTrue(image != null, "a PNG");
        return image;
    }

    static int rgb(BufferedImage image, int x, int y) {
        return image.getRGB(x, y) & 0xffffff;
    }

    private static boolean dark(int rgb) {
        return (rgb >> 16 & 0xff) < 0x80 && (rgb >> 8 & 0xff) < 0x80 && (rgb & 0xff) < 0x80;
    }

    private static int darkPixels(BufferedImage image, Box box) {
        int n = 0;
        for (int y = box.y; y < box.y + box.h; y++) {
            for (int x = box.x; x < box.x + box.w; x++) {
                if (dark(rgb(image, x, y))) {
                    n++;
                }
            }
        }
        return n;
    }

    private static void assertSolid(BufferedImage image, Box box, int colour, String what) {
        for (int y = box.y; y < box.y + box.h; y++) {
            for (int x = box.x; x < box.x + box.w; x++) {
                if (rgb(image, x, y) != colour) {
                    throw new AssertionError(what + ": pixel " + x + "," + y + " is "
                            + Integer.toHexString(rgb(image, x, y)) + ", expected " + Integer.toHexString(colour));
                }
            }
        }
        // the pixels just around the box are not its colour (it is exactly there)
        for (int[] p : new int[][] {{box.x - 1, box.y}, {box.x + box.w, box.y}, {box.x, box.y - 1},
                {box.x, box.y + box.h}}) {
            assertFalse(rgb(image, p[0], p[1]) == colour, what + ": the colour spills to " + p[0] + "," + p[1]);
        }
    }

    private static void assertOnlyBackgroundOutside(BufferedImage image, List<Box> cells, List<Box> labels) {
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                int px = x;
                int py = y;
                if (cells.stream().anyMatch(b -> b.contains(px, py))) {
                    continue;
                }
                int p = rgb(image, x, y);
                if (labels.stream().anyMatch(b -> b.contains(px, py))) {
                    assertTrue(p == Grid.BACKGROUND || p == Grid.TEXT, "label pixel " + x + "," + y);
                    continue;
                }
                if (p != Grid.BACKGROUND) {
                    throw new AssertionError("pixel " + x + "," + y + " outside cells and labels is "
                            + Integer.toHexString(p));
                }
            }
        }
    }

    /** A PNG with only a header (signature, IHDR, IEND): its declared size can be read, its pixels cannot. */
    private static byte[] declaredOnly(int width, int height) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
            ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
            DataOutputStream d = new DataOutputStream(ihdr);
            d.writeInt(width);
            d.writeInt(height);
            d.write(new byte[] {8, 2, 0, 0, 0});
            chunk(out, "IHDR", ihdr.toByteArray());
            chunk(out, "IEND", new byte[0]);
            return out.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        d.writeInt(data.length);
        d.write(t);
        d.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        d.writeInt((int) crc.getValue());
    }

}
