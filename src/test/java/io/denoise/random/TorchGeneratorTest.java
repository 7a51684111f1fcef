package io.denoise.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class TorchGeneratorTest {

    @Test
    void engineIsTheStandardMersenneTwister() {
        // std::mt19937 with the default seed 5489: first output 3499211612, 10000th output 4123659995
        TorchGenerator g = new TorchGenerator(5489);
        assertEquals(3499211612L, g.nextInt32() & 0xffffffffL);
        for (int i = 1; i < 9999; i++) {
            g.nextInt32();
        }
        assertEquals(4123659995L, g.nextInt32() & 0xffffffffL);
    }

    @Test
    void onlyTheLow32BitsOfTheSeedReachTheEngineAsInPyTorch() {
        assertArrayEquals(new TorchGenerator(5).randn(40), new TorchGenerator((1L << 32) + 5).randn(40));
        assertArrayEquals(new TorchGenerator(-1L).randn(40), new TorchGenerator(0xffffffffL).randn(40));
    }

    @Test
    void blocksOfSixteenContinueTheSameStream() {
        TorchGenerator split = new TorchGenerator(42);
        float[] first = split.randn(32);
        float[] second = split.randn(16);
        float[] whole = new TorchGenerator(42).randn(48);
        assertArrayEquals(whole, concat(first, second));
    }

    @Test
    void sizeNotMultipleOfSixteenRedrawsTheTail() {
        float[] seventeen = new TorchGenerator(3).randn(17);
        float[] sixteen = new TorchGenerator(3).randn(16);
        assertEquals(sixteen[0], seventeen[0]);
        assertFalse(Arrays.equals(Arrays.copyOfRange(sixteen, 1, 16), Arrays.copyOfRange(seventeen, 1, 16)),
                "values 1..16 come from the redrawn last block");
    }

    @Test
    void scalarPathCachesTheSecondBoxMullerValueAcrossCalls() {
        TorchGenerator g = new TorchGenerator(9);
        float[] a = g.randn(1);
        float[] b = g.randn(1);
        assertArrayEquals(new TorchGenerator(9).randn(2), concat(a, b));
    }

    @Test
    void reseedingDropsTheCachedValue() {
        TorchGenerator g = new TorchGenerator(9);
        g.randn(1);
        g.manualSeed(9);
        assertArrayEquals(new TorchGenerator(9).randn(3), g.randn(3));
    }

    @Test
    void shapeGivesTheElementCount() {
        assertEquals(2 * 4 * 3 * 3, new TorchGenerator(1).randn(2, 4, 3, 3).length);
        assertEquals(1, new TorchGenerator(1).randn().length);
        assertThrows(IllegalArgumentException.class, () -> new TorchGenerator(1).randn(2, -1));
    }

    @Test
    void avxLogAndSinCosAreCloseToLibm() {
        for (float x = 1e-6f; x <= 1f; x *= 1.37f) {
            assertEquals(Math.log(x), AvxMath.log(x), 2e-7 * Math.max(1, Math.abs(Math.log(x))));
        }
        for (float theta = 0f; theta < 6.3f; theta += 0.01f) {
            assertEquals(Math.sin(theta), AvxMath.sin(theta), 3e-7);
            assertEquals(Math.cos(theta), AvxMath.cos(theta), 3e-7);
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
