package io.denoise.pipeline;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.denoise.random.NoiseSource;
import io.denoise.random.TorchGenerator;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.recipe.ModelProfile;
import io.denoise.recipe.RequestRules;
import io.denoise.recipe.ServiceLimits;
import io.denoise.scheduler.Scheduler;
import io.denoise.scheduler.Schedulers;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stable Diffusion text-to-image and image-to-image on ONNX Runtime, in the stages of diffusers'
 * {@code StableDiffusionPipeline.__call__}: check inputs → encode prompt → set timesteps → prepare latents →
 * denoising loop → decode. One instance per model, shared by all generations (thread-safe); each generation
 * allocates its buffers once and reuses them across steps, and frees every native tensor before returning.
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
    private final OrtEnvironment env;

    public TextToImagePipeline(ModelSet model, Limits limits) {
        this.model = model;
        ModelProfile own = model.profile();
        this.profile = new ModelProfile(own.name(), own.defaults(), own.limits().withMaxImages(limits.maxBatchImages()),
                own.schedulers(), own.imageToImage());
        this.service = limits.service();
        this.env = model.sessions().environment();
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
        long start = System.nanoTime();
        InferenceStats stats = new InferenceStats();
        checkInputs(r);
        Scheduler scheduler = model.newScheduler(r.scheduler(), r.eta());
        int n = r.numImages();
        int channels = model.latentChannels();
        int latentH = r.height() / model.vaeScaleFactor();
        int latentW = r.width() / model.vaeScaleFactor();
        int perImage = channels * latentH * latentW;
        if ((r.initImage() == null) != (initImage == null)) {
            throw new InvalidRequestException("initImage", r.initImage() == null
                    ? "bytes were given, but the request names no init image"
                    : "the request names " + r.initImage() + ", but its bytes were not given");
        }
        float[] initPixels = initImage == null ? null : Images.decodeInitImage(initImage,
                service.maxInitImageBytes(), service.maxInitImagePixels(), r.width(), r.height());

        try (OrtSession.RunOptions runOptions = new OrtSession.RunOptions()) {
            cancel.attach(runOptions);
            try {
                // 1. encode prompt (negative and positive in one batch)
                ClipTokenizer.Tokens positive = model.tokenizer().encode(r.prompt());
                try (NativeTensor textStates = encodePrompt(r, positive, runOptions, stats)) {
                    // 2. set timesteps
                    scheduler.setTimesteps(r.numInferenceSteps());
                    double[] timesteps = r.initImage() == null ? scheduler.timesteps()
                            : Schedulers.img2imgTimesteps(scheduler, r.numInferenceSteps(), r.effectiveStrength());
                    // 3. prepare latents
                    TorchGenerator[] generators = new TorchGenerator[n];
                    for (int i = 0; i < n; i++) {
                        generators[i] = new TorchGenerator(r.seedOf(i));
                    }
                    NoiseSource noise = perImageNoise(generators, perImage);
                    float[] latents;
                    if (initPixels == null) {
                        latents = prepareLatents(scheduler, noise, n * perImage);
                    } else {
                        latents = new float[n * perImage];
                        float[] initLatents = encodeInitImage(initPixels, r, n, perImage, runOptions, stats);
                        float[] initNoise = new float[latents.length];
                        noise.sample(initNoise);
                        scheduler.addNoise(initLatents, initNoise, timesteps[0], latents);
                    }
                    // 4. denoising loop
                    GenerationResult.LoopTiming loop = denoise(r, scheduler, timesteps, latents, textStates, noise,
                            new long[] {n, channels, latentH, latentW}, listener, cancel, runOptions, stats);
                    // 5. decode
                    List<GeneratedImage> images = decode(r, latents, perImage, new long[] {1, channels, latentH, latentW},
                            listener, runOptions, stats);
                    return new GenerationResult(images, latents, timesteps.length, positive.droppedTokens(),
                            System.nanoTime() - start, stats.runNanos(), loop);
                }
            } catch (OrtException e) {
                if (cancel.isCancelled()) {
                    throw new GenerationCancelledException(-1);
                }
                throw e;
            } finally {
                cancel.detach();
            }
        }
    }

    /**
     * Stage 3 of text-to-image — the starting latents: standard normal noise from {@code noise} (each image's own
     * generator) times the scheduler's {@code initNoiseSigma}, as diffusers' {@code prepare_latents}.
     *
     * @return [numImages, channels, h/s, w/s] flat, {@code size} values
     */
    static float[] prepareLatents(Scheduler scheduler, NoiseSource noise, int size) {
        float[] latents = new float[size];
        noise.sample(latents);
        float sigma = (float) scheduler.initNoiseSigma();
        for (int i = 0; i < latents.length; i++) {
            latents[i] *= sigma;
        }
        return latents;
    }

    /**
     * Stage 1 — the text states of the negative prompt (when guided) and the prompt, each repeated per image:
     * [(guided ? 2 : 1) · numImages, 77, hidden], owned by the caller.
     */
    NativeTensor encodePrompt(GenerationRequest r, ClipTokenizer.Tokens positive, OrtSession.RunOptions runOptions,
                                      InferenceStats stats) throws OrtException {
        boolean guided = r.doClassifierFreeGuidance();
        long[][] ids = guided
                ? new long[][] {model.tokenizer().encode(r.negativePrompt()).ids(), positive.ids()}
                : new long[][] {positive.ids()};
        int n = r.numImages();
        try (NativeTensor encoded = model.textEncoder().encode(env, ids, runOptions, stats)) {
            long[] shape = encoded.shape();
            int row = (int) (shape[1] * shape[2]);
            NativeTensor states = NativeTensor.allocate(env, encoded.type(), (long) ids.length * n, shape[1], shape[2]);
            for (int prompt = 0; prompt < ids.length; prompt++) {
                for (int i = 0; i < n; i++) {
                    states.copyFrom(encoded, prompt * row, (prompt * n + i) * row, row);
                }
            }
            return states;
        }
    }

    private float[] encodeInitImage(float[] pixels, GenerationRequest r, int n, int perImage,
                                    OrtSession.RunOptions runOptions, InferenceStats stats) throws OrtException {
        float[] mean = model.vaeEncoder().encode(env, pixels, new long[] {1, 3, r.height(), r.width()}, runOptions, stats);
        if (mean.length != perImage) {
            throw new IllegalStateException("vae_encoder returned " + mean.length + " values, expected " + perImage);
        }
        float scaling = (float) model.scalingFactor();
        float[] latents = new float[n * perImage];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < perImage; j++) {
                latents[i * perImage + j] = scaling * mean[j];
            }
        }
        return latents;
    }

    private GenerationResult.LoopTiming denoise(GenerationRequest r, Scheduler scheduler, double[] timesteps, float[] latents,
                         NativeTensor textStates, NoiseSource noise, long[] latentShape, GenerationListener listener,
                         Cancellation cancel, OrtSession.RunOptions runOptions, InferenceStats stats) throws OrtException {
        boolean guided = r.doClassifierFreeGuidance();
        int n = (int) latentShape[0];
        int size = latents.length;
        int batch = guided ? 2 * n : n;
        float guidance = (float) r.guidanceScale();
        float[] scaled = new float[size];
        float[] unetInput = guided ? new float[2 * size] : scaled;
        float[] unetOutput = new float[batch * (size / n)];
        float[] noisePred = guided ? new float[size] : unetOutput;
        // Progress counts steps as diffusers' progress bar does: multistep warm-up calls (PNDM's extra first call)
        // and the second call of second-order schedulers (Heun) are not steps of their own.
        int totalSteps = Math.min((int) (r.numInferenceSteps() * r.effectiveStrength()), r.numInferenceSteps());
        int order = scheduler.order();
        int warmup = timesteps.length - totalSteps * order;
        int stepsDone = 0;
        long loopStart = System.nanoTime();
        long inferenceAtStart = stats.runNanos();
        try (UNet.Invocation unet = model.unet().prepare(env, batch, (int) latentShape[1], (int) latentShape[2],
                (int) latentShape[3], textStates)) {
            for (int i = 0; i < timesteps.length; i++) {
                cancel.check(stepsDone);
                double t = timesteps[i];
                scheduler.scaleModelInput(latents, t, scaled);
                if (guided) {
                    System.arraycopy(scaled, 0, unetInput, 0, size);
                    System.arraycopy(scaled, 0, unetInput, size, size);
                }
                unet.run(unetInput, t, unetOutput, runOptions, stats);
                if (guided) {
                    for (int j = 0; j < size; j++) {
                        float uncond = unetOutput[j];
                        noisePred[j] = uncond + guidance * (unetOutput[size + j] - uncond);
                    }
                }
                scheduler.step(noisePred, t, latents, noise);
                boolean isStep = i == timesteps.length - 1 || (i + 1 > warmup && (i + 1) % order == 0);
                if (!isStep) {
                    continue;
                }
                stepsDone++;
                long elapsed = (System.nanoTime() - loopStart) / 1_000_000;
                long eta = elapsed * (totalSteps - stepsDone) / stepsDone;
                boolean previewDue = r.previewMode() != GenerationRequest.PreviewMode.NONE
                        && stepsDone % r.previewEvery() == 0 && stepsDone < totalSteps;
                byte[] preview = previewDue ? previewFirstImage(r, latents, latentShape, runOptions, stats) : null;
                listener.onStep(new StepProgress(stepsDone, totalSteps, t, elapsed, eta, preview));
            }
        }
        return new GenerationResult.LoopTiming(System.nanoTime() - loopStart, stats.runNanos() - inferenceAtStart);
    }

    /** A preview of image 0 of the batch only: {@link StepProgress#preview()} carries no other. */
    private byte[] previewFirstImage(GenerationRequest r, float[] latents, long[] shape, OrtSession.RunOptions runOptions,
                                     InferenceStats stats) throws OrtException {
        if (r.previewMode() == GenerationRequest.PreviewMode.APPROX) {
            return LatentPreview.render(latents, 0, (int) shape[1], (int) shape[2], (int) shape[3],
                    model.settings().preview());
        }
        int perImage = latents.length / (int) shape[0];
        float[] pixels = decodeOne(latents, 0, perImage, new long[] {1, shape[1], shape[2], shape[3]}, runOptions, stats);
        return Png.encode(r.width(), r.height(), Images.toRgb(pixels, 0, r.width(), r.height()), Map.of());
    }

    private float[] decodeOne(float[] latents, int offset, int perImage, long[] shape, OrtSession.RunOptions runOptions,
                              InferenceStats stats) throws OrtException {
        float scaling = (float) model.scalingFactor();
        float[] one = new float[perImage];
        for (int j = 0; j < perImage; j++) {
            one[j] = latents[offset + j] / scaling;
        }
        return model.vaeDecoder().decode(env, one, shape, runOptions, stats);
    }

    private List<GeneratedImage> decode(GenerationRequest r, float[] latents, int perImage, long[] shape,
                                        GenerationListener listener, OrtSession.RunOptions runOptions,
                                        InferenceStats stats) throws OrtException {
        List<GeneratedImage> images = new ArrayList<>(r.numImages());
        for (int i = 0; i < r.numImages(); i++) {
            float[] pixels = decodeOne(latents, i * perImage, perImage, shape, runOptions, stats);
            int expected = 3 * r.width() * r.height();
            if (pixels.length != expected) {
                throw new IllegalStateException("vae_decoder returned " + pixels.length + " values, expected " + expected);
            }
            Map<String, String> text = new LinkedHashMap<>();
            text.put("parameters", Recipe.parameters(model, r, i));
            byte[] png = Png.encode(r.width(), r.height(), Images.toRgb(pixels, 0, r.width(), r.height()), text);
            GeneratedImage image = new GeneratedImage(i, r.seedOf(i), r.width(), r.height(), png);
            images.add(image);
            listener.onImage(image);
        }
        return images;
    }

    /** Noise drawn per image from that image's generator, so image {@code i} can be regenerated alone. */
    static NoiseSource perImageNoise(TorchGenerator[] generators, int perImage) {
        float[] draw = new float[perImage];
        return out -> {
            if (out.length != generators.length * perImage) {
                throw new IllegalArgumentException("noise of " + out.length + " values requested for "
                        + generators.length + " images of " + perImage);
            }
            for (int i = 0; i < generators.length; i++) {
                generators[i].randn(draw);
                System.arraycopy(draw, 0, out, i * perImage, perImage);
            }
        };
    }
}
