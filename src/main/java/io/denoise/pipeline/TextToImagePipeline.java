package io.denoise.pipeline;

import ai.onnxruntime.OrtException;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.recipe.ModelProfile;
import io.denoise.recipe.RequestRules;
import io.denoise.recipe.ServiceLimits;

import java.util.List;

/**
 * Stable Diffusion text-to-image and image-to-image on ONNX Runtime, in the stages of diffusers'
 * {@code StableDiffusionPipeline.__call__}: check inputs → encode prompt → set timesteps → prepare latents →
 * denoising loop → decode. One instance per model, shared by all generations (thread-safe); each generation is a
 * {@link Generation}, whose methods are those stages, which allocates its buffers once, reuses them across steps,
 * and frees every native tensor before {@code generate} returns.
 */
public final class TextToImagePipeline {

    /**
     * Limits that belong to the deployment rather than the model.
     *
     * @param maxBatchImages most images one request may batch, whatever the model allows
     */
    public record Limits(int maxBatchImages, ServiceLimits service) {
        public static final Limits DEFAULT = new Limits(8, ServiceLimits.DEFAULT);
    }

    private final ModelSet model;
    private final ModelProfile profile;
    private final ServiceLimits service;

    public TextToImagePipeline(ModelSet model, Limits limits) {
        this.model = model;
        ModelProfile own = model.profile();
        this.profile = new ModelProfile(own.name(), own.defaults(), own.limits().withMaxImages(limits.maxBatchImages()),
                own.schedulers(), own.imageToImage());
        this.service = limits.service();
    }

    public ModelSet model() {
        return model;
    }

    /** What this pipeline offers to requests: the model's defaults and limits within this deployment's. */
    public ModelProfile profile() {
        return profile;
    }

    /**
     * Stage 0 — checks a request against the model's and the deployment's limits ({@link RequestRules}).
     *
     * @throws InvalidRequestException naming the first offending field
     */
    public void checkInputs(GenerationRequest r) {
        RequestRules.check(r, profile, service);
    }

    /**
     * Runs one generation on the calling thread.
     *
     * @param listener receives every step and each image as it is decoded
     * @param cancel   cancels the generation from another thread
     * @throws InvalidRequestException       if the request does not fit the model
     * @throws GenerationCancelledException if cancelled; no further step runs after the one in flight
     * @throws OrtException                  if ONNX Runtime fails
     */
    public GenerationResult generate(GenerationRequest r, GenerationListener listener, Cancellation cancel)
            throws OrtException {
        return generate(r, null, listener, cancel);
    }

    /**
     * Runs one generation on the calling thread; image-to-image when the request names an init image, whose bytes
     * (PNG or JPEG) are {@code initImage}.
     *
     * @throws InvalidRequestException if the request does not fit the model, or names an init image without bytes
     */
    public GenerationResult generate(GenerationRequest r, byte[] initImage, GenerationListener listener,
                                     Cancellation cancel) throws OrtException {
        try (PreparedGeneration prepared = prepare(r, initImage, listener, cancel)) {
            Generation g = prepared.generation;
            try {
                GenerationResult.LoopTiming loop = g.denoise(listener, cancel);
                List<GeneratedImage> images = g.decode(listener);
                return g.result(images, loop, System.nanoTime() - prepared.start);
            } catch (OrtException e) {
                if (cancel.isCancelled()) {
                    throw new GenerationCancelledException(-1);
                }
                throw e;
            }
        }
    }

    /**
     * Stages 0 to 3 of a generation, on the calling thread (for a {@link BatchedLoop}, or before {@link #generate}
     * denoises and decodes it alone): checks the
     * request, encodes the prompt, sets the timesteps and prepares the latents (encoding the init image, whose
     * bytes are {@code initImage}, for image-to-image). The cancellation is attached from here on.
     *
     * @throws InvalidRequestException      if the request does not fit the model, or its init image does not
     * @throws GenerationCancelledException if cancelled meanwhile
     * @throws OrtException                 if ONNX Runtime fails
     */
    public PreparedGeneration prepare(GenerationRequest r, byte[] initImage, GenerationListener listener,
                                      Cancellation cancel) throws OrtException {
        long start = System.nanoTime();
        checkInputs(r);
        float[] initPixels = initPixels(r, initImage);
        Generation g = new Generation(model, r, initPixels);
        cancel.attach(g.runOptions());
        try {
            g.encodePrompt();
            g.setTimesteps();
            g.prepareLatents();
            return new PreparedGeneration(g, listener, cancel, start);
        } catch (OrtException | RuntimeException e) {
            try {
                cancel.detach();
            } finally {
                g.close();
            }
            if (e instanceof OrtException && cancel.isCancelled()) {
                throw new GenerationCancelledException(-1);
            }
            throw e;
        }
    }

    /**
     * A loop that runs up to {@code maxJobs} generations of this model and one latent size together, one UNet call
     * per step over all of them (per timestep, where the UNet takes one timestep per call): see {@link BatchedLoop}.
     * The caller owns it and closes it; it is used from one thread.
     */
    public BatchedLoop batchedLoop(int maxJobs) {
        return new BatchedLoop(this, maxJobs);
    }

    /**
     * Stage 0, for image-to-image — the init image decoded to [1, 3, height, width] in [-1, 1] within the
     * deployment's limits, or null for text-to-image.
     *
     * @throws InvalidRequestException if the request and the bytes disagree on whether there is an init image, or
     *                                 the bytes are not an image within the limits
     */
    float[] initPixels(GenerationRequest r, byte[] initImage) {
        if ((r.initImage() == null) != (initImage == null)) {
            throw new InvalidRequestException("initImage", r.initImage() == null
                    ? "bytes were given, but the request names no init image"
                    : "the request names " + r.initImage() + ", but its bytes were not given");
        }
        return initImage == null ? null : Images.decodeInitImage(initImage,
                service.maxInitImageBytes(), service.maxInitImagePixels(), r.width(), r.height());
    }
}
