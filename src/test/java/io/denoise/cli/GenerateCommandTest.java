package io.denoise.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.images.Grid;
import io.denoise.images.PngTest;
import io.denoise.images.SweepGrid;
import io.denoise.pipeline.ShapeScorer;
import io.denoise.recipe.SweepPlan;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The {@code generate} command line: the pipeline alone, its benchmark, and sweeps. */
class GenerateCommandTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** A fast recipe where the picture does not matter: the random model, 32 × 32, two steps. */
    private static final String[] TINY = {"--model", "models/tiny-random", "--prompt", "a red circle", "--steps", "2",
            "--width", "32", "--height", "32"};

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) throws Exception {
        return GenerateCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private int tiny(String... more) throws Exception {
        return run(Stream.concat(Stream.of(TINY), Stream.of(more)).toArray(String[]::new));
    }

    @Test
    void writesThePromptedImageAndReportsEveryStep(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("red.png");
        assertEquals(0, run("--model", "models/shapes", "--prompt", "a red square on a black background",
                "--seed", "7", "--steps", "20", "--out", png.toString()));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("step 20/20"), text);
        assertTrue(text.contains("wrote " + png + " (seed 7)"), text);
        ShapeScorer.Score score = ShapeScorer.score(ImageIO.read(png.toFile()));
        assertEquals("red", score.colour());
        assertEquals("black", score.background());
        assertTrue(Files.size(png) > 100);
    }

    @Test
    void benchBatchPrintsImagesPerSecondAloneAndBatched() throws Exception {
        assertEquals(0, tiny("--seed", "3", "--bench-batch", "3", "--warmup", "0"));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("bench-batch: 3 single-image requests at 2 steps, 32x32"), text);
        assertTrue(text.matches("(?s).*alone: +[0-9.]+ images/s.*batched: +[0-9.]+ images/s.*"), text);
        assertTrue(text.matches("(?s).*batched/alone: [0-9.]+x; same PNG bytes: true.*"), text);
    }

    @Test
    void benchPrintsTheShareOutsideOnnxRuntimeMemoryAndCancellation() throws Exception {
        assertEquals(0, run("--model", "models/tiny-random", "--prompt", "a red circle", "--steps", "4",
                "--bench", "3", "--warmup", "1"));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("generations: 3 (after 1 warm-up) at 4 steps"), text);
        assertTrue(text.matches("(?s).*outside ONNX Runtime: [0-9.]+% of wall time.*"), text);
        assertTrue(text.matches("(?s).*resident memory: [0-9]+ KiB after warm-up, [0-9]+ KiB at end.*"), text);
        // when the canceller thread wakes depends on the machine; what must hold is that no step but the one in
        // flight is reported after cancel()
        assertTrue(text.matches("(?s).*cancel at step 10 of 50: returned [0-9.]+ ms after cancel\\(\\).*"
                + "last step reported: [0-9]+, steps reported after cancel\\(\\): [01]\\R.*"), text);
    }

    @Test
    void aBadOptionValueNamesTheOptionAndExitsWith2() throws Exception {
        assertEquals(2, run("--model", "models/tiny-random", "--prompt", "a red circle", "--steps", "many"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--steps: not a number: 'many'"), err.toString());
        assertEquals(2, run("--model", "models/tiny-random", "--prompt", "a red circle", "--bench", "0"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--bench must be at least 1"), err.toString());
        assertEquals(2, run("--model", "models/tiny-random", "--prompt", "a red circle", "--scheduler", "nope"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("scheduler: must be one of [pndm"), err.toString());
    }

    @Test
    void missingModelOrPromptPrintsUsageAndExitsWith2() throws Exception {
        assertEquals(2, run("--prompt", "a red circle"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--bench N"));
    }

    @Test
    void aSweepWritesItsGridWithThePlanAndEveryCellAsAPlainGenerateWould(@TempDir Path dir) throws Exception {
        Path grid = dir.resolve("grid.png");
        assertEquals(0, tiny("--seed", "7", "--sweep", "guidanceScale=1,2.5,4", "--out", grid.toString()),
                err.toString(StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("seed 7; sweep guidanceScale (3 values): 3 cells"), text);
        String[] labels = {"1", "2.5", "4"};
        for (int i = 0; i < 3; i++) {
            assertTrue(Pattern.compile("cell " + i + "/3  guidanceScale=" + labels[i].replace(".", "\\.")
                    + "  [0-9]+ ms  " + Pattern.quote(dir.resolve("grid-cell-" + i + ".png").toString()))
                    .matcher(text).find(), text);
        }
        assertTrue(text.contains("wrote " + grid + " (2 × 2 grid;"), text);
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("grid-cell-0.png", "grid-cell-1.png", "grid-cell-2.png", "grid.png"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }

        byte[] png = Files.readAllBytes(grid);
        assertTrue(ImageIO.read(new ByteArrayInputStream(png)) != null, "the grid is a PNG");
        JsonNode chunk = JSON.readTree(PngTest.textByKeyword(png).get(SweepGrid.PLAN_KEYWORD));
        assertEquals("guidanceScale", chunk.path("x").path("field").asText());
        assertEquals("[1,2.5,4]", chunk.path("x").path("values").toString());
        assertTrue(chunk.path("y").isMissingNode(), chunk.toString());
        assertEquals("a red circle", chunk.path("base").path("prompt").asText());
        assertEquals("7", chunk.path("base").path("seed").asText());
        assertEquals(2, chunk.path("base").path("numInferenceSteps").asInt());

        // the grid is what SweepGrid draws from the plan it carries and the cells written next to it
        SweepPlan plan = SweepPlan.read(chunk, 64);
        assertArrayEquals(SweepGrid.render(plan, cellImages(dir, "grid", 3)), png);

        // each cell is exactly what a plain generate with the cell's values writes
        String[] guidance = {"1", "2.5", "4"};
        for (int i = 0; i < 3; i++) {
            Path alone = dir.resolve("alone-" + i + ".png");
            assertEquals(0, tiny("--seed", "7", "--guidance", guidance[i], "--out", alone.toString()));
            assertArrayEquals(Files.readAllBytes(alone), Files.readAllBytes(dir.resolve("grid-cell-" + i + ".png")),
                    "cell " + i);
        }
    }

    @Test
    void twoAxesMakeColumnsTimesRowsCellsRowMajor(@TempDir Path dir) throws Exception {
        Path grid = dir.resolve("plot.png");
        assertEquals(0, tiny("--seed", "3", "--sweep", "guidanceScale=1,3", "--sweep-y", "scheduler=pndm,ddim,euler",
                "--out", grid.toString()), err.toString(StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("sweep guidanceScale (2 values) × scheduler (3 values): 6 cells"), text);
        assertEquals(6, text.lines().filter(l -> l.startsWith("cell ")).count(), text);
        assertTrue(text.contains("cell 3/6  guidanceScale=3 scheduler=ddim  "), text);
        assertTrue(text.contains("wrote " + grid + " (2 × 3 grid;"), text);
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(7, files.count());
        }
        // cell 3 is row 1 (ddim), column 1 (guidance 3)
        String parameters = PngTest.textByKeyword(Files.readAllBytes(dir.resolve("plot-cell-3.png"))).get("parameters");
        assertTrue(parameters.contains("Sampler: DDIM, CFG scale: 3.0, Seed: 3"), parameters);
        byte[] png = Files.readAllBytes(grid);
        SweepPlan plan = SweepPlan.read(JSON.readTree(PngTest.textByKeyword(png).get(SweepGrid.PLAN_KEYWORD)), 64);
        assertEquals(2, plan.columns());
        assertEquals(3, plan.rows());
        assertArrayEquals(SweepGrid.render(plan, cellImages(dir, "plot", 6)), png);
    }

    @Test
    void aSweepWithoutASeedUsesOneRandomSeedForEveryCellUnlessSeedIsAnAxis(@TempDir Path dir) throws Exception {
        assertEquals(0, tiny("--sweep", "guidanceScale=1,2", "--out", dir.resolve("g.png").toString()));
        Matcher m = Pattern.compile("seed ([0-9]+); sweep").matcher(out.toString(StandardCharsets.UTF_8));
        assertTrue(m.find(), out.toString(StandardCharsets.UTF_8));
        String seed = m.group(1);
        for (int i = 0; i < 2; i++) {
            String parameters = PngTest.textByKeyword(Files.readAllBytes(dir.resolve("g-cell-" + i + ".png"))).get("parameters");
            assertTrue(parameters.contains("Seed: " + seed + ","), parameters);
        }
        assertEquals(seed, JSON.readTree(PngTest.textByKeyword(Files.readAllBytes(dir.resolve("g.png")))
                .get(SweepGrid.PLAN_KEYWORD)).path("base").path("seed").asText(), "the grid's plan names the seed");

        out.reset();
        assertEquals(0, tiny("--sweep", "seed=11,12", "--out", dir.resolve("s.png").toString()));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("seed per cell; sweep seed (2 values)"),
                out.toString(StandardCharsets.UTF_8));
        for (int i = 0; i < 2; i++) {
            String parameters = PngTest.textByKeyword(Files.readAllBytes(dir.resolve("s-cell-" + i + ".png"))).get("parameters");
            assertTrue(parameters.contains("Seed: " + (11 + i) + ","), parameters);
        }
    }

    @Test
    void aBadAxisValueIsNamedAndNothingRunsOrIsWritten(@TempDir Path dir) throws Exception {
        Path grid = dir.resolve("grid.png");
        assertEquals(2, tiny("--seed", "1", "--sweep", "guidanceScale=1,99", "--out", grid.toString()));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("x.values[1]: (guidanceScale 99): guidanceScale must be a number between 0 and 50"), e);
        assertFalse(e.contains("x.values[0]"), e);
        assertEquals("", out.toString(StandardCharsets.UTF_8), "no cell ran");
        assertEmpty(dir);

        // every broken value is named, a broken base field once (with the first cell it broke in)
        err.reset();
        assertEquals(2, tiny("--seed", "1", "--sweep", "guidanceScale=60,2,51", "--sweep-y", "numInferenceSteps=2,0",
                "--out", grid.toString()));
        e = err.toString(StandardCharsets.UTF_8);
        assertEquals(List.of("x.values[0]: (guidanceScale 60): guidanceScale must be a number between 0 and 50.0"
                        + " (at most 1 disables classifier-free guidance)",
                "x.values[2]: (guidanceScale 51): guidanceScale must be a number between 0 and 50.0"
                        + " (at most 1 disables classifier-free guidance)",
                "y.values[1]: (numInferenceSteps 0): numInferenceSteps must be between 1 and 150"),
                e.lines().toList());
        err.reset();
        assertEquals(2, tiny("--seed", "1", "--width", "60", "--sweep", "guidanceScale=1,2", "--out", grid.toString()));
        e = err.toString(StandardCharsets.UTF_8);
        assertEquals(List.of("base.width: must be a multiple of 8 between 32 and 256 (in cell 0: guidanceScale 1)"),
                e.lines().toList());
        assertEquals("", out.toString(StandardCharsets.UTF_8));
        assertEmpty(dir);
    }

    @Test
    void aSweepOfAFieldThatCannotVaryOrAMalformedAxisIsRefused(@TempDir Path dir) throws Exception {
        String grid = dir.resolve("grid.png").toString();
        assertEquals(2, tiny("--sweep", "width=32,64", "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--sweep: cannot vary width; fields: [eta, "
                + "guidanceScale, negativePrompt, numInferenceSteps, prompt, scheduler, seed, strength]"), err.toString());
        err.reset();
        assertEquals(2, tiny("--sweep", "seed=1,2", "--sweep-y", "colour=red,blue", "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--sweep-y: cannot vary colour"), err.toString());
        err.reset();
        assertEquals(2, tiny("--sweep", "guidanceScale=1,lots", "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--sweep: guidanceScale: not a number: 'lots'"),
                err.toString());
        err.reset();
        assertEquals(2, tiny("--sweep", "guidanceScale=1,1.0", "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("x.values[1]: repeats x.values[0] (1.0)"),
                err.toString());
        err.reset();
        assertEquals(2, tiny("--sweep", "scheduler=pndm,ddim", "--sweep-y", "scheduler=euler", "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("y.field: must differ from x.field (scheduler)"),
                err.toString());
        err.reset();
        assertEquals(2, tiny("--sweep", "prompt=blue,green", "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("x.values[0]: must appear in base.prompt"),
                err.toString());
        err.reset();
        assertEquals(2, tiny("--sweep", "seed=1,2,3,4,5,6,7,8,9", "--sweep-y", "guidanceScale=1,2,3,4,5,6,7,8",
                "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("y.values: make 72 cells; a sweep has at most 64"),
                err.toString());
        assertEmpty(dir);
    }

    @Test
    void sweepOptionsThatDoNotGoTogetherAreRefused(@TempDir Path dir) throws Exception {
        String grid = dir.resolve("grid.png").toString();
        assertEquals(2, tiny("--num-images", "2", "--sweep", "guidanceScale=1,2", "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--num-images: a sweep makes one image per cell"),
                err.toString());
        err.reset();
        assertEquals(2, tiny("--sweep-y", "guidanceScale=1,2", "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--sweep-y needs --sweep"), err.toString());
        err.reset();
        assertEquals(2, tiny("--bench", "2", "--sweep", "guidanceScale=1,2"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--bench and --sweep do not go together"),
                err.toString());
        err.reset();
        assertEquals(2, tiny("--sweep", "guidanceScale=1,2", "--out", dir.resolve("no/such/grid.png").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--out: there is no directory"), err.toString());
        err.reset();
        assertEquals(2, tiny("--sweep-x", "guidanceScale=1,2", "--out", grid));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("unknown option '--sweep-x'"), err.toString());
        assertEquals("", out.toString(StandardCharsets.UTF_8));
        assertEmpty(dir);
    }

    @Test
    void usageDescribesTheSweep() {
        assertTrue(GenerateCommand.USAGE.contains("--sweep FIELD=V1,V2,..."), GenerateCommand.USAGE);
        assertTrue(GenerateCommand.USAGE.contains("--sweep-y FIELD=V1,..."), GenerateCommand.USAGE);
        assertTrue(GenerateCommand.USAGE.contains("--num-images must be 1"), GenerateCommand.USAGE);
        int at = GenerateCommand.USAGE.indexOf("FIELD is a request field:");
        String fields = GenerateCommand.USAGE.substring(at, GenerateCommand.USAGE.indexOf(';', at));
        for (String field : SweepPlan.FIELDS.keySet()) {
            assertTrue(fields.matches("(?s).*\\b" + field + "\\b.*"), field + " in " + fields);
        }
        assertEquals(Path.of("out", "grid-cell-3.png"), GenerateCommand.cellFile(Path.of("out", "grid.png"), 3));
        assertEquals(Path.of("grid-cell-0"), GenerateCommand.cellFile(Path.of("grid"), 0));
    }

    // ---- helpers

    private static List<Grid.Cell> cellImages(Path dir, String stem, int n) throws IOException {
        List<Grid.Cell> cells = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cells.add(new Grid.Image(Files.readAllBytes(dir.resolve(stem + "-cell-" + i + ".png"))));
        }
        return cells;
    }

    private static void assertEmpty(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(), files.toList(), "nothing written");
        }
    }

}
