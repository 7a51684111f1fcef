package io.denoise.scheduler;

import io.denoise.random.TorchGenerator;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Checks {@link TorchGenerator} bit for bit against every file of {@code src/test/resources/conformance/torch-randn}
 * (and of {@code $DENOISE_CONFORMANCE_DIR/torch-randn} when set): successive
 * {@code torch.randn(shape, generator=g)} draws of a {@code manual_seed}ed CPU generator. One dynamic test per file.
 */
class TorchRandnParityTest {

    /** Cases bundled in {@code src/test/resources/conformance/torch-randn}; a lost file fails the build. */
    private static final int BUNDLED_CASES = 6;

    @TestFactory
    Stream<DynamicTest> everyRecordedDrawIsReproducedBitForBit() throws Exception {
        return ConformanceData.cases("torch-randn").stream()
                .map(c -> DynamicTest.dynamicTest(c.name(), c.file().toUri(), () -> replay(c.file())));
    }

    @Test
    void everyBundledSeedCaseIsPresent() throws Exception {
        assertEquals(BUNDLED_CASES, ConformanceData.bundled("torch-randn").size(),
                "seed cases in src/test/resources/conformance/torch-randn");
    }

    private static void replay(Path file) throws Exception {
        JsonNode c = ConformanceData.read(file);
        TorchGenerator generator = new TorchGenerator(Long.parseUnsignedLong(c.get("seed").asText()));
        int drawIndex = 0;
        for (JsonNode draw : c.get("draws")) {
            int[] shape = new int[draw.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = draw.get("shape").get(i).asInt();
            }
            float[] expected = ConformanceData.tensor(draw.get("values"));
            float[] actual = generator.randn(shape);
            assertEquals(expected.length, actual.length, "draw " + drawIndex + ": element count");
            for (int i = 0; i < expected.length; i++) {
                if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
                    fail("draw " + drawIndex + ", element " + i + ": " + actual[i] + ", expected " + expected[i]);
                }
            }
            drawIndex++;
        }
    }
}
