package io.denoise.images;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * A bitmap font in the {@code .hex} format of GNU Unifont: one glyph a line, {@code XXXX:HEX}, the code point in
 * hex, then the glyph's 16 rows, top first, as 32 hex digits (8 pixels wide, one byte a row) or 64 (16 pixels
 * wide, two bytes a row), the most significant bit the leftmost pixel. Only the Basic Multilingual Plane is read.
 *
 * <p>{@link #unifont()} is GNU Unifont 15.0.01 as shipped in the resources ({@code fonts/unifont.hex.gz}, licence
 * in {@code fonts/LICENSE-unifont.txt}), loaded once per process on first use. Its combining marks
 * ({@code fonts/unifont-combining.txt}) take no advance and are drawn at their listed offset from the pen, over
 * the glyph before them, so {@code "e\u0301"} draws as {@code é}.
 *
 * <p>Text never makes drawing or measuring fail: a code point the font has no glyph for (unassigned, a lone
 * surrogate, anything outside the BMP such as emoji) is drawn as the replacement glyph U+FFFD; format characters
 * (category Cf: zero-width joiners and spaces, the byte-order mark, soft hyphen) and variation selectors are
 * skipped; control characters are drawn as the font draws them (Unifont: a dashed box with the code in it).
 * Text is drawn glyph after glyph, left to right, without shaping or bidirectional reordering.
 *
 * <p>Memory: the glyph table is two arrays, the glyphs' rows back to back (16 bytes for an 8-wide glyph, 32 for a
 * 16-wide one) and one {@code int} per BMP code point locating its glyph. For Unifont 15.0.01 (57,086 glyphs,
 * 7,199 of them 8 wide and 49,887 16 wide) that is 1,711,568 + 262,144 = 1,973,712 bytes (about 1.9 MiB,
 * measured by {@code BitmapFontTest}); loading briefly holds the 3.8 MB of decompressed hex besides.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class BitmapFont {

    /** Glyph height in pixels at scale 1. */
    public static final int HEIGHT = 16;

    private static final int REPLACEMENT = 0xFFFD;
    private static final int ABSENT = -1;
    // An index entry: glyph offset in bytes << 8 | left shift of a combining mark << 2 | combining << 1 | wide.
    private static final int WIDE = 1;
    private static final int COMBINING = 2;

    private final byte[] rows;
    private final int[] index;
    private final int replacement;

    private BitmapFont(byte[] rows, int[] index) {
        this.rows = rows;
        this.index = index;
        this.replacement = index[REPLACEMENT];
    }

    private static final class Shipped {
        static final BitmapFont UNIFONT = loadShipped();
    }

    /** GNU Unifont, parsed from the resources on the first call in this process (once, thread-safe). */
    public static BitmapFont unifont() {
        return Shipped.UNIFONT;
    }

    private static BitmapFont loadShipped() {
        try (InputStream hex = resource("fonts/unifont.hex.gz");
             InputStream gunzipped = new GZIPInputStream(hex, 1 << 16);
             InputStream combining = resource("fonts/unifont-combining.txt")) {
            return read(gunzipped, combining);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the font shipped in the resources", e);
        }
    }

    private static InputStream resource(String name) throws IOException {
        InputStream in = BitmapFont.class.getResourceAsStream(name);
        if (in == null) {
            throw new IOException("resource " + name + " is missing next to " + BitmapFont.class.getName());
        }
        return in;
    }

    /**
     * Parses a font.
     *
     * @param hex       the {@code .hex} text (uncompressed); blank lines are allowed, code points past U+FFFF are
     *                  ignored, a later line for the same code point replaces an earlier one
     * @param combining optional (may be null): lines {@code XXXX:OFFSET} naming the combining marks and the
     *                  (zero or negative) horizontal offset in pixels at which each is drawn
     * @throws IllegalArgumentException on a malformed line, naming it
     */
    public static BitmapFont read(InputStream hex, InputStream combining) throws IOException {
        byte[] text = hex.readAllBytes();
        byte[] rows = new byte[text.length / 2 + 32];
        int[] index = new int[0x10000];
        Arrays.fill(index, ABSENT);
        int used = 0;
        int line = 0;
        int i = 0;
        while (i < text.length) {
            line++;
            int end = i;
            while (end < text.length && text[end] != '\n') {
                end++;
            }
            int stop = end > i && text[end - 1] == '\r' ? end - 1 : end;
            if (stop > i) {
                int colon = i;
                while (colon < stop && text[colon] != ':') {
                    colon++;
                }
                if (colon == i || colon == stop || colon - i > 6) {
                    throw malformed(line, "expected XXXX:HEX");
                }
                int cp = (int) hexValue(text, i, colon, line);
                int digits = stop - colon - 1;
                if (digits != 32 && digits != 64) {
                    throw malformed(line, "a glyph has 32 or 64 hex digits, not " + digits);
                }
                if (cp <= 0xFFFF) {
                    index[cp] = used << 8 | (digits == 64 ? WIDE : 0);
                    for (int d = colon + 1; d < stop; d += 2) {
                        rows[used++] = (byte) hexValue(text, d, d + 2, line);
                    }
                }
            }
            i = end + 1;
        }
        if (combining != null) {
            readCombining(new String(combining.readAllBytes(), StandardCharsets.US_ASCII), index);
        }
        return new BitmapFont(Arrays.copyOf(rows, used), index);
    }

    private static void readCombining(String text, int[] index) {
        String[] lines = text.split("\r?\n");
        for (int n = 0; n < lines.length; n++) {
            String l = lines[n].strip();
            if (l.isEmpty()) {
                continue;
            }
            int colon = l.indexOf(':');
            try {
                int cp = Integer.parseInt(l.substring(0, colon), 16);
                int offset = Integer.parseInt(l.substring(colon + 1));
                if (offset > 0 || offset < -63) {
                    throw new IllegalArgumentException("combining list line " + (n + 1) + ": offset " + offset
                            + " is not in -63..0");
                }
                if (cp <= 0xFFFF && index[cp] != ABSENT) {
                    index[cp] = index[cp] & ~0xff | (-offset) << 2 | COMBINING | index[cp] & WIDE;
                }
            } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
                throw new IllegalArgumentException("combining list line " + (n + 1) + ": expected XXXX:OFFSET, got "
                        + l);
            }
        }
    }

    private static long hexValue(byte[] text, int from, int to, int line) {
        long v = 0;
        for (int i = from; i < to; i++) {
            int c = text[i];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) {
                throw malformed(line, "'" + (char) c + "' is not a hex digit");
            }
            v = v << 4 | d;
        }
        return v;
    }

    private static IllegalArgumentException malformed(int line, String why) {
        return new IllegalArgumentException("font line " + line + ": " + why);
    }

    /** Whether the font has a glyph of its own for this code point (not the replacement glyph). */
    public boolean has(int codePoint) {
        return codePoint >= 0 && codePoint <= 0xFFFF && index[codePoint] != ABSENT;
    }

    /** Advance of one code point at scale 1, as {@link #width(String)} counts it: 0, 8 or 16. */
    public int advance(int codePoint) {
        if (skipped(codePoint)) {
            return 0;
        }
        int e = entry(codePoint);
        return e == ABSENT ? 8 : (e & COMBINING) != 0 ? 0 : (e & WIDE) != 0 ? 16 : 8;
    }

    /** Width of a line of text in pixels at scale 1 (multiply by the scale for larger text). */
    public int width(String text) {
        long w = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            w += advance(cp);
            i += Character.charCount(cp);
        }
        return (int) Math.min(Integer.MAX_VALUE, w);
    }

    /**
     * Draws one line of text; pixels outside the buffer are left out.
     *
     * @param rgb    {@code height × width × 3} bytes, row-major, interleaved
     * @param x      left edge of the first glyph, in pixels (may be negative)
     * @param y      top edge of the line (the glyphs are {@link #HEIGHT} × scale tall)
     * @param colour {@code 0xRRGGBB}
     * @param scale  each glyph pixel becomes a {@code scale × scale} square (at least 1)
     * @return the pen position after the text: {@code x + width(text) * scale}
     */
    public int draw(byte[] rgb, int width, int height, String text, int x, int y, int colour, int scale) {
        return draw(rgb, width, height, 0, 0, width, height, text, x, y, colour, scale);
    }

    /** Like {@link #draw(byte[], int, int, String, int, int, int, int)}, drawing only inside the clip rectangle. */
    int draw(byte[] rgb, int width, int height, int clipX, int clipY, int clipWidth, int clipHeight,
             String text, int x, int y, int colour, int scale) {
        if (width < 0 || height < 0 || rgb.length != (long) width * height * 3) {
            throw new IllegalArgumentException("expected " + (long) width * height * 3 + " bytes of RGB for "
                    + width + " × " + height + ", got " + rgb.length);
        }
        if (scale < 1) {
            throw new IllegalArgumentException("scale must be at least 1, got " + scale);
        }
        int x0 = Math.max(0, clipX);
        int y0 = Math.max(0, clipY);
        int x1 = (int) Math.min(width, (long) clipX + clipWidth);
        int y1 = (int) Math.min(height, (long) clipY + clipHeight);
        long pen = x;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (skipped(cp)) {
                continue;
            }
            int e = entry(cp);
            if (e == ABSENT) {
                pen += 8L * scale;
                continue;
            }
            boolean wide = (e & WIDE) != 0;
            boolean combining = (e & COMBINING) != 0;
            long gx = combining ? pen - (long) ((e >>> 2) & 63) * scale : pen;
            if (gx < x1 && gx + (wide ? 16L : 8L) * scale > x0 && y < y1 && y + (long) HEIGHT * scale > y0) {
                glyph(rgb, width, x0, y0, x1, y1, e >>> 8, wide, gx, y, colour, scale);
            }
            if (!combining) {
                pen += (wide ? 16L : 8L) * scale;
            }
        }
        return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, pen));
    }

    private void glyph(byte[] rgb, int width, int x0, int y0, int x1, int y1, int offset, boolean wide,
                       long gx, long gy, int colour, int scale) {
        byte r = (byte) (colour >> 16);
        byte g = (byte) (colour >> 8);
        byte b = (byte) colour;
        int columns = wide ? 16 : 8;
        for (int row = 0; row < HEIGHT; row++) {
            int bits = wide ? (rows[offset + 2 * row] & 0xff) << 8 | rows[offset + 2 * row + 1] & 0xff
                    : rows[offset + row] & 0xff;
            if (bits == 0) {
                continue;
            }
            long top = gy + (long) row * scale;
            int ya = (int) Math.max(y0, top);
            int yb = (int) Math.min(y1, top + scale);
            for (int col = 0; col < columns; col++) {
                if ((bits >>> (columns - 1 - col) & 1) == 0) {
                    continue;
                }
                long left = gx + (long) col * scale;
                int xa = (int) Math.max(x0, left);
                int xb = (int) Math.min(x1, left + scale);
                for (int py = ya; py < yb; py++) {
                    int p = (py * width + xa) * 3;
                    for (int px = xa; px < xb; px++) {
                        rgb[p] = r;
                        rgb[p + 1] = g;
                        rgb[p + 2] = b;
                        p += 3;
                    }
                }
            }
        }
    }

    private int entry(int codePoint) {
        int e = codePoint >= 0 && codePoint <= 0xFFFF ? index[codePoint] : ABSENT;
        return e == ABSENT ? replacement : e;
    }

    private static boolean skipped(int codePoint) {
        return Character.getType(codePoint) == Character.FORMAT
                || codePoint >= 0xFE00 && codePoint <= 0xFE0F
                || codePoint >= 0xE0100 && codePoint <= 0xE01EF;
    }

    /** Bytes held by the glyph table's arrays (their contents, not the arrays' headers). */
    long tableBytes() {
        return rows.length + 4L * index.length;
    }
}
