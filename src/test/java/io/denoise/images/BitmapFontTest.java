package io.denoise.images;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BitmapFontTest {

    private static final BitmapFont FONT = BitmapFont.unifont();
    private static final int INK = 0x123456;

    @Test
    void asciiGlyphsAreEightPixelsWideAndCjkSixteen() {
        assertEquals(0, FONT.width(""));
        assertEquals(8, FONT.width("A"));
        assertEquals(8 * 95, FONT.width(printableAscii()));
        assertEquals(16, FONT.width("円"));
        assertEquals(16, FONT.width("한"));
        assertEquals(8 + 8 + 16 + 16, FONT.width("Ab日本"));
    }

    @Test
    void glyphPixelsAreTheHexLineBits() throws IOException {
        for (int cp : new int[] {'A', 'g', 0x5186 /* 円 */, 0x00E9 /* é */}) {
            String hex = hexLine(cp);
            int glyphWidth = hex.length() == 32 ? 8 : 16;
            assertEquals(glyphWidth, FONT.advance(cp));
            for (int scale : new int[] {1, 3}) {
                int w = 40 + glyphWidth * scale;
                int h = 40 + BitmapFont.HEIGHT * scale;
                byte[] rgb = new byte[w * h * 3];
                int x0 = 5;
                int y0 = 7;
                int pen = FONT.draw(rgb, w, h, Character.toString(cp), x0, y0, INK, scale);
                assertEquals(x0 + glyphWidth * scale, pen);
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        boolean expected = false;
                        int gx = x - x0;
                        int gy = y - y0;
                        if (gx >= 0 && gy >= 0 && gx < glyphWidth * scale && gy < BitmapFont.HEIGHT * scale) {
                            expected = bit(hex, gx / scale, gy / scale, glyphWidth);
                        }
                        assertEquals(expected, inked(rgb, w, x, y),
                                "U+" + Integer.toHexString(cp) + " scale " + scale + " pixel " + x + "," + y);
                    }
                }
            }
        }
    }

    @Test
    void theGlyphForAIsTheUnifontLine() throws IOException {
        assertEquals("0000000018242442427E424242420000", hexLine('A'));
        byte[] rgb = new byte[8 * 16 * 3];
        FONT.draw(rgb, 8, 16, "A", 0, 0, INK, 1);
        StringBuilder drawn = new StringBuilder();
        for (int y = 0; y < 16; y++) {
            int row = 0;
            for (int x = 0; x < 8; x++) {
                row = row << 1 | (inked(rgb, 8, x, y) ? 1 : 0);
            }
            drawn.append(String.format("%02X", row));
        }
        assertEquals("0000000018242442427E424242420000", drawn.toString());
    }

    @Test
    void codePointsOutsideTheFontAreTheReplacementGlyph() {
        byte[] replacement = drawn("\uFFFD", 8);
        for (String odd : new String[] {"😀", "\uD800", "\uDFFF", "\uE000", "\uFFFF", "\uDBFF\uDFFF"}) {
            assertEquals(8, FONT.width(odd), odd);
            assertArrayEquals(replacement, drawn(odd, 8), "U+" + Integer.toHexString(odd.codePointAt(0)));
        }
        assertTrue(inkCount(replacement) > 20);
        assertTrue(FONT.has('A'));
        assertFalse(FONT.has(0xD800));
        assertFalse(FONT.has(0x1F600));
    }

    @Test
    void formatCharactersAndVariationSelectorsTakeNoSpaceAndDrawNothing() {
        assertEquals(16, FONT.width("a\u200Db"));
        assertEquals(16, FONT.width("a\uFEFFb\uFE0F"));
        assertEquals(FONT.width("\u2764"), FONT.width("\u2764\uFE0F"));
        assertArrayEquals(drawn("ab", 16), drawn("a\u200B\u200Db\uFE0F", 16));
    }

    @Test
    void combiningMarksTakeNoSpaceAndDrawOverTheLetterBefore() {
        assertEquals(8, FONT.width("e\u0301"));
        byte[] plain = drawn("e", 8);
        byte[] accented = drawn("e\u0301", 8);
        assertTrue(inkCount(accented) > inkCount(plain), "the acute adds pixels inside the e's cell");
        for (int i = 0; i < plain.length; i++) {
            if (plain[i] != 0) {
                assertEquals(plain[i], accented[i], "the e's own pixels stay");
            }
        }
    }

    @Test
    void oddTextNeverThrowsAndIsClippedToTheBuffer() {
        StringBuilder all = new StringBuilder();
        for (int c = 0; c < 0x10000; c += 7) {
            all.append((char) c); // includes lone surrogates and every control character
        }
        all.appendCodePoint(0x10FFFF).append("😀👩‍👩‍👧\u0000\t\n\r\u202E");
        String text = all.toString();
        byte[] rgb = new byte[30 * 20 * 3];
        for (int x : new int[] {-100_000, -3, 0, 25, 1_000_000, Integer.MIN_VALUE / 2, Integer.MAX_VALUE - 8}) {
            for (int y : new int[] {-40, -8, 0, 10, 19, 5000}) {
                FONT.draw(rgb, 30, 20, text, x, y, INK, 2);
            }
        }
        assertTrue(FONT.width(text) > 0);
        assertThrows(IllegalArgumentException.class, () -> FONT.draw(rgb, 31, 20, "a", 0, 0, INK, 1));
        assertThrows(IllegalArgumentException.class, () -> FONT.draw(rgb, 30, 20, "a", 0, 0, INK, 0));
    }

    @Test
    void theGlyphTableIsCompact() {
        // 7,199 glyphs 8 wide × 16 bytes + 49,887 glyphs 16 wide × 32 bytes, and one int per BMP code point
        assertEquals(7_199L * 16 + 49_887L * 32 + 65_536L * 4, FONT.tableBytes());
        assertEquals(1_973_712L, FONT.tableBytes());
    }

    @Test
    void readsAHexFontOfItsOwn() throws IOException {
        String hex = "0041:00000000FF000000000000000000FF00\n"
                + "\r\n"
                + "4E00:" + "8001".repeat(16) + "\r\n"
                + "FFFD:" + "FF".repeat(16) + "\n"
                + "1F600:" + "00".repeat(16) + "\n";
        BitmapFont font = BitmapFont.read(stream(hex), stream("0301:-8\n"));
        assertEquals(8, font.width("A"));
        assertEquals(16, font.width("\u4E00"));
        assertEquals(8, font.width("B"), "absent: the replacement glyph");
        assertEquals(8, font.width("😀"), "past the BMP: not read, the replacement glyph");
        byte[] rgb = new byte[16 * 16 * 3];
        font.draw(rgb, 16, 16, "\u4E00", 0, 0, INK, 1);
        assertTrue(inked(rgb, 16, 0, 5));
        assertTrue(inked(rgb, 16, 15, 5));
        assertFalse(inked(rgb, 16, 1, 5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BitmapFont.read(stream("0041:00\n0042:" + "0G".repeat(16) + "\n"), null));
        assertTrue(e.getMessage().startsWith("font line 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> BitmapFont.read(stream("0041:" + "00".repeat(16) + "\n0042:" + "0G".repeat(16) + "\n"), null));
        assertTrue(e.getMessage().contains("font line 2") && e.getMessage().contains("'G'"), e.getMessage());
    }

    @Test
    void theShippedFontIsOneInstanceForConcurrentCallers() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<BitmapFont>> fonts = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Callable<BitmapFont> c = BitmapFont::unifont;
                fonts.add(pool.submit(c));
            }
            for (Future<BitmapFont> f : fonts) {
                assertSame(FONT, f.get());
            }
        } finally {
            pool.shutdownNow();
        }
        assertNotNull(BitmapFont.class.getResource("fonts/LICENSE-unifont.txt"));
    }

    private static String printableAscii() {
        StringBuilder b = new StringBuilder();
        for (char c = 0x20; c < 0x7f; c++) {
            b.append(c);
        }
        return b.toString();
    }

    private static byte[] drawn(String text, int width) {
        byte[] rgb = new byte[width * 16 * 3];
        FONT.draw(rgb, width, 16, text, 0, 0, INK, 1);
        return rgb;
    }

    private static int inkCount(byte[] rgb) {
        int n = 0;
        for (int i = 0; i < rgb.length; i += 3) {
            if (rgb[i] != 0) {
                n++;
            }
        }
        return n;
    }

    private static boolean inked(byte[] rgb, int width, int x, int y) {
        int p = (y * width + x) * 3;
        int v = (rgb[p] & 0xff) << 16 | (rgb[p + 1] & 0xff) << 8 | rgb[p + 2] & 0xff;
        assertTrue(v == 0 || v == INK, "only the ink colour is drawn");
        return v == INK;
    }

    private static boolean bit(String hex, int x, int y, int glyphWidth) {
        int digitsPerRow = glyphWidth / 4;
        int row = Integer.parseInt(hex.substring(y * digitsPerRow, (y + 1) * digitsPerRow), 16);
        return (row >>> (glyphWidth - 1 - x) & 1) != 0;
    }

    /** The glyph's line in the shipped hex file, read without the font class. */
    private static String hexLine(int cp) throws IOException {
        String prefix = String.format("%04X:", cp);
        try (InputStream in = new GZIPInputStream(BitmapFont.class.getResourceAsStream("fonts/unifont.hex.gz"))) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                if (line.startsWith(prefix)) {
                    return line.substring(prefix.length()).strip();
                }
            }
        }
        throw new AssertionError("no line for " + prefix);
    }

    private static InputStream stream(String s) {
        return new ByteArrayInputStream(s.getBytes(StandardCharsets.US_ASCII));
    }
}
