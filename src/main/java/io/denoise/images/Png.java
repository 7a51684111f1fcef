package io.denoise.images;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;

/**
 * A small PNG writer: 8-bit RGB, "Sub" row filter, and text chunks ({@code tEXt} for Latin-1 text, {@code iTXt}
 * for anything else), which is where Stable Diffusion tools keep the generation recipe under the keyword
 * {@code parameters}. Stateless and thread-safe.
 */
public final class Png {

    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private Png() {
    }

    /**
     * Encodes pixels.
     *
     * @param rgb  {@code height × width × 3} bytes, row-major, interleaved
     * @param text keyword → text chunks, in iteration order
     */
    public static byte[] encode(int width, int height, byte[] rgb, Map<String, String> text) {
        if (rgb.length != width * height * 3) {
            throw new IllegalArgumentException("expected " + width * height * 3 + " bytes of RGB, got " + rgb.length);
        }
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream(rgb.length / 2 + 1024);
            out.write(SIGNATURE);
            ByteArrayOutputStream header = new ByteArrayOutputStream(13);
            DataOutputStream h = new DataOutputStream(header);
            h.writeInt(width);
            h.writeInt(height);
            h.writeByte(8);  // bit depth
            h.writeByte(2);  // colour type: RGB
            h.writeByte(0);  // deflate
            h.writeByte(0);  // adaptive filtering
            h.writeByte(0);  // no interlace
            chunk(out, "IHDR", header.toByteArray());
            for (Map.Entry<String, String> e : text.entrySet()) {
                textChunk(out, e.getKey(), e.getValue());
            }
            chunk(out, "IDAT", compress(width, height, rgb));
            chunk(out, "IEND", new byte[0]);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] compress(int width, int height, byte[] rgb) throws IOException {
        ByteArrayOutputStream data = new ByteArrayOutputStream(rgb.length / 2 + 64);
        Deflater deflater = new Deflater(6);
        try (DeflaterOutputStream z = new DeflaterOutputStream(data, deflater, 1 << 16)) {
            int stride = width * 3;
            byte[] row = new byte[stride + 1];
            row[0] = 1; // Sub: each byte minus the same channel of the pixel to its left
            for (int y = 0; y < height; y++) {
                int base = y * stride;
                for (int x = 0; x < stride; x++) {
                    int left = x >= 3 ? rgb[base + x - 3] : 0;
                    row[x + 1] = (byte) (rgb[base + x] - left);
                }
                z.write(row);
            }
        } finally {
            deflater.end();
        }
        return data.toByteArray();
    }

    private static void textChunk(ByteArrayOutputStream out, String keyword, String text) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(keyword.getBytes(StandardCharsets.ISO_8859_1));
        body.write(0);
        if (StandardCharsets.ISO_8859_1.newEncoder().canEncode(text)) {
            body.write(text.getBytes(StandardCharsets.ISO_8859_1));
            chunk(out, "tEXt", body.toByteArray());
        } else {
            body.write(new byte[] {0, 0, 0, 0}); // uncompressed, no language tag, no translated keyword
            body.write(text.getBytes(StandardCharsets.UTF_8));
            chunk(out, "iTXt", body.toByteArray());
        }
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        byte[] typeBytes = type.getBytes(StandardCharsets.US_ASCII);
        d.writeInt(data.length);
        d.write(typeBytes);
        d.write(data);
        CRC32 crc = new CRC32();
        crc.update(typeBytes);
        crc.update(data);
        d.writeInt((int) crc.getValue());
    }
}
