package io.denoise.pipeline;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.file.Path;

/**
 * The VAE decoder: {@code latent_sample [batch, channels, h/8, w/8]} (already divided by the scaling factor) →
 * {@code sample [batch, 3, h, w]} in [-1, 1]. Thread-safe.
 */
public final class VaeDecoder extends ModelPart {

    static final String LATENT_SAMPLE = "latent_sample";

    private final ElementType floatType;
    private final long declaredChannels;
    private final String outputName;

    public VaeDecoder(Path dir, SessionFactory sessions) {
        super("vae_decoder", dir, sessions);
        try {
            TensorInfo in = input(LATENT_SAMPLE);
            this.floatType = floatType(in, LATENT_SAMPLE);
            this.declaredChannels = shape(in, LATENT_SAMPLE, 4)[1];
            this.outputName = outputNamed("sample");
            shape(output(outputName), outputName, 4);
            floatType(output(outputName), outputName);
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    public ElementType floatType() {
        return floatType;
    }

    /** Latent channels if declared statically, else -1. */
    public long declaredChannels() {
        return declaredChannels;
    }

    /**
     * Decodes one batch of latents.
     *
     * @param latents [batch, channels, h, w], already divided by the VAE scaling factor
     * @return pixels [batch, 3, 8h, 8w] in [-1, 1]
     */
    public float[] decode(OrtEnvironment env, float[] latents, long[] shape, OrtSession.RunOptions runOptions,
                          InferenceStats stats) throws OrtException {
        return runFloat(env, LATENT_SAMPLE, floatType, latents, shape, outputName, runOptions, stats);
    }
}
