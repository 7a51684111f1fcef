package io.denoise.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Base64;

/**
 * Decodes base64 held in a (large) string straight into the decoded bytes: no substring, no whitespace-stripped
 * copy, no intermediate encoded byte array. Whitespace (line breaks of wrapped base64) is skipped; any other
 * character outside the alphabet is refused.
 */
final class Base64Text {

    private Base64Text() {
    }

    /**
     * @param from where the base64 starts in {@code text}
     * @throws IllegalArgumentException when it is not valid base64
     */
    static byte[] decode(String text, int from) {
        int symbols = 0;
        int padding = 0;
        for (int i = from; i < text.length(); i++) {
            char c = text.charAt(i);
            if (isWhitespace(c)) {
                continue;
            }
            if (c > 0x7f) {
                throw new IllegalArgumentException("non-ASCII character at index " + i);
            }
            symbols++;
            padding = c == '=' ? padding + 1 : 0;
        }
        int data = symbols - padding;
        if (padding > 2 || (padding > 0 && symbols % 4 != 0) || data % 4 == 1) {
            throw new IllegalArgumentException("not a whole number of base64 groups");
        }
        byte[] out = new byte[data / 4 * 3 + Math.max(0, data % 4 - 1)];
        try (InputStream in = Base64.getDecoder().wrap(new Chars(text, from))) {
            int read = in.readNBytes(out, 0, out.length);
            if (read != out.length || in.read() != -1) {
                throw new IllegalArgumentException("decoded to an unexpected length");
            }
        } catch (IOException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        return out;
    }

    private static boolean isWhitespace(char c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t';
    }

    /** The string's characters from an index, whitespace skipped, as ASCII bytes. */
    private static final class Chars extends InputStream {
        private final String text;
        private int at;

        Chars(String text, int from) {
            this.text = text;
            this.at = from;
        }

        @Override
        public int read() {
            while (at < text.length()) {
                char c = text.charAt(at++);
                if (!isWhitespace(c)) {
                    return c;
                }
            }
            return -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            int n = 0;
            while (n < len && at < text.length()) {
                char c = text.charAt(at++);
                if (!isWhitespace(c)) {
                    b[off + n++] = (byte) c;
                }
            }
            return n == 0 && len > 0 ? -1 : n;
        }
    }
}
