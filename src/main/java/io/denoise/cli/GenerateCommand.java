package io.denoise.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.denoise.pipeline.Cancellation;
import io.denoise.pipeline.GeneratedImage;
import io.denoise.pipeline.GenerationListener;
import io.denoise.pipeline.GenerationResult;
import io.denoise.pipeline.ModelSet;
import io.denoise.pipeline.RuntimeOptions;
import io.denoise.pipeline.SessionFactory;
import io.denoise.pipeline.StepProgress;
import io.denoise.pipeline.TextToImagePipeline;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.RequestReader;
import io.denoise.recipe.ServiceLimits;
import io.denoise.scheduler.Schedulers;

import java.io.IOException;
import java.io.PrintStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;

/**
 * {@code generate}: runs the pipeline directly, without Kafka, a database or S3 — for debugging a model and for
 * benchmarking the pipeline. {@code --bench N} runs N generations and prints the share of wall time spent outside
 * ONNX Runtime and the process's resident memory.
 */
public final class GenerateCommand {

    static final String USAGE = """
            usage: generate --model DIR --prompt TEXT [options]
              --negative-prompt TEXT   what to steer away from
              --seed N                 unsigned 64-bit seed (default: random, printed)
              --steps N                denoising steps (default: the model's)
              --guidance X             classifier-free guidance scale (default: the model's)
              --scheduler ID           %s
              --width N --height N     multiples of 8 (default: the model's)
              --num-images N           images in one batch (image i uses seed + i)
              --init-image FILE        image-to-image from a PNG or JPEG
              --strength X             image-to-image strength in (0, 1] (default 0.75)
              --eta X                  DDIM eta (default 0)
              --out FILE               output PNG (default out.png; several images: out-0.png, out-1.png, ...)
              --device cpu|cuda|auto   execution provider (default cpu)
              --threads N              ONNX Runtime intra-op threads (default: one per core)
              --spin on|off            whether ONNX Runtime's threads spin while waiting (default on)
              --bench N                run N generations and report overhead and memory instead of writing images
              --warmup N               generations before the measured ones (default N/10, at least 3)
            """.formatted(String.join(", ", Schedulers.ids()));

    private GenerateCommand() {
    }

