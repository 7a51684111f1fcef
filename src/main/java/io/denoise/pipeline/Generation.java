package io.denoise.pipeline;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.denoise.images.Png;
import io.denoise.random.NoiseSource;
import io.denoise.random.TorchGenerator;
import io.denoise.recipe.GenerationRequest;
import io.denoise.scheduler.Scheduler;
import io.denoise.scheduler.Schedulers;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One generation of a {@link TextToImagePipeline}: its request and shapes, its buffers, scheduler, timesteps,
 * noise, run options and stats, with the stages of diffusers' {@code StableDiffusionPipeline.__call__} as methods,
 * called in order — {@link #encodePrompt()}, {@link #setTimesteps()}, {@link #prepareLatents()},
 * {@link #denoise}, {@link #decode} — then {@link #result}.
 *
 * <p>Everything one denoising step reads and writes (latents, scheduler, step index) lives here, and a step is
 * three calls on a {@link UNet.Invocation} that may be shared: {@link #putModelInput} writes this generation's rows
 * of the batch, the caller runs the UNet, {@link #finishStep} reads them back and steps the scheduler.
 * {@link #denoise} is that loop for a batch of this generation alone.
 *
 * <p>Owns its native memory (the text states and the run options), allocated when it is opened and freed by
 * {@link #close()}, which must be called exactly once (try-with-resources). Not thread-safe.
 */
final class Generation implements AutoCloseable {

    private final ModelSet model;
    private final OrtEnvironment env;
    private final GenerationRequest request;
    private final float[] initPixels;
    private final InferenceStats stats = new InferenceStats();

    // shapes
    private final boolean guided;
    private final int numImages;
    /** UNet rows: the negative prompt's {@code numImages}, then the prompt's (or only the prompt's, unguided). */
    private final int batch;
    private final int channels;
    private final int latentHeight;
    private final int latentWidth;
    /** Latent values of one image: channels · latentHeight · latentWidth. */
    private final int perImage;

    // native memory
    private final OrtSession.RunOptions runOptions;
    /** The UNet's {@code encoder_hidden_states} [batch, 77, hidden] in the model's float type. */
    private final NativeTensor textStates;

    private final Scheduler scheduler;
    private final NoiseSource noise;
    private int droppedTokens;
    private double[] timesteps;
    /** Steps as diffusers' progress bar counts them (see {@link #setTimesteps()}). */
    private int totalSteps;
    private int warmupCalls;

    // per-step state
    private float[] latents;
    private float[] scaled;
    private float[] prediction;
    private float[] noisePred;
    /** The entry of {@link #timesteps} the next UNet call is at. */
    private int stepIndex;
    private int stepsDone;
    private long loopStart;

    private boolean closed;

    /**
     * Opens a generation of a checked request.
     *
     * @param initPixels the decoded init image [1, 3, height, width] in [-1, 1] for image-to-image, else null
     */
    Generation(ModelSet model, GenerationRequest request, float[] initPixels) throws OrtException {
        this.model = model;
        this.env = model.sessions().environment();
        this.request = request;
        this.initPixels = initPixels;
        this.guided = request.doClassifierFreeGuidance();
        this.numImages = request.numImages();
        this.batch = guided ? 2 * numImages : numImages;
        this.channels = model.latentChannels();
        this.latentHeight = request.height() / model.vaeScaleFactor();
        this.latentWidth = request.width() / model.vaeScaleFactor();
        this.perImage = channels * latentHeight * latentWidth;
        this.scheduler = model.newScheduler(request.scheduler(), request.eta());
        TorchGenerator[] generators = new TorchGenerator[numImages];
        for (int i = 0; i < numImages; i++) {
            generators[i] = new TorchGenerator(request.seedOf(i));
        }
        this.noise = perImageNoise(generators, perImage);
        this.runOptions = new OrtSession.RunOptions();
        try {
            this.textStates = NativeTensor.allocate(env, model.floatType(), batch, model.tokenizer().maxLength(),
                    model.textHiddenSize());
        } catch (OrtException | RuntimeException e) {
            runOptions.close();
            throw e;
        }
    }

    /** The options every ONNX Runtime run of this generation is made with (what a cancellation terminates). */
    OrtSession.RunOptions runOptions() {
        return runOptions;
    }

    /** The text states after {@link #encodePrompt()}: [batch, 77, hidden], owned by this generation. */
    NativeTensor textStates() {
        return textStates;
    }

    /** The latents after {@link #prepareLatents()}, updated in place by every step: [numImages, c, h/s, w/s]. */
    float[] latents() {
        return latents;
    }

    /** The request this generation runs. */
    GenerationRequest request() {
        return request;
    }

    /** The time this generation spent inside ONNX Runtime (a shared UNet call's time is added to each of its rows' generations). */
    InferenceStats stats() {
        return stats;
    }

    /** Latent values of one UNet row: channels · h/s · w/s. */
    int rowSize() {
        return perImage;
    }

    /** Rows this generation takes in a UNet batch. */
    int batchRows() {
        return batch;
    }

    /**
     * Stage 1 — the text states of the negative prompt (when guided) and the prompt, each repeated per image, in
     * the UNet's float type. The text encoder writes its rows straight into {@link #textStates()} — the negative
     * prompt's into the last negative row, the prompt's into the first positive row, which are adjacent — and
     * each is then copied, byte for byte, into the other rows of its half.
     */
    void encodePrompt() throws OrtException {
        ClipTokenizer.Tokens positive = model.tokenizer().encode(request.prompt());
        droppedTokens = positive.droppedTokens();
        long[][] ids = guided
                ? new long[][] {model.tokenizer().encode(request.negativePrompt()).ids(), positive.ids()}
                : new long[][] {positive.ids()};
        long[] shape = textStates.shape();
        int row = (int) (shape[1] * shape[2]);
        int first = numImages - 1;
        try (NativeTensor encoded = textStates.view(env, first * row, ids.length, shape[1], shape[2])) {
            model.textEncoder().encode(env, ids, encoded, runOptions, stats);
        }
        for (int prompt = 0; prompt < ids.length; prompt++) {
            int source = first + prompt;
            for (int i = 0; i < numImages; i++) {
                int target = prompt * numImages + i;
                if (target != source) {
                    textStates.copyFrom(textStates, source * row, target * row, row);
                }
            }
        }
    }

    /**
     * Stage 2 — the scheduler's timesteps; for image-to-image, the strength's share of them, from the end. Also
     * counts the steps as diffusers' progress bar does: multistep warm-up calls (PNDM's extra first call) and the
     * second call of second-order schedulers (Heun) are not steps of their own.
     */
    void setTimesteps() {
        int steps = request.numInferenceSteps();
        scheduler.setTimesteps(steps);
        timesteps = initPixels == null ? scheduler.timesteps()
                : Schedulers.img2imgTimesteps(scheduler, steps, request.effectiveStrength());
        totalSteps = Math.min((int) (steps * request.effectiveStrength()), steps);
        warmupCalls = timesteps.length - totalSteps * scheduler.order();
    }

    /**
     * Stage 3 — the starting latents: for text-to-image, each image's own noise times the scheduler's
     * {@code initNoiseSigma}; for image-to-image, the encoded init image noised to the first timestep.
     */
    void prepareLatents() throws OrtException {
        int size = numImages * perImage;
        if (initPixels == null) {
            latents = initialNoise(scheduler, noise, size);
        } else {
            latents = new float[size];
            float[] initLatents = encodeInitImage();
            float[] initNoise = new float[size];
            noise.sample(initNoise);
            scheduler.addNoise(initLatents, initNoise, timesteps[0], latents);
        }
        scaled = new float[size];
        prediction = new float[batch * perImage];
        noisePred = guided ? new float[size] : prediction;
    }

    /**
     * Stage 3 of text-to-image alone — standard normal noise from {@code noise} (each image's own generator) times
     * the scheduler's {@code initNoiseSigma}, as diffusers' {@code prepare_latents}.
     *
     * @return [numImages, channels, h/s, w/s] flat, {@code size} values
     */
    static float[] initialNoise(Scheduler scheduler, NoiseSource noise, int size) {
        float[] latents = new float[size];
        noise.sample(latents);
        float sigma = (float) scheduler.initNoiseSigma();
        for (int i = 0; i < latents.length; i++) {
            latents[i] *= sigma;
        }
        return latents;
    }

    private float[] encodeInitImage() throws OrtException {
        float[] mean = model.vaeEncoder().encode(env, initPixels, new long[] {1, 3, request.height(), request.width()},
                runOptions, stats);
        if (mean.length != perImage) {
            throw new IllegalStateException("vae_encoder returned " + mean.length + " values, expected " + perImage);
        }
        float scaling = (float) model.scalingFactor();
        float[] init = new float[numImages * perImage];
        for (int i = 0; i < numImages; i++) {
            for (int j = 0; j < perImage; j++) {
                init[i * perImage + j] = scaling * mean[j];
            }
        }
        return init;
    }

    /**
     * Stage 4 — the denoising loop, on a UNet batch of this generation's rows alone.
     *
     * @throws GenerationCancelledException before the first step after {@code cancel} was cancelled
     */
    GenerationResult.LoopTiming denoise(GenerationListener listener, Cancellation cancel) throws OrtException {
        long start = System.nanoTime();
        long inferenceAtStart = stats.runNanos();
        try (UNet.Invocation unet = model.unet().prepare(env, batch, channels, latentHeight, latentWidth, textStates)) {
            while (hasNextStep()) {
                cancel.check(stepsDone);
                putModelInput(unet, 0);
                unet.run(timestep(), runOptions, stats);
                finishStep(unet, 0, listener);
            }
        }
        return new GenerationResult.LoopTiming(System.nanoTime() - start, stats.runNanos() - inferenceAtStart);
    }

    /** Whether a UNet call is left. */
    boolean hasNextStep() {
        return stepIndex < timesteps.length;
    }

    /** The timestep of the next UNet call. */
    double timestep() {
        return timesteps[stepIndex];
    }

    /** Steps done so far, as progress counts them. */
    int stepsDone() {
        return stepsDone;
    }

    /**
     * Writes the scaled latents of the next call into {@code unet}'s sample at element {@code offset}: once for the
     * negative rows, once more for the positive rows when guided ({@link #batchRows()} rows in all).
     */
    void putModelInput(UNet.Invocation unet, int offset) {
        if (stepIndex == 0) {
            loopStart = System.nanoTime();
        }
        scheduler.scaleModelInput(latents, timestep(), scaled);
        unet.putSample(offset, scaled);
        if (guided) {
            unet.putSample(offset + scaled.length, scaled);
        }
    }

    /**
     * Reads this generation's rows of the prediction {@code unet} has just made (from element {@code offset}),
     * applies classifier-free guidance, steps the scheduler and, at the end of a step, tells the listener (with
     * a preview when one is due).
     */
    void finishStep(UNet.Invocation unet, int offset, GenerationListener listener) throws OrtException {
        double t = timestep();
        unet.getPrediction(offset, prediction);
        if (guided) {
            float guidance = (float) request.guidanceScale();
            int size = noisePred.length;
            for (int j = 0; j < size; j++) {
                float uncond = prediction[j];
                noisePred[j] = uncond + guidance * (prediction[size + j] - uncond);
            }
        }
        scheduler.step(noisePred, t, latents, noise);
        int call = stepIndex++;
        boolean isStep = call == timesteps.length - 1 || (call + 1 > warmupCalls && (call + 1) % scheduler.order() == 0);
        if (!isStep) {
            return;
        }
        stepsDone++;
        long elapsed = (System.nanoTime() - loopStart) / 1_000_000;
        long eta = elapsed * (totalSteps - stepsDone) / stepsDone;
        boolean previewDue = request.previewMode() != GenerationRequest.PreviewMode.NONE
                && stepsDone % request.previewEvery() == 0 && stepsDone < totalSteps;
        listener.onStep(new StepProgress(stepsDone, totalSteps, t, elapsed, eta, previewDue ? previewFirstImage() : null));
    }

    /** A preview of image 0 of the batch only: {@link StepProgress#preview()} carries no other. */
    private byte[] previewFirstImage() throws OrtException {
        if (request.previewMode() == GenerationRequest.PreviewMode.APPROX) {
            return LatentPreview.render(latents, 0, channels, latentHeight, latentWidth, model.settings().preview());
        }
        float[] pixels = decodeImage(0);
        return Png.encode(request.width(), request.height(), Images.toRgb(pixels, 0, request.width(), request.height()),
                Map.of());
    }

    /** Stage 5 — decodes each image, in index order, telling the listener of each as it is done. */
    List<GeneratedImage> decode(GenerationListener listener) throws OrtException {
        List<GeneratedImage> images = new ArrayList<>(numImages);
        int expected = 3 * request.width() * request.height();
        for (int i = 0; i < numImages; i++) {
            float[] pixels = decodeImage(i);
            if (pixels.length != expected) {
                throw new IllegalStateException("vae_decoder returned " + pixels.length + " values, expected " + expected);
            }
            Map<String, String> text = new LinkedHashMap<>();
            text.put("parameters", Recipe.parameters(model, request, i));
            byte[] png = Png.encode(request.width(), request.height(),
                    Images.toRgb(pixels, 0, request.width(), request.height()), text);
            GeneratedImage image = new GeneratedImage(i, request.seedOf(i), request.width(), request.height(), png);
            images.add(image);
            listener.onImage(image);
        }
        return images;
    }

    /** Image {@code index}'s pixels [1, 3, height, width] in [-1, 1]. */
    private float[] decodeImage(int index) throws OrtException {
        float scaling = (float) model.scalingFactor();
        float[] one = new float[perImage];
        int offset = index * perImage;
        for (int j = 0; j < perImage; j++) {
            one[j] = latents[offset + j] / scaling;
        }
        return model.vaeDecoder().decode(env, one, new long[] {1, channels, latentHeight, latentWidth}, runOptions, stats);
    }

    /** What the generation produced, {@code wallNanos} after it began. */
    GenerationResult result(List<GeneratedImage> images, GenerationResult.LoopTiming loop, long wallNanos) {
        return new GenerationResult(images, latents, timesteps.length, droppedTokens, wallNanos, stats.runNanos(), loop);
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

    /** Frees the text states and the run options; a second call is a bug and throws. */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("generation closed twice");
        }
        closed = true;
        try {
            textStates.close();
        } finally {
            runOptions.close();
        }
    }
}
