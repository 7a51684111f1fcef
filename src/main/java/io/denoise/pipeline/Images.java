package io.denoise.pipeline;

import io.denoise.images.ImageProbe;
import io.denoise.recipe.InvalidRequestException;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/**
 * Conversions between pixel tensors and images: decoder output → RGB bytes, and a user's init image (PNG or
 * JPEG, size-checked from its header before any pixel is decoded) → a {@code [3, h, w]} tensor in [-1, 1].
 */
public final class Images {

    private Images() {
    }

    /**
     * Converts one image of decoder output to interleaved RGB bytes as diffusers does:
     * {@code round(clamp(x / 2 + 0.5, 0, 1) · 255)}, rounding half to even.
     *
     * @param chw    the decoder output, {@code [batch, 3, h, w]}
     * @param offset where this image starts in {@code chw}
     */
    public static byte[] toRgb(float[] chw, int offset, int width, int height) {
        int plane = width * height;
        byte[] rgb = new byte[plane * 3];
        for (int c = 0; c < 3; c++) {
            int base = offset + c * plane;
            for (int i = 0; i < plane; i++) {
                float v = chw[base + i] / 2f + 0.5f;
                v = v < 0f ? 0f : Math.min(v, 1f);
                rgb[i * 3 + c] = (byte) (int) Math.rint(v * 255f);
            }
        }
        return rgb;
    }

    /**
     * Decodes an init image and resizes it (bicubic) to the requested size.
     *
     * @return {@code [3, height, width]} in [-1, 1], alpha dropped
     * @throws InvalidRequestException for {@code initImage}: not PNG or JPEG, too many bytes or pixels, unreadable
     */
    public static float[] decodeInitImage(byte[] bytes, int maxBytes, long maxPixels, int width, int height) {
        BufferedImage image;
        try {
            image = ImageProbe.decode(bytes, maxBytes, maxPixels);
        } catch (ImageProbe.RejectedImageException e) {
            throw new InvalidRequestException("initImage", e.getMessage());
        }
        if (image.getWidth() != width || image.getHeight() != height) {
            image = resize(image, width, height);
        }
        float[] chw = new float[3 * width * height];
        int plane = width * height;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int argb = image.getRGB(x, y);
                int i = y * width + x;
                chw[i] = 2f * (((argb >> 16) & 0xff) / 255f) - 1f;
                chw[plane + i] = 2f * (((argb >> 8) & 0xff) / 255f) - 1f;
                chw[2 * plane + i] = 2f * ((argb & 0xff) / 255f) - 1f;
            }
        }
        return chw;
    }

    private static BufferedImage resize(BufferedImage src, int width, int height) {
        BufferedImage dst = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = dst.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
            g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            g.drawImage(src, 0, 0, width, height, null);
        } finally {
            g.dispose();
        }
        return dst;
    }
}