    public static void main(String[] args) throws Exception {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command; returns the process exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        Map<String, String> opts;
        try {
            opts = parse(args);
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage());
            err.print(USAGE);
            return 2;
        }
        if (!opts.containsKey("model") || !opts.containsKey("prompt")) {
            err.print(USAGE);
            return 2;
        }
        try {
            return generate(opts, out);
        } catch (IllegalArgumentException e) { // a bad option value, or a request the pipeline refuses
            err.println(e.getMessage());
            return 2;
        }
    }

    private static int generate(Map<String, String> opts, PrintStream out) throws Exception {
        String spin = opts.getOrDefault("spin", "on");
        if (!spin.equals("on") && !spin.equals("off")) {
            throw new IllegalArgumentException("--spin must be on or off, not '" + spin + "'");
        }
        RuntimeOptions runtime = new RuntimeOptions(opts.getOrDefault("device", "cpu"), 0, intOption(opts, "threads", 0),
                spin.equals("on"));
        try (ModelSet model = ModelSet.load(Path.of(opts.get("model")), new SessionFactory(runtime))) {
            TextToImagePipeline pipeline = new TextToImagePipeline(model, TextToImagePipeline.Limits.DEFAULT);
            GenerationRequest request = request(pipeline, opts);
            byte[] initImage = initImage(opts);
            if (opts.containsKey("bench")) {
                int count = intOption(opts, "bench", 0);
                int warmup = intOption(opts, "warmup", Math.max(3, count / 10));
                if (count < 1 || warmup < 0) {
                    throw new IllegalArgumentException("--bench must be at least 1 and --warmup at least 0");
                }
                bench(pipeline, request, initImage, count, warmup, out);
                return 0;
            }
            out.printf("model %s (%s) on %s, seed %s%n", model.name(), model.hash(), model.device(),
                    request.seed());
            GenerationResult result = pipeline.generate(request, initImage, new GenerationListener() {
                @Override
                public void onStep(StepProgress p) {
                    out.printf("step %d/%d  t=%.0f  %d ms%n", p.step(), p.totalSteps(), p.timestep(), p.elapsedMs());
                }
            }, new Cancellation());
            if (result.droppedTokens() > 0) {
                out.printf("prompt truncated: %d tokens dropped%n", result.droppedTokens());
            }
            for (GeneratedImage image : result.images()) {
                Path file = outputFile(Path.of(opts.getOrDefault("out", "out.png")), image.index(), result.images().size());
                Files.write(file, image.png());
                out.printf("wrote %s (seed %s)%n", file, Long.toUnsignedString(image.seed()));
            }
            out.printf(Locale.ROOT, "%.0f ms, of which ONNX Runtime %.0f ms%n", result.wallNanos() / 1e6,
                    result.inferenceNanos() / 1e6);
            return 0;
        }
    }

    /** The command line's options that are request fields, with the field each sets. */
    private static final Map<String, String> FIELDS = Map.of(
            "negative-prompt", "negativePrompt", "scheduler", "scheduler");
    private static final Map<String, String> INTEGER_FIELDS = Map.of(
            "steps", "numInferenceSteps", "width", "width", "height", "height", "num-images", "numImages");
    private static final Map<String, String> NUMBER_FIELDS = Map.of(
            "guidance", "guidanceScale", "strength", "strength", "eta", "eta");

    /** The request's JSON form (the body {@code POST /v1/jobs} takes), built from the options. */
    static ObjectNode recipe(Map<String, String> opts) {
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        body.put("prompt", opts.get("prompt"));
        FIELDS.forEach((option, field) -> {
            if (opts.containsKey(option)) {
                body.put(field, opts.get(option));
            }
        });
        INTEGER_FIELDS.forEach((option, field) -> {
            if (opts.containsKey(option)) {
                body.put(field, (int) number(opts, option, Integer::parseInt));
            }
        });
        NUMBER_FIELDS.forEach((option, field) -> {
            if (opts.containsKey(option)) {
                body.put(field, (double) number(opts, option, Double::parseDouble));
            }
        });
        if (opts.containsKey("seed")) {
            body.put("seed", Long.toUnsignedString(number(opts, "seed", Long::parseUnsignedLong)));
        }
        return body;
    }

    /** The request the options ask for, checked by the same rules as the service's. */
    static GenerationRequest request(TextToImagePipeline pipeline, Map<String, String> opts) {
        SecureRandom random = new SecureRandom();
        return RequestReader.read(recipe(opts), pipeline.profile(), ServiceLimits.DEFAULT, opts.get("init-image"),
                () -> new BigInteger(64, random));
    }

    /** The init image's bytes, or null for text-to-image. */
    static byte[] initImage(Map<String, String> opts) throws IOException {
        return opts.containsKey("init-image") ? Files.readAllBytes(Path.of(opts.get("init-image"))) : null;
    }

    /**
     * Runs {@code count} generations after {@code warmup} more and prints the share of wall time outside ONNX
     * Runtime and resident memory after warm-up and at the end.
     */
    static void bench(TextToImagePipeline pipeline, GenerationRequest request, byte[] initImage, int count, int warmup,
                      PrintStream out) throws Exception {
        for (int i = 0; i < warmup; i++) {
            pipeline.generate(request, initImage, GenerationListener.NONE, new Cancellation());
        }
        System.gc();
        long rssAfterWarmup = residentKb();
        List<Double> overheads = new ArrayList<>();
        long wall = 0;
        long inference = 0;
        for (int i = 0; i < count; i++) {
            GenerationResult result = pipeline.generate(request, initImage, GenerationListener.NONE, new Cancellation());
            wall += result.wallNanos();
            inference += result.inferenceNanos();
            overheads.add(100.0 * (result.wallNanos() - result.inferenceNanos()) / result.wallNanos());
        }
        System.gc();
        long rssEnd = residentKb();
        overheads.sort(Double::compare);
        out.printf(Locale.ROOT, "generations: %d (after %d warm-up) at %d steps, %dx%d, scheduler %s%n", count, warmup,
                request.numInferenceSteps(), request.width(), request.height(), request.scheduler());
        out.printf(Locale.ROOT, "mean wall per generation: %.1f ms; inside ONNX Runtime: %.1f ms%n",
                wall / 1e6 / count, inference / 1e6 / count);
        out.printf(Locale.ROOT, "outside ONNX Runtime: %.2f%% of wall time (median per generation %.2f%%)%n",
                100.0 * (wall - inference) / wall, overheads.get(overheads.size() / 2));
        out.printf(Locale.ROOT, "resident memory: %d KiB after warm-up, %d KiB at end, growth %.2f%%%n",
                rssAfterWarmup, rssEnd, 100.0 * (rssEnd - rssAfterWarmup) / rssAfterWarmup);
        benchCancel(pipeline, request, initImage, out);
    }

    /**
     * Cancels a 50-step generation from another thread as soon as step 10 is reported (so the cancel usually lands
     * while step 11 runs in ONNX Runtime) and prints how long the generation took to return against one step's
     * time, and how many steps were reported after {@code cancel()}: at most the one in flight.
     */
    static void benchCancel(TextToImagePipeline pipeline, GenerationRequest request, byte[] initImage, PrintStream out)
            throws Exception {
        GenerationRequest fifty = request.withSteps(50);
        Cancellation cancel = new Cancellation();
        CountDownLatch stepTen = new CountDownLatch(1);
        long[] cancelledAt = new long[1];
        int[] lastStep = new int[1];
        int[] stepsAfterCancel = new int[1];
        long[] stepStart = {System.nanoTime()};
        List<Long> stepNanos = new ArrayList<>();
        Thread canceller = new Thread(() -> {
            try {
                stepTen.await();
                cancelledAt[0] = System.nanoTime();
                cancel.cancel();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        canceller.start();
        long returned;
        try {
            pipeline.generate(fifty, initImage, new GenerationListener() {
                @Override
                public void onStep(StepProgress p) {
                    long now = System.nanoTime();
                    stepNanos.add(now - stepStart[0]);
                    stepStart[0] = now;
                    lastStep[0] = p.step();
                    stepsAfterCancel[0] += cancel.isCancelled() ? 1 : 0;
                    if (p.step() == 10) {
                        stepTen.countDown();
                    }
                }
            }, cancel);
            throw new IllegalStateException("the generation was not cancelled");
        } catch (io.denoise.pipeline.GenerationCancelledException e) {
            returned = System.nanoTime();
        }
        canceller.join();
        double meanStepMs = stepNanos.subList(1, stepNanos.size()).stream().mapToLong(Long::longValue).average().orElse(0) / 1e6;
        out.printf(Locale.ROOT, "cancel at step 10 of 50: returned %.1f ms after cancel() (one step: %.1f ms); "
                        + "last step reported: %d, steps reported after cancel(): %d%n",
                (returned - cancelledAt[0]) / 1e6, meanStepMs, lastStep[0], stepsAfterCancel[0]);
    }

    /** The process's resident set size from /proc, or -1 where there is none. */
    static long residentKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    static Path outputFile(Path out, int index, int count) {
        if (count == 1) {
            return out;
        }
        String name = out.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot < 0 ? name : name.substring(0, dot);
        String ext = dot < 0 ? "" : name.substring(dot);
        return out.resolveSibling(stem + "-" + index + ext);
    }

    private static int intOption(Map<String, String> opts, String name, int fallback) {
        return opts.containsKey(name) ? number(opts, name, Integer::parseInt) : fallback;
    }

    /** The option's value read by {@code parser}; a value it cannot read is an error naming the option. */
    private static <T> T number(Map<String, String> opts, String name, Function<String, T> parser) {
        String value = opts.get(name);
        try {
            return parser.apply(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + ": not a number: '" + value + "'");
        }
    }

    static Map<String, String> parse(String[] args) {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --option value, got '" + a + "'");
            }
            opts.put(a.substring(2), args[++i]);
        }
        return opts;
    }
}
