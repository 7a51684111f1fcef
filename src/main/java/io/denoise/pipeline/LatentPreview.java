package io.denoise.pipeline;

import io.denoise.images.Png;

import java.util.Map;

/**
 * A cheap preview: latents projected to RGB by a fixed linear map per model ({@code denoise.json}'s
 * {@code preview} factors; Stable Diffusion 1.x's well-known ones otherwise), one pixel per latent cell.
 */
final class LatentPreview {

    private LatentPreview() {
    }

    /**
     * Renders one image's latents.
     *
     * @param latents [batch, channels, h, w] (scaled, as in the denoising loop)
     * @param offset  where the image starts
     * @return a PNG of {@code w × h} pixels
     */
    static byte[] render(float[] latents, int offset, int channels, int h, int w, ModelSettings.Preview preview) {
        float[][] f = preview.latentRgbFactors();
        float[] bias = preview.latentRgbBias();
        if (f.length != channels) {
            throw new IllegalStateException("preview factors have " + f.length + " rows for " + channels + " latent channels");
        }
        int plane = h * w;
        byte[] rgb = new byte[plane * 3];
        for (int p = 0; p < plane; p++) {
            for (int k = 0; k < 3; k++) {
                float v = bias[k];
                for (int c = 0; c < channels; c++) {
                    v += latents[offset + c * plane + p] * f[c][k];
                }
                float unit = Math.max(0f, Math.min(1f, (v + 1f) / 2f));
                rgb[p * 3 + k] = (byte) Math.round(unit * 255f);
            }
        }
        return Png.encode(w, h, rgb, Map.of());
    }
}
