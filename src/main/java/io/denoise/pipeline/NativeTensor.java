package io.denoise.pipeline;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.platform.Fp16Conversions;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A tensor over a direct, native-order buffer that ONNX Runtime wraps without copying. The buffer is allocated
 * once (per generation) and its contents rewritten between runs, so a denoising step allocates nothing; the same
 * instance can be an input of one run and a pinned output of another.
 *
 * <p>Values cross the Java boundary as {@code float} (or {@code long} for integer tensors); float16 storage is
 * converted on the way in and out; tensors of the same type copy between each other byte for byte, with no
 * conversion. Not thread-safe; owned by one generation and closed exactly once (a second {@link #close()} is a bug
 * and throws).
 */
public final class NativeTensor implements AutoCloseable {

    /** Tensors created and not yet closed, views included: tests check that a generation leaves none behind. */
    private static final AtomicInteger LIVE = new AtomicInteger();

    private final ElementType type;
    private final long[] shape;
    private final int size;
    private final ByteBuffer buffer;
    /** The buffer as floats for bulk copies of float32 tensors, else null. */
    private final FloatBuffer floats;
    private final OnnxTensor tensor;
    private boolean closed;

    private NativeTensor(OrtEnvironment env, ElementType type, long[] shape, ByteBuffer storage) throws OrtException {
        this.type = type;
        this.shape = shape.clone();
        this.size = elements(type, shape);
        this.buffer = storage != null ? storage
                : ByteBuffer.allocateDirect(size * type.bytes()).order(ByteOrder.nativeOrder());
        this.floats = type == ElementType.FLOAT32 ? buffer.asFloatBuffer() : null;
        this.tensor = OnnxTensor.createTensor(env, buffer, this.shape, type.onnxType());
        LIVE.incrementAndGet();
    }

    private static int elements(ElementType type, long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor shape must be concrete: " + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n * type.bytes() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor too large: " + Arrays.toString(shape));
        }
        return (int) n;
    }

    /** Allocates a zero-filled tensor of the given type and shape. */
    public static NativeTensor allocate(OrtEnvironment env, ElementType type, long... shape) throws OrtException {
        return new NativeTensor(env, type, shape, null);
    }

    /**
     * A tensor of {@code shape} over this one's elements from {@code offset} on, sharing its memory: what ONNX
     * Runtime writes into the view (as a pinned output) lands in this tensor, with no copy. The view is a tensor
     * of its own for ONNX Runtime and is closed on its own, before this one.
     */
    public NativeTensor view(OrtEnvironment env, int offset, long... shape) throws OrtException {
        int count = elements(type, shape);
        checkRange(offset, count);
        ByteBuffer slice = buffer.duplicate().position(offset * type.bytes()).limit((offset + count) * type.bytes())
                .slice().order(ByteOrder.nativeOrder());
        return new NativeTensor(env, type, shape, slice);
    }

    /** Native tensors created and not yet closed in this JVM. */
    static int live() {
        return LIVE.get();
    }

    public ElementType type() {
        return type;
    }

    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public int size() {
        return size;
    }

    /** The ONNX Runtime view of this tensor; valid until {@link #close()}. */
    public OnnxTensor onnx() {
        return tensor;
    }

    /** Writes {@code src.length} values starting at element {@code offset}. */
    public void put(int offset, float[] src, int srcOffset, int length) {
        checkRange(offset, length);
        switch (type) {
            case FLOAT32 -> floats.put(offset, src, srcOffset, length);
            case FLOAT16 -> {
                for (int i = 0; i < length; i++) {
                    buffer.putShort((offset + i) * 2, Fp16Conversions.floatToFp16(src[srcOffset + i]));
                }
            }
            case INT32 -> {
                for (int i = 0; i < length; i++) {
                    buffer.putInt((offset + i) * 4, (int) src[srcOffset + i]);
                }
            }
            case INT64 -> {
                for (int i = 0; i < length; i++) {
                    buffer.putLong((offset + i) * 8, (long) src[srcOffset + i]);
                }
            }
        }
    }

    /** Writes all of {@code src} from element 0; {@code src.length} must equal {@link #size()}. */
    public void put(float[] src) {
        if (src.length != size) {
            throw new IllegalArgumentException("expected " + size + " values, got " + src.length);
        }
        put(0, src, 0, size);
    }

    /** Writes integer values (token ids, integer timesteps) starting at element {@code offset}. */
    public void putLongs(int offset, long[] src) {
        checkRange(offset, src.length);
        for (int i = 0; i < src.length; i++) {
            switch (type) {
                case INT64 -> buffer.putLong((offset + i) * 8, src[i]);
                case INT32 -> buffer.putInt((offset + i) * 4, Math.toIntExact(src[i]));
                case FLOAT32 -> buffer.putFloat((offset + i) * 4, src[i]);
                case FLOAT16 -> buffer.putShort((offset + i) * 2, Fp16Conversions.floatToFp16(src[i]));
            }
        }
    }

    /** Sets every element to {@code value}. */
    public void fill(double value) {
        for (int i = 0; i < size; i++) {
            switch (type) {
                case FLOAT32 -> buffer.putFloat(i * 4, (float) value);
                case FLOAT16 -> buffer.putShort(i * 2, Fp16Conversions.floatToFp16((float) value));
                case INT32 -> buffer.putInt(i * 4, (int) value);
                case INT64 -> buffer.putLong(i * 8, (long) value);
            }
        }
    }

    /** Reads {@code length} values starting at element {@code offset} into {@code dst}. */
    public void get(int offset, float[] dst, int dstOffset, int length) {
        checkRange(offset, length);
        switch (type) {
            case FLOAT32 -> floats.get(offset, dst, dstOffset, length);
            case FLOAT16 -> {
                for (int i = 0; i < length; i++) {
                    dst[dstOffset + i] = Fp16Conversions.fp16ToFloat(buffer.getShort((offset + i) * 2));
                }
            }
            case INT32 -> {
                for (int i = 0; i < length; i++) {
                    dst[dstOffset + i] = buffer.getInt((offset + i) * 4);
                }
            }
            case INT64 -> {
                for (int i = 0; i < length; i++) {
                    dst[dstOffset + i] = buffer.getLong((offset + i) * 8);
                }
            }
        }
    }

    /** Reads every element into {@code dst} ({@code dst.length} must equal {@link #size()}). */
    public void get(float[] dst) {
        if (dst.length != size) {
            throw new IllegalArgumentException("expected room for " + size + " values, got " + dst.length);
        }
        get(0, dst, 0, size);
    }

    /**
     * Copies {@code count} elements of {@code src} starting at {@code srcOffset} to this tensor at
     * {@code offset}, byte for byte; both tensors must have the same element type.
     */
    public void copyFrom(NativeTensor src, int srcOffset, int offset, int count) {
        if (src.type != type) {
            throw new IllegalArgumentException("cannot copy " + src.type + " into " + type);
        }
        checkRange(offset, count);
        src.checkRange(srcOffset, count);
        ByteBuffer from = src.buffer.duplicate().order(ByteOrder.nativeOrder());
        from.position(srcOffset * type.bytes()).limit((srcOffset + count) * type.bytes());
        ByteBuffer to = buffer.duplicate().order(ByteOrder.nativeOrder());
        to.position(offset * type.bytes());
        to.put(from);
    }

    private void checkRange(int offset, int length) {
        if (offset < 0 || length < 0 || offset + length > size) {
            throw new IndexOutOfBoundsException(
                    "range [" + offset + ", " + (offset + length) + ") outside tensor of " + size + " elements");
        }
    }

    /** Closes the ONNX Runtime tensor; the memory goes with the last reference to it (a view keeps it alive). */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("native tensor " + this + " closed twice");
        }
        closed = true;
        tensor.close();
        LIVE.decrementAndGet();
    }

    @Override
    public String toString() {
        return type + Arrays.toString(shape);
    }
}
