package io.denoise.pipeline;

/**
 * One finished image.
 *
 * @param index  position in the request (image {@code i} used seed {@code seed + i})
 * @param seed   the unsigned 64-bit seed that regenerates this image alone
 * @param width  pixels
 * @param height pixels
 * @param png    the encoded PNG, with the recipe in its {@code parameters} text chunk
 */
public record GeneratedImage(int index, long seed, int width, int height, byte[] png) {
}
