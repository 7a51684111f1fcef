package io.denoise.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.denoise.images.Grid;
import io.denoise.images.SweepGrid;
import io.denoise.pipeline.BatchedLoop;
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
import io.denoise.recipe.InvalidRequestException;
import io.denoise.recipe.RequestReader;
import io.denoise.recipe.ServiceLimits;
import io.denoise.recipe.SweepPlan;
import io.denoise.scheduler.Schedulers;

import java.io.IOException;
import java.io.PrintStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;

/**
 * {@code generate}: runs the pipeline directly, without Kafka, a database or S3 — for debugging a model and for
 * benchmarking the pipeline. {@code --bench N} runs N generations and prints the share of wall time spent outside
 * ONNX Runtime and the process's resident memory. {@code --bench-batch N} runs N single-image requests alone and
 * then together in a {@link BatchedLoop} and prints images per second for both. {@code --sweep FIELD=V1,V2,…} (and {@code --sweep-y}) runs a
 * {@link SweepPlan} over the other options as its base recipe and writes its {@link SweepGrid} and each cell's PNG.
 *
 * <p>Exit codes: 0 done; 2 a bad option or a request (or sweep cell) that breaks a rule, reported before any step
 * runs, or a request the pipeline refuses; 1 a sweep whose grid was written but where some cell failed to run (its
 * box in the grid says why).
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
              --bench-batch N          run N single-image requests (seeds seed, seed+1, ...) alone one after
                                       another, then together in one batched loop; print images/s for both
              --sweep FIELD=V1,V2,...  a grid of one image per value, the other options as the base recipe: the grid
                                       to --out, each cell's PNG (with its recipe) next to it: grid-cell-0.png, ...
                                       FIELD is a request field: eta, guidanceScale, negativePrompt,
                                       numInferenceSteps, prompt, scheduler, seed or strength;
                                       prompt=A,B,... replaces A in the prompt (prompt S/R), negativePrompt=,red
                                       is none and then red
              --sweep-y FIELD=V1,...   a second axis, one row per value (an X/Y plot); at most %d cells in all.
                                       Every cell is checked before any runs; all use one seed (--seed, or one
                                       random seed, printed) unless seed is an axis; --num-images must be 1
            """.formatted(String.join(", ", Schedulers.ids()), GenerateCommand.MAX_SWEEP_CELLS);

    /** Most cells in one sweep, as the service's grid allows. */
    static final int MAX_SWEEP_CELLS = 64;

    /** The options the command knows; any other is refused (a mistyped option would otherwise be ignored). */
    private static final Set<String> OPTIONS = Set.of("model", "prompt", "negative-prompt", "seed", "steps",
            "guidance", "scheduler", "width", "height", "num-images", "init-image", "strength", "eta", "out", "device",
            "threads", "spin", "bench", "warmup", "bench-batch", "sweep", "sweep-y");

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
        SweepPlan plan = opts.containsKey("sweep") || opts.containsKey("sweep-y") ? plan(opts) : null;
        RuntimeOptions runtime = new RuntimeOptions(opts.getOrDefault("device", "cpu"), 0, intOption(opts, "threads", 0),
                spin.equals("on"));
        try (ModelSet model = ModelSet.load(Path.of(opts.get("model")), new SessionFactory(runtime))) {
            TextToImagePipeline pipeline = new TextToImagePipeline(model, TextToImagePipeline.Limits.DEFAULT);
            byte[] initImage = initImage(opts);
            if (plan != null) {
                return sweep(model, pipeline, plan, opts.get("init-image"), initImage,
                        Path.of(opts.getOrDefault("out", "out.png")), out);
            }
            GenerationRequest request = request(pipeline, opts);
            if (opts.containsKey("bench-batch")) {
                int count = intOption(opts, "bench-batch", 0);
                int warmup = intOption(opts, "warmup", 1);
                if (count < 1 || warmup < 0) {
                    throw new IllegalArgumentException("--bench-batch must be at least 1 and --warmup at least 0");
                }
                if (opts.containsKey("bench")) {
                    throw new IllegalArgumentException("--bench and --bench-batch do not go together");
                }
                benchBatch(pipeline, request, initImage, count, warmup, out);
                return 0;
            }
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

    /**
     * The sweep the options ask for, its shape checked as the service checks a sweep's: the other options are the
     * base recipe, given one seed (a random one where neither {@code --seed} nor an axis names it).
     */
    static SweepPlan plan(Map<String, String> opts) {
        if (!opts.containsKey("sweep")) {
            throw new IllegalArgumentException("--sweep-y needs --sweep (the x axis)");
        }
        if (opts.containsKey("bench")) {
            throw new IllegalArgumentException("--bench and --sweep do not go together");
        }
        if (opts.containsKey("num-images") && intOption(opts, "num-images", 1) != 1) {
            throw new IllegalArgumentException("--num-images: a sweep makes one image per cell; to compare seeds, "
                    + "sweep them (--sweep seed=1,2,3)");
        }
        SweepPlan.Axis x = SweepPlan.parseOption("x", opts.get("sweep"));
        SweepPlan.Axis y = opts.containsKey("sweep-y") ? SweepPlan.parseOption("y", opts.get("sweep-y")) : null;
        ObjectNode base = recipe(opts);
        boolean seedAxis = x.field().equals("seed") || (y != null && y.field().equals("seed"));
        if (!base.has("seed") && !seedAxis) {
            base.put("seed", new BigInteger(64, new SecureRandom()).toString());
        }
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        body.set("base", base);
        body.set("x", x.toJson());
        if (y != null) {
            body.set("y", y.toJson());
        }
        return SweepPlan.read(body, MAX_SWEEP_CELLS);
    }

    /**
     * Reads every cell of the plan as a request, before any runs.
     *
     * @throws IllegalArgumentException naming, through {@link SweepPlan#blame}, each axis value or base field that
     *                                  breaks a rule, one a line (an {@link InvalidRequestException} where there is
     *                                  one)
     */
    static List<GenerationRequest> cells(SweepPlan plan, TextToImagePipeline pipeline, String initImageRef) {
        List<GenerationRequest> requests = new ArrayList<>();
        Map<String, InvalidRequestException> broken = new LinkedHashMap<>();
        for (int i = 0; i < plan.cells(); i++) {
            try {
                requests.add(RequestReader.read(plan.cell(i), pipeline.profile(), ServiceLimits.DEFAULT, initImageRef,
                        () -> {
                            throw new IllegalStateException("every sweep cell has a seed");
                        }));
            } catch (InvalidRequestException e) {
                InvalidRequestException blamed = plan.blame(i, e);
                broken.putIfAbsent(blamed.field(), blamed);
            }
        }
        if (broken.size() == 1) {
            throw broken.values().iterator().next();
        }
        if (!broken.isEmpty()) {
            List<String> lines = broken.values().stream().map(InvalidRequestException::getMessage).toList();
            throw new IllegalArgumentException(String.join(System.lineSeparator(), lines));
        }
        return requests;
    }

    /** Runs every cell of the plan, writes each cell's PNG and then the grid; returns the exit code. */
    private static int sweep(ModelSet model, TextToImagePipeline pipeline, SweepPlan plan, String initImageRef,
                             byte[] initImage, Path grid, PrintStream out) throws IOException {
        List<GenerationRequest> requests = cells(plan, pipeline, initImageRef);
        Path dir = grid.toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--out: there is no directory " + dir);
        }
        boolean seedAxis = plan.axes().stream().anyMatch(a -> a.field().equals("seed"));
        StringBuilder axes = new StringBuilder();
        for (SweepPlan.Axis axis : plan.axes()) {
            axes.append(axes.isEmpty() ? "" : " × ").append(axis.field()).append(" (").append(axis.values().size())
                    .append(" values)");
        }
        out.printf("model %s (%s) on %s, %s; sweep %s: %d cells%n", model.name(), model.hash(), model.device(),
                seedAxis ? "seed per cell" : "seed " + requests.get(0).seed(), axes, plan.cells());
        List<Grid.Cell> cells = new ArrayList<>();
        int failed = 0;
        long total = 0;
        for (int i = 0; i < plan.cells(); i++) {
            Path file = cellFile(grid, i);
            GenerationResult result;
            try {
                result = pipeline.generate(requests.get(i), initImage, GenerationListener.NONE, new Cancellation());
            } catch (IllegalArgumentException e) { // a request the pipeline refuses (an init image it cannot read)
                throw e;
            } catch (Exception e) { // the cell failed to run: the grid shows it as failed, the others still run
                String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                out.printf("cell %d/%d  %s  failed: %s%n", i, plan.cells(), label(plan, i), reason);
                cells.add(Grid.Mark.failed(reason));
                failed++;
                continue;
            }
            byte[] png = result.images().get(0).png();
            Files.write(file, png);
            cells.add(new Grid.Image(png));
            total += result.wallNanos();
            out.printf(Locale.ROOT, "cell %d/%d  %s  %.0f ms  %s%s%n", i, plan.cells(), label(plan, i),
                    result.wallNanos() / 1e6, file, result.droppedTokens() > 0
                            ? "  (prompt truncated: " + result.droppedTokens() + " tokens dropped)" : "");
        }
        Files.write(grid, SweepGrid.render(plan, cells));
        int columns = plan.y() == null ? Grid.columnsFor(plan.cells()) : plan.columns();
        int rows = (plan.cells() + columns - 1) / columns;
        out.printf(Locale.ROOT, "wrote %s (%d × %d grid; %.0f ms in all%s)%n", grid, columns, rows, total / 1e6,
                failed == 0 ? "" : "; " + failed + " of " + plan.cells() + " cells failed");
        return failed == 0 ? 0 : 1;
    }

    /** Cell {@code i}'s axis values as the cell's line prints them: {@code guidanceScale=2 scheduler=ddim}. */
    private static String label(SweepPlan plan, int i) {
        StringBuilder s = new StringBuilder();
        for (SweepPlan.Axis axis : plan.axes()) {
            int v = axis == plan.x() ? i % plan.columns() : i / plan.columns();
            s.append(s.isEmpty() ? "" : " ").append(axis.field()).append('=').append(axis.label(v));
        }
        return s.toString();
    }

    /** Cell {@code i}'s own PNG, next to the grid: {@code grid.png} → {@code grid-cell-3.png}. */
    static Path cellFile(Path grid, int i) {
        String name = grid.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot < 0 ? name : name.substring(0, dot);
        String ext = dot < 0 ? "" : name.substring(dot);
        return grid.resolveSibling(stem + "-cell-" + i + ext);
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
     * Runs {@code count} single-image requests, image {@code i} with seed {@code seed + i}, first alone one after
     * another and then together in one {@link BatchedLoop}, each way {@code warmup} more times before, and prints
     * images per second for both, their ratio, and whether the batch gave the same PNG bytes.
     */
    static void benchBatch(TextToImagePipeline pipeline, GenerationRequest request, byte[] initImage, int count,
                           int warmup, PrintStream out) throws Exception {
        if (request.numImages() != 1) {
            throw new IllegalArgumentException("--bench-batch runs single-image requests; leave out --num-images");
        }
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            requests.add(request.toBuilder().seed(request.seed().add(BigInteger.valueOf(i))).build());
        }
        List<byte[]> alone = new ArrayList<>();
        List<byte[]> batched = new ArrayList<>();
        for (int w = 0; w < warmup; w++) {
            runAlone(pipeline, requests, initImage, new ArrayList<>());
            runBatched(pipeline, requests, initImage, new ArrayList<>());
        }
        long aloneNanos = runAlone(pipeline, requests, initImage, alone);
        long batchedNanos = runBatched(pipeline, requests, initImage, batched);
        boolean identical = true;
        for (int i = 0; i < count; i++) {
            identical &= java.util.Arrays.equals(alone.get(i), batched.get(i));
        }
        double aloneRate = count / (aloneNanos / 1e9);
        double batchedRate = count / (batchedNanos / 1e9);
        out.printf(Locale.ROOT, "bench-batch: %d single-image requests at %d steps, %dx%d, scheduler %s, guidance %s "
                        + "(after %d warm-up each way), UNet timestep %s%n", count, request.numInferenceSteps(),
                request.width(), request.height(), request.scheduler(), request.guidanceScale(), warmup,
                pipeline.model().timestepPerSample() ? "per row" : "per call");
        out.printf(Locale.ROOT, "alone:   %.2f images/s (%.0f ms)%n", aloneRate, aloneNanos / 1e6);
        out.printf(Locale.ROOT, "batched: %.2f images/s (%.0f ms)%n", batchedRate, batchedNanos / 1e6);
        out.printf(Locale.ROOT, "batched/alone: %.2fx; same PNG bytes: %b%n", batchedRate / aloneRate, identical);
    }

    private static long runAlone(TextToImagePipeline pipeline, List<GenerationRequest> requests, byte[] initImage,
                                 List<byte[]> pngs) throws Exception {
        long start = System.nanoTime();
        for (GenerationRequest r : requests) {
            pngs.add(pipeline.generate(r, initImage, GenerationListener.NONE, new Cancellation()).images().get(0).png());
        }
        return System.nanoTime() - start;
    }

    private static long runBatched(TextToImagePipeline pipeline, List<GenerationRequest> requests, byte[] initImage,
                                   List<byte[]> pngs) throws Exception {
        long start = System.nanoTime();
        List<java.util.concurrent.CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        try (BatchedLoop loop = pipeline.batchedLoop(requests.size())) {
            for (GenerationRequest r : requests) {
                futures.add(loop.add(r, initImage, GenerationListener.NONE, new Cancellation()));
            }
            while (!loop.isEmpty()) {
                loop.step();
            }
        }
        long nanos = System.nanoTime() - start;
        for (java.util.concurrent.CompletableFuture<GenerationResult> f : futures) {
            pngs.add(f.get().images().get(0).png());
        }
        return nanos;
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
            if (!OPTIONS.contains(a.substring(2))) {
                throw new IllegalArgumentException("unknown option '" + a + "'");
            }
            opts.put(a.substring(2), args[++i]);
        }
        return opts;
    }
}
