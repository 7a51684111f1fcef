package io.denoise.pipeline;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * The VAE decoder: {@code latent_sample [batch, channels, h/s, w/s]} (already divided by the scaling factor) →
 * {@code sample [batch, 3, h, w]} in [-1, 1], where {@code s} is the VAE scale factor (8 for Stable Diffusion, 2
 * for diffusers' tiny test VAE), read from the config, the graph's static shapes or a probe run. Thread-safe.
 */
public final class VaeDecoder extends ModelPart {

    static final String LATENT_SAMPLE = "latent_sample";

    private final ElementType floatType;
    private final long declaredChannels;
    private final long[] declaredInput;
    private final long[] declaredOutput;
    private final String outputName;

    public VaeDecoder(Path dir, SessionFactory sessions) {
        super("vae_decoder", dir, sessions);
        try {
            TensorInfo in = input(LATENT_SAMPLE);
            this.floatType = floatType(in, LATENT_SAMPLE);
            this.declaredInput = shape(in, LATENT_SAMPLE, 4);
            this.declaredChannels = declaredInput[1];
            this.outputName = outputNamed("sample");
            this.declaredOutput = shape(output(outputName), outputName, 4);
            if (declaredOutput[1] > 0 && declaredOutput[1] != 3) {
                throw mismatch("output '" + outputName + "' must have 3 channels, found shape " + Arrays.toString(declaredOutput));
            }
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
     * Pixels per latent cell read from the graph when both the latent and the image height are static, else -1.
     */
    public int declaredScaleFactor() {
        long h = declaredInput[2];
        long out = declaredOutput[2];
        return h > 0 && out > 0 && out % h == 0 ? (int) (out / h) : -1;
    }

    /**
     * Finds the scale factor by decoding zero latents {@code [1, channels, 4, 4]} once and reading the image's
     * size: cheap even for a full-size VAE, and it also proves that the decoder takes {@code channels}.
     *
     * @throws ModelLoadException when the run fails or the image is not {@code [1, 3, 4s, 4s]}
     */
    public int probeScaleFactor(OrtEnvironment env, int channels) {
        int cells = 4;
        long[] in = {1, channels, cells, cells};
        try (NativeTensor latents = NativeTensor.allocate(env, floatType, in);
             OrtSession.RunOptions options = new OrtSession.RunOptions();
             OrtSession.Result result = run(Map.of(LATENT_SAMPLE, latents.onnx()), Set.of(outputName),
                     Map.of(), options, new InferenceStats())) {
            long[] out = ((OnnxTensor) result.get(outputName).orElseThrow()).getInfo().getShape();
            if (out.length != 4 || out[0] != 1 || out[1] != 3 || out[2] != out[3] || out[2] % cells != 0) {
                throw mismatch("a probe run on latents " + Arrays.toString(in) + " returned an image of shape "
                        + Arrays.toString(out) + ", expected [1, 3, 4s, 4s]");
            }
            return (int) (out[2] / cells);
        } catch (OrtException e) {
            throw mismatch("a probe run on latents " + Arrays.toString(in) + " failed (" + e.getMessage().strip()
                    + "); the decoder does not take " + channels + " latent channels or cannot run");
        }
    }

    /**
     * Decodes one batch of latents.
     *
     * @param latents [batch, channels, h, w], already divided by the VAE scaling factor
     * @return pixels [batch, 3, s·h, s·w] in [-1, 1]
     */
    public float[] decode(OrtEnvironment env, float[] latents, long[] shape, OrtSession.RunOptions runOptions,
                          InferenceStats stats) throws OrtException {
        return runFloat(env, LATENT_SAMPLE, floatType, latents, shape, outputName, runOptions, stats);
    }
}
