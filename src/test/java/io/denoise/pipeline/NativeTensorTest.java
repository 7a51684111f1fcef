package io.denoise.pipeline;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class NativeTensorTest {

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();

    @Test
    void float16StorageRoundsToHalfPrecisionAndReadsBackAsFloats() throws OrtException {
        try (NativeTensor t = NativeTensor.allocate(env, ElementType.FLOAT16, 1, 4)) {
            t.put(new float[] {1f, -2.5f, 0.1f, 65504f});
            float[] back = new float[4];
            t.get(back);
            assertArrayEquals(new float[] {1f, -2.5f, 0.099975586f, 65504f}, back);
            assertEquals(ai.onnxruntime.OnnxJavaType.FLOAT16, t.onnx().getInfo().type);
        }
    }

    @Test
    void onnxTensorSharesTheBufferSoRewritesNeedNoNewTensor() throws OrtException {
        try (NativeTensor t = NativeTensor.allocate(env, ElementType.FLOAT32, 2, 2)) {
            t.put(new float[] {1, 2, 3, 4});
            assertArrayEquals(new float[] {1, 2, 3, 4}, floats(t));
            t.put(new float[] {5, 6, 7, 8});
            assertArrayEquals(new float[] {5, 6, 7, 8}, floats(t));
        }
    }

    @Test
    void copyFromMovesRowsBetweenTensorsOfTheSameType() throws OrtException {
        try (NativeTensor a = NativeTensor.allocate(env, ElementType.FLOAT32, 2, 3);
             NativeTensor b = NativeTensor.allocate(env, ElementType.FLOAT32, 4, 3);
             NativeTensor c = NativeTensor.allocate(env, ElementType.FLOAT16, 2, 3)) {
            a.put(new float[] {1, 2, 3, 4, 5, 6});
            b.copyFrom(a, 3, 0, 3);
            b.copyFrom(a, 0, 9, 3);
            float[] out = new float[12];
            b.get(out);
            assertArrayEquals(new float[] {4, 5, 6, 0, 0, 0, 0, 0, 0, 1, 2, 3}, out);
            assertThrows(IllegalArgumentException.class, () -> c.copyFrom(a, 0, 0, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> b.copyFrom(a, 4, 0, 3));
        }
    }

    @Test
    void aViewIsATensorOverItsParentsElements() throws OrtException {
        try (NativeTensor parent = NativeTensor.allocate(env, ElementType.FLOAT16, 4, 3)) {
            try (NativeTensor rows = parent.view(env, 3, 2, 3)) {
                assertArrayEquals(new long[] {2, 3}, rows.onnx().getInfo().getShape());
                rows.put(new float[] {1, 2, 3, 4, 5, 6});
            }
            float[] out = new float[12];
            parent.get(out);
            assertArrayEquals(new float[] {0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0}, out);
            assertThrows(IndexOutOfBoundsException.class, () -> parent.view(env, 7, 2, 3));
        }
    }

    @Test
    void liveTensorsAreCountedAndASecondCloseIsRefused() throws OrtException {
        int before = NativeTensor.live();
        NativeTensor t = NativeTensor.allocate(env, ElementType.FLOAT32, 2);
        NativeTensor view = t.view(env, 1, 1);
        assertEquals(before + 2, NativeTensor.live());
        view.close();
        t.close();
        assertEquals(before, NativeTensor.live());
        assertThrows(IllegalStateException.class, t::close);
        assertEquals(before, NativeTensor.live());
    }

    @Test
    void integerTensorsHoldTokenIds() throws OrtException {
        try (NativeTensor ids = NativeTensor.allocate(env, ElementType.INT32, 1, 3)) {
            ids.putLongs(0, new long[] {49406, 320, 49407});
            assertArrayEquals(new int[] {49406, 320, 49407}, ((int[][]) ids.onnx().getValue())[0]);
        }
    }

    @Test
    void dynamicShapesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> NativeTensor.allocate(env, ElementType.FLOAT32, -1, 4));
    }

    private static float[] floats(NativeTensor t) throws OrtException {
        float[][] v = (float[][]) t.onnx().getValue();
        return new float[] {v[0][0], v[0][1], v[1][0], v[1][1]};
    }
}
