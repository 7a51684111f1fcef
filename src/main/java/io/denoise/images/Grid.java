package io.denoise.images;


import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Image grids for comparing results, as a PNG: an X/Y plot ({@link #plot}: one row per y value, one column per x
 * value, as AUTOMATIC1111's X/Y plot) or the images of one job ({@link #images}: diffusers' {@code image_grid},
 * each cell with a caption). Text is drawn with {@link BitmapFont#unifont()}, so a grid is the same bytes on every
 * machine. Stateless and thread-safe.
 *
 * <p>Geometry, in pixels times the text scale {@code s} (see {@link Options#textScale}): every cell is
 * {@code cw × ch}, the largest image's width and height (smaller images centred on the background; a grid without
 * images uses {@value #DEFAULT_CELL} × {@value #DEFAULT_CELL}); cells, the margin around everything and the optional
 * title are {@value #GAP}·s apart; a text line is {@value #LINE}·s tall (16-pixel glyphs and 2 pixels of leading),
 * and a label band is {@value #TEXT_GAP}·s above (or beside) what it labels. A plot is laid out as
 * <pre>
 *   margin, title lines (at most {@value #TITLE_LINES}) and a gap
 *   y title (in the corner) | x title (at most {@value #TITLE_LINES} lines, centred over the columns)
 *                           | x values, each above its column (bottom-aligned, at most {@value #LABEL_LINES} lines)
 *   y value, left of its row | cells ...
 *   margin
 * </pre>
 * and its width is {@code margin + yLabels + gap + columns·cw + (columns−1)·gap + margin}, where {@code yLabels}
 * is the widest y label (or the y title), at most {@code max(cw, 160·s)}; without y values there is one row and no
 * label column. Labels wider than their column are wrapped at spaces (or anywhere, where a word is wider than the
 * column), and past their last allowed line cut with "…"; a newline in a label starts a new line.
 *
 * <p>A {@link Mark} cell (a failed or cancelled image) is a grey box with its word in large letters and its reason
 * below, wrapped to the box.
 *
 * <p>Limits ({@link Options}): at most {@code maxCells} cells and at most {@code maxPixels} pixels in the grid,
 * checked before any pixel is decoded or allocated, past which {@link IllegalArgumentException} says which and by
 * how much. Memory while drawing: 3 bytes per grid pixel for the canvas, one decoded cell image at a time, and the
 * encoded PNG.
 */
public final class Grid {

    /** Gap between cells and margin around the grid, in pixels at text scale 1. */
    public static final int GAP = 8;
    /** Gap between a label band and the cells it labels, in pixels at text scale 1. */
    public static final int TEXT_GAP = 4;
    /** Height of a text line, in pixels at text scale 1. */
    public static final int LINE = 18;
    /** Most lines of an axis value, a y title, a caption or a mark's reason. */
    public static final int LABEL_LINES = 3;
    /** Most lines of the grid's title and of the x title. */
    public static final int TITLE_LINES = 2;
    /** Cell width and height when no cell is an image. */
    public static final int DEFAULT_CELL = 256;
    /** Widest y label column, in pixels at text scale 1, where cells are narrower. */
    public static final int Y_LABEL_WIDTH = 160;

    /** Background, {@code 0xRRGGBB}. */
    public static final int BACKGROUND = 0xFAFAFA;
    /** Label text. */
    public static final int TEXT = 0x202020;
    /** A mark cell's box. */
    public static final int MARK_FILL = 0xC4C4C4;
    /** A mark cell's text. */
    public static final int MARK_TEXT = 0x2A2A2A;

    /** Labels are read up to this many characters (they are cut long before that). */
    private static final int MAX_LABEL_CHARS = 10_000;
    private static final String ELLIPSIS = "…";

    private Grid() {
    }

    /** An axis: its title (may be null or blank: none) and its values' labels, one per column or row. */
    public record Axis(String title, List<String> values) {
        public Axis {
            title = title == null ? "" : title;
            List<String> copy = new ArrayList<>(values.size());
            for (String v : values) {
                copy.add(v == null ? "" : v);
            }
            values = List.copyOf(copy);
        }

        public Axis(String title, String... values) {
            this(title, Arrays.asList(values));
        }
    }

    /** What a cell shows: an {@link Image} or a {@link Mark}. */
    public sealed interface Cell permits Image, Mark {
    }

    /** An image cell: the encoded image (PNG, or anything {@link ImageIO} reads). */
    public record Image(byte[] png) implements Cell {
        public Image {
            Objects.requireNonNull(png, "png");
        }
    }

    /** A cell without an image: a grey box with a word ("FAILED") and a short reason (may be null or blank). */
    public record Mark(String word, String reason) implements Cell {
        public Mark {
            word = word == null ? "" : word;
            reason = reason == null ? "" : reason;
        }

        public static Mark failed(String reason) {
            return new Mark("FAILED", reason);
        }

        public static Mark cancelled(String reason) {
            return new Mark("CANCELLED", reason);
        }
    }

    /**
     * How a grid is drawn and how large it may be.
     *
     * @param textScale 1 to 8: each font pixel is {@code textScale × textScale} and every gap scales with it; 0:
     *                  chosen from the cell width, {@code cw / 256} (rounded down) kept between 1 and 4: 1 for
     *                  cells narrower than 512 pixels, 2 for 512 to 767, 3 for 768 to 1023, 4 from 1024
     * @param maxCells  most cells in a grid
     * @param maxPixels most pixels in the grid (the canvas is 3 bytes a pixel), at most {@link #PIXELS_CEILING}
     */
    public record Options(int textScale, int maxCells, long maxPixels) {

        /** The largest {@code maxPixels} allowed: the canvas must fit one Java array. */
        public static final long PIXELS_CEILING = (Integer.MAX_VALUE - 64) / 3;

        /** Automatic text scale, 64 cells, 40 megapixels (120 MB of canvas). */
        public static final Options DEFAULT = new Options(0, 64, 40_000_000L);

        public Options {
            if (textScale < 0 || textScale > 8) {
                throw new IllegalArgumentException("textScale must be 0 (automatic) to 8, got " + textScale);
            }
            if (maxCells < 1) {
                throw new IllegalArgumentException("maxCells must be at least 1, got " + maxCells);
            }
            if (maxPixels < 1 || maxPixels > PIXELS_CEILING) {
                throw new IllegalArgumentException("maxPixels must be 1 to " + PIXELS_CEILING + ", got "
                        + maxPixels);
            }
        }

        public Options withTextScale(int scale) {
            return new Options(scale, maxCells, maxPixels);
        }

        public Options withMaxCells(int cells) {
            return new Options(textScale, cells, maxPixels);
        }

        public Options withMaxPixels(long pixels) {
            return new Options(textScale, maxCells, pixels);
        }
    }

    /** {@link #plot(String, Axis, Axis, List, Map, Options)} with {@link Options#DEFAULT}. */
    public static byte[] plot(String title, Axis x, Axis y, List<? extends Cell> cells, Map<String, String> text) {
        return plot(title, x, y, cells, text, Options.DEFAULT);
    }

    /**
     * An X/Y plot.
     *
     * @param title optional (null or blank: none) line above everything
     * @param x     the columns: at least one value
     * @param y     the rows; null or without values: one row and no row labels
     * @param cells row-major: {@code cells[row × columns + column]}, as many as columns × rows
     * @param text  PNG text chunks, keyword → text, in iteration order (null: none)
     * @return the grid as a PNG
     * @throws IllegalArgumentException when counts do not match, an image cannot be read, or a limit is passed
     */
    public static byte[] plot(String title, Axis x, Axis y, List<? extends Cell> cells, Map<String, String> text,
                              Options options) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(cells, "cells");
        Objects.requireNonNull(options, "options");
        int columns = x.values().size();
        if (columns == 0) {
            throw new IllegalArgumentException("the x axis has no values");
        }
        boolean hasY = y != null && !y.values().isEmpty();
        int rows = hasY ? y.values().size() : 1;
        long expected = (long) columns * rows;
        checkCellCount(expected, options, columns + " x values × " + rows + " y values");
        checkCellCount(cells.size(), options, "");
        if (cells.size() != expected) {
            throw new IllegalArgumentException(columns + " x values × " + rows + " y values need " + expected
                    + " cells, got " + cells.size());
        }
        Sizes sizes = sizes(cells, columns);
        int s = scale(options, sizes.width);
        BitmapFont font = BitmapFont.unifont();
        int cw = sizes.width;
        int ch = sizes.height;
        int gap = GAP * s;
        int line = LINE * s;
        int textGap = TEXT_GAP * s;

        long columnsWidth = (long) columns * cw + (long) (columns - 1) * gap;
        int yw = 0;
        if (hasY) {
            int cap = Math.max(cw, Y_LABEL_WIDTH * s);
            long natural = naturalWidth(font, y.title());
            for (String v : y.values()) {
                natural = Math.max(natural, naturalWidth(font, v));
            }
            yw = (int) Math.max(1, Math.min(natural * s, cap));
        }
        long width = 2L * gap + (hasY ? yw + gap : 0) + columnsWidth;
        checkWidth(width, options);
        int contentWidth = (int) (width - 2L * gap);

        List<String> titleLines = wrap(font, title, contentWidth / s, TITLE_LINES);
        List<String> xTitleLines = wrap(font, x.title(), (int) (columnsWidth / s), TITLE_LINES);
        List<List<String>> xLabels = new ArrayList<>(columns);
        int xLines = 0;
        for (String v : x.values()) {
            List<String> l = wrap(font, v, cw / s, LABEL_LINES);
            xLabels.add(l);
            xLines = Math.max(xLines, l.size());
        }
        List<String> yTitleLines = hasY ? wrap(font, y.title(), yw / s, LABEL_LINES) : List.of();
        int rowLines = Math.max(1, Math.min(LABEL_LINES, ch / line));
        List<List<String>> yLabels = new ArrayList<>(rows);
        if (hasY) {
            for (String v : y.values()) {
                yLabels.add(wrap(font, v, yw / s, rowLines));
            }
        }

        int titleBand = titleLines.isEmpty() ? 0 : titleLines.size() * line + gap;
        int xTitleBand = xTitleLines.isEmpty() ? 0 : xTitleLines.size() * line + textGap;
        int xValueBand = xLines == 0 ? 0 : xLines * line + textGap;
        int yTitleBand = yTitleLines.isEmpty() ? 0 : yTitleLines.size() * line + textGap;
        int header = Math.max(xTitleBand + xValueBand, yTitleBand);
        long height = 2L * gap + titleBand + header + (long) rows * ch + (long) (rows - 1) * gap;
        checkPixels(width, height, options);

        Canvas canvas = new Canvas((int) width, (int) height, s, font);
        int gridTop = gap + titleBand + header;
        int gridLeft = gap + (hasY ? yw + gap : 0);
        canvas.lines(titleLines, gap, gap, contentWidth, TEXT);
        canvas.lines(xTitleLines, gridLeft, gridTop - xValueBand - xTitleBand, (int) columnsWidth, TEXT);
        for (int c = 0; c < columns; c++) {
            List<String> l = xLabels.get(c);
            int top = gridTop - textGap - l.size() * line;
            canvas.lines(l, gridLeft + c * (cw + gap), top, cw, TEXT);
        }
        if (hasY) {
            canvas.lines(yTitleLines, gap, gridTop - yTitleBand, yw, TEXT);
            for (int r = 0; r < rows; r++) {
                List<String> l = yLabels.get(r);
                int top = gridTop + r * (ch + gap) + (ch - l.size() * line) / 2;
                canvas.lines(l, gap, top, yw, TEXT);
            }
        }
        for (int i = 0; i < cells.size(); i++) {
            int r = i / columns;
            int c = i % columns;
            canvas.cell(cells.get(i), gridLeft + c * (cw + gap), gridTop + r * (ch + gap), cw, ch, where(i, columns));
        }
        return Png.encode(canvas.width, canvas.height, canvas.rgb, text == null ? Map.of() : text);
    }

    /** {@link #images(String, List, List, int, Map, Options)} with {@link Options#DEFAULT}. */
    public static byte[] images(String title, List<? extends Cell> cells, List<String> captions, int columns,
                                Map<String, String> text) {
        return images(title, cells, captions, columns, text, Options.DEFAULT);
    }

    /**
     * The images of one job in rows, left to right, top to bottom (diffusers' {@code image_grid}), each with a
     * caption above it; the last row may be short.
     *
     * @param title    optional (null or blank: none) line above everything
     * @param cells    at least one
     * @param captions null (no captions) or one per cell (null or blank: none), e.g. "seed 42"
     * @param columns  at least 1, or 0 for {@link #columnsFor}{@code (cells.size())}; more than the cells count
     *                 as the cells
     * @param text     PNG text chunks, keyword → text, in iteration order (null: none)
     * @return the grid as a PNG
     * @throws IllegalArgumentException when counts do not match, an image cannot be read, or a limit is passed
     */
    public static byte[] images(String title, List<? extends Cell> cells, List<String> captions, int columns,
                                Map<String, String> text, Options options) {
        Objects.requireNonNull(cells, "cells");
        Objects.requireNonNull(options, "options");
        if (cells.isEmpty()) {
            throw new IllegalArgumentException("a grid needs at least one cell");
        }
        checkCellCount(cells.size(), options, "");
        if (captions != null && captions.size() != cells.size()) {
            throw new IllegalArgumentException(cells.size() + " cells need as many captions, got " + captions.size());
        }
        if (columns < 0) {
            throw new IllegalArgumentException("columns must be 0 (automatic) or more, got " + columns);
        }
        int n = cells.size();
        int cols = columns == 0 ? columnsFor(n) : Math.min(columns, n);
        int rows = (n + cols - 1) / cols;
        Sizes sizes = sizes(cells, cols);
        int s = scale(options, sizes.width);
        BitmapFont font = BitmapFont.unifont();
        int cw = sizes.width;
        int ch = sizes.height;
        int gap = GAP * s;
        int line = LINE * s;
        int textGap = TEXT_GAP * s;

        long width = 2L * gap + (long) cols * cw + (long) (cols - 1) * gap;
        checkWidth(width, options);
        int contentWidth = (int) (width - 2L * gap);
        List<String> titleLines = wrap(font, title, contentWidth / s, TITLE_LINES);
        List<List<String>> captionLines = new ArrayList<>(n);
        int capLines = 0;
        for (int i = 0; i < n; i++) {
            List<String> l = captions == null ? List.of() : wrap(font, captions.get(i), cw / s, LABEL_LINES);
            captionLines.add(l);
            capLines = Math.max(capLines, l.size());
        }
        int titleBand = titleLines.isEmpty() ? 0 : titleLines.size() * line + gap;
        int captionBand = capLines == 0 ? 0 : capLines * line + textGap;
        long height = 2L * gap + titleBand + (long) rows * (captionBand + ch) + (long) (rows - 1) * gap;
        checkPixels(width, height, options);

        Canvas canvas = new Canvas((int) width, (int) height, s, font);
        canvas.lines(titleLines, gap, gap, contentWidth, TEXT);
        int top = gap + titleBand;
        for (int i = 0; i < n; i++) {
            int r = i / cols;
            int c = i % cols;
            int left = gap + c * (cw + gap);
            int rowTop = top + r * (captionBand + ch + gap);
            List<String> l = captionLines.get(i);
            canvas.lines(l, left, rowTop + captionBand - textGap - l.size() * line, cw, TEXT);
            canvas.cell(cells.get(i), left, rowTop + captionBand, cw, ch, "cell " + i);
        }
        return Png.encode(canvas.width, canvas.height, canvas.rgb, text == null ? Map.of() : text);
    }

    /** Columns of the automatic layout for {@code n} images: {@code ceil(sqrt(n))}, at least 1. */
    public static int columnsFor(int n) {
        int c = (int) Math.ceil(Math.sqrt(Math.max(1, n)));
        while ((long) (c - 1) * (c - 1) >= n && c > 1) {
            c--;
        }
        while ((long) c * c < n) {
            c++;
        }
        return c;
    }

    private static String where(int i, int columns) {
        return "cell " + i + " (row " + i / columns + ", column " + i % columns + ")";
    }

    private static void checkCellCount(long cells, Options options, String what) {
        if (cells > options.maxCells()) {
            throw new IllegalArgumentException("a grid has at most " + options.maxCells() + " cells, this one "
                    + (what.isEmpty() ? "has " : "(" + what + ") has ") + cells);
        }
    }

    private static void checkWidth(long width, Options options) {
        if (width > options.maxPixels()) {
            throw new IllegalArgumentException("the grid would be " + width + " pixels wide; a grid has at most "
                    + options.maxPixels() + " pixels");
        }
    }

    private static void checkPixels(long width, long height, Options options) {
        long pixels = width * height;
        if (pixels > options.maxPixels()) {
            throw new IllegalArgumentException("the grid would be " + width + " × " + height + " = " + pixels
                    + " pixels (" + pixels * 3 + " bytes of RGB); a grid has at most " + options.maxPixels()
                    + " pixels");
        }
    }

    private static int scale(Options options, int cellWidth) {
        return options.textScale() > 0 ? options.textScale() : Math.max(1, Math.min(4, cellWidth / 256));
    }

    private record Sizes(int width, int height) {
    }

    /** Cell size from the images' headers, no pixel decoded. */
    private static Sizes sizes(List<? extends Cell> cells, int columns) {
        int w = 0;
        int h = 0;
        boolean any = false;
        for (int i = 0; i < cells.size(); i++) {
            Cell cell = cells.get(i);
            if (cell == null) {
                throw new IllegalArgumentException(where(i, columns) + " is null");
            }
            if (cell instanceof Image image) {
                int[] size = header(image.png(), i, columns);
                w = Math.max(w, size[0]);
                h = Math.max(h, size[1]);
                any = true;
            }
        }
        return any ? new Sizes(w, h) : new Sizes(DEFAULT_CELL, DEFAULT_CELL);
    }

    private static int[] header(byte[] bytes, int i, int columns) {
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new IllegalArgumentException(where(i, columns) + " is not an image ImageIO can read");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                int w = reader.getWidth(0);
                int h = reader.getHeight(0);
                if (w < 1 || h < 1) {
                    throw new IllegalArgumentException(where(i, columns) + " is " + w + " × " + h + " pixels");
                }
                return new int[] {w, h};
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof IllegalArgumentException iae && iae.getMessage() != null
                    && iae.getMessage().startsWith("cell ")) {
                throw iae;
            }
            throw new IllegalArgumentException(where(i, columns) + " cannot be read as an image: " + e.getMessage(),
                    e);
        }
    }

    private static BufferedImage decode(byte[] bytes, String where) {
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new IllegalArgumentException(where + " is not an image ImageIO can read");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                return reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(where + " cannot be decoded: " + e.getMessage(), e);
        }
    }

    /** Widest explicit line of a label, at scale 1. */
    private static long naturalWidth(BitmapFont font, String label) {
        String text = label;
        if (text.codePointCount(0, text.length()) > MAX_LABEL_CHARS) {
            text = text.substring(0, text.offsetByCodePoints(0, MAX_LABEL_CHARS));
        }
        long widest = 0;
        for (String l : text.replace("\r\n", "\n").replace('\r', '\n').replace('\t', ' ').split("\n", -1)) {
            widest = Math.max(widest, font.width(l.strip()));
        }
        return widest;
    }

    /**
     * Wraps a label into at most {@code maxLines} lines no wider than {@code width} (pixels at scale 1), the last cut
     * with "…" where the label does not fit. Blank labels give no lines.
     */
    static List<String> wrap(BitmapFont font, String label, int width, int maxLines) {
        String text = label == null ? "" : label;
        boolean cut = false;
        if (text.codePointCount(0, text.length()) > MAX_LABEL_CHARS) {
            text = text.substring(0, text.offsetByCodePoints(0, MAX_LABEL_CHARS));
            cut = true;
        }
        text = text.replace("\r\n", "\n").replace('\r', '\n').replace('\t', ' ').strip();
        List<String> lines = new ArrayList<>();
        if (text.isEmpty()) {
            return lines;
        }
        width = Math.max(1, width);
        outer:
        for (String paragraph : text.split("\n", -1)) {
            String rest = paragraph.strip();
            if (rest.isEmpty()) {
                lines.add("");
            }
            while (!rest.isEmpty()) {
                if (lines.size() > maxLines) {
                    break outer;
                }
                int end = fit(font, rest, width);
                int space = rest.lastIndexOf(' ', end);
                int breakAt = end;
                if (end < rest.length()) {
                    if (rest.charAt(end) == ' ') {
                        breakAt = end;
                    } else if (space > 0) {
                        breakAt = space;
                    }
                }
                lines.add(rest.substring(0, breakAt).stripTrailing());
                rest = rest.substring(breakAt).stripLeading();
            }
        }
        if (lines.size() > maxLines || cut) {
            cut = true;
            while (lines.size() > maxLines) {
                lines.remove(lines.size() - 1);
            }
        }
        if (cut) {
            String last = lines.get(lines.size() - 1);
            int ellipsis = font.width(ELLIPSIS);
            int end = last.isEmpty() ? 0 : fit(font, last, Math.max(0, width - ellipsis), false);
            lines.set(lines.size() - 1, last.substring(0, end).stripTrailing() + ELLIPSIS);
        }
        return lines;
    }

    /** Length (in chars) of the longest prefix no wider than {@code width}; at least one code point. */
    private static int fit(BitmapFont font, String text, int width) {
        return fit(font, text, width, true);
    }

    private static int fit(BitmapFont font, String text, int width, boolean atLeastOne) {
        long used = 0;
        int i = 0;
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            int a = font.advance(cp);
            if (used + a > width && a > 0 && (i > 0 || !atLeastOne)) {
                break;
            }
            used += a;
            i += Character.charCount(cp);
        }
        return i;
    }

    /** An RGB canvas filled with the background. */
    private static final class Canvas {
        final int width;
        final int height;
        final byte[] rgb;
        final int scale;
        final BitmapFont font;

        Canvas(int width, int height, int scale, BitmapFont font) {
            this.width = width;
            this.height = height;
            this.scale = scale;
            this.font = font;
            this.rgb = new byte[width * height * 3];
            fill(0, 0, width, height, BACKGROUND);
        }

        void fill(int x, int y, int w, int h, int colour) {
            byte r = (byte) (colour >> 16);
            byte g = (byte) (colour >> 8);
            byte b = (byte) colour;
            int x1 = Math.min(width, x + w);
            int y1 = Math.min(height, y + h);
            for (int py = Math.max(0, y); py < y1; py++) {
                int p = (py * width + Math.max(0, x)) * 3;
                for (int px = Math.max(0, x); px < x1; px++) {
                    rgb[p++] = r;
                    rgb[p++] = g;
                    rgb[p++] = b;
                }
            }
        }

        /** Lines centred in a box {@code boxWidth} wide starting at {@code top}, drawn only inside the box. */
        void lines(List<String> lines, int left, int top, int boxWidth, int colour) {
            lines(lines, left, top, boxWidth, colour, scale, LINE * scale, top + lines.size() * LINE * scale);
        }

        /** Lines at scale {@code s}, {@code pitch} apart, drawn only above {@code bottom} and inside the box. */
        void lines(List<String> lines, int left, int top, int boxWidth, int colour, int s, int pitch, int bottom) {
            for (int i = 0; i < lines.size(); i++) {
                String l = lines.get(i);
                int w = font.width(l) * s;
                int x = left + (boxWidth - w) / 2;
                int y = top + i * pitch + (pitch - BitmapFont.HEIGHT * s) / 2;
                font.draw(rgb, width, height, left, top, boxWidth, Math.max(0, bottom - top), l, x, y, colour, s);
            }
        }

        void cell(Cell cell, int left, int top, int cw, int ch, String where) {
            if (cell instanceof Image image) {
                BufferedImage decoded = decode(image.png(), where);
                blit(decoded, left + (cw - decoded.getWidth()) / 2, top + (ch - decoded.getHeight()) / 2);
            } else if (cell instanceof Mark mark) {
                mark(mark, left, top, cw, ch);
            }
        }

        private void blit(BufferedImage image, int left, int top) {
            int w = image.getWidth();
            int h = image.getHeight();
            int[] row = new int[w];
            int br = BACKGROUND >> 16 & 0xff;
            int bg = BACKGROUND >> 8 & 0xff;
            int bb = BACKGROUND & 0xff;
            for (int y = 0; y < h; y++) {
                image.getRGB(0, y, w, 1, row, 0, w);
                int p = ((top + y) * width + left) * 3;
                for (int x = 0; x < w; x++) {
                    int argb = row[x];
                    int a = argb >>> 24;
                    int r = argb >> 16 & 0xff;
                    int g = argb >> 8 & 0xff;
                    int b = argb & 0xff;
                    if (a != 255) {
                        r = (r * a + br * (255 - a) + 127) / 255;
                        g = (g * a + bg * (255 - a) + 127) / 255;
                        b = (b * a + bb * (255 - a) + 127) / 255;
                    }
                    rgb[p++] = (byte) r;
                    rgb[p++] = (byte) g;
                    rgb[p++] = (byte) b;
                }
            }
        }

        private void mark(Mark mark, int left, int top, int cw, int ch) {
            fill(left, top, cw, ch, MARK_FILL);
            int pad = GAP * scale;
            int inner = Math.max(1, cw - 2 * pad);
            int line = LINE * scale;
            int textGap = TEXT_GAP * scale;
            int wordScale = font.width(mark.word().strip()) * 2 * scale <= inner ? 2 * scale : scale;
            List<String> word = wrap(font, mark.word(), inner / wordScale, 1);
            int wordHeight = word.isEmpty() ? 0 : LINE * wordScale + textGap;
            int room = Math.max(0, ch - 2 * pad - wordHeight);
            List<String> reason = wrap(font, mark.reason(), inner / scale,
                    Math.max(1, Math.min(LABEL_LINES, room / line)));
            int block = wordHeight + reason.size() * line - (reason.isEmpty() && !word.isEmpty() ? textGap : 0);
            int y = top + Math.max(0, (ch - block) / 2);
            lines(word, left, y, cw, MARK_TEXT, wordScale, LINE * wordScale, top + ch);
            lines(reason, left, y + wordHeight, cw, MARK_TEXT, scale, line, top + ch);
        }
    }
}
