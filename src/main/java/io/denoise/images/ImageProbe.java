package io.denoise.images;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;

/**
 * Checks an uploaded image before anything trusts it: PNG or JPEG only, bounded in bytes, and bounded in pixels
 * as read from its header, before a single pixel is decoded (so a small file declaring a huge image is refused
 * without allocating it). Stateless and thread-safe.
 */
public final class ImageProbe {

    private static final Set<String> FORMATS = Set.of("png", "jpeg");

    /** Why an image was refused; the message is fit for a user. */
    public static final class RejectedImageException extends Exception {
        public RejectedImageException(String message) {
            super(message);
        }
    }

    /** An image's format and declared size. */
    public record Header(String format, int width, int height) {
    }

    private ImageProbe() {
    }

    /** Reads the header and checks format, bytes and pixels. */
    public static Header probe(byte[] bytes, int maxBytes, long maxPixels) throws RejectedImageException {
        return read(bytes, maxBytes, maxPixels, false).header;
    }

    /** Checks like {@link #probe} and then decodes the pixels. */
    public static BufferedImage decode(byte[] bytes, int maxBytes, long maxPixels) throws RejectedImageException {
        return read(bytes, maxBytes, maxPixels, true).image;
    }

    private record Read(Header header, BufferedImage image) {
    }

    private static Read read(byte[] bytes, int maxBytes, long maxPixels, boolean decode) throws RejectedImageException {
        if (bytes.length > maxBytes) {
            throw new RejectedImageException("is " + bytes.length + " bytes; at most " + maxBytes + " allowed");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) {
                throw new RejectedImageException("is not a PNG or JPEG image");
            }
            ImageReader reader = readers.next();
            try {
                String format = reader.getFormatName().toLowerCase(Locale.ROOT);
                if (!FORMATS.contains(format)) {
                    throw new RejectedImageException("must be PNG or JPEG, not " + format);
                }
                reader.setInput(in, true, true);
                int width = reader.getWidth(0);
                int height = reader.getHeight(0);
                long pixels = (long) width * height;
                if (pixels > maxPixels) {
                    throw new RejectedImageException("has " + pixels + " pixels; at most " + maxPixels + " allowed");
                }
                Header header = new Header(format, width, height);
                return new Read(header, decode ? reader.read(0) : null);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw new RejectedImageException("cannot be decoded: " + e.getMessage());
        }
    }
}
