package io.denoise.cli;

import io.denoise.pipeline.ShapeScorer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The {@code generate} command line: the pipeline alone, and its benchmark. */
class GenerateCommandTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) throws Exception {
        return GenerateCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
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
}
