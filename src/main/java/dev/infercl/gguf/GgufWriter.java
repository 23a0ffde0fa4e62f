package dev.infercl.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Writes GGUF version 3 files. Metadata and tensor descriptions are collected first; tensor bytes are
 * produced by a {@link TensorSource} only while {@link #write} streams them to disk, so files larger than
 * memory can be written.
 */
public final class GgufWriter {

    /** Produces a tensor's bytes into {@code sink}, in chunks, exactly {@code byteSize} bytes in all. */
    @FunctionalInterface
    public interface TensorSource {
        void writeTo(ByteSink sink) throws IOException;
    }

    /** Receives tensor bytes. */
    @FunctionalInterface
    public interface ByteSink {
        void write(ByteBuffer bytes) throws IOException;
    }

    public GgufWriter() {}

    /** general.alignment (a power of two); default 32. */
    public GgufWriter alignment(int alignment) { throw new UnsupportedOperationException("TODO"); }

    public GgufWriter putString(String key, String value) { throw new UnsupportedOperationException("TODO"); }
    public GgufWriter putUInt32(String key, long value) { throw new UnsupportedOperationException("TODO"); }
    public GgufWriter putInt32(String key, int value) { throw new UnsupportedOperationException("TODO"); }
    public GgufWriter putFloat32(String key, float value) { throw new UnsupportedOperationException("TODO"); }
    public GgufWriter putBool(String key, boolean value) { throw new UnsupportedOperationException("TODO"); }
    public GgufWriter putStringArray(String key, String[] values) { throw new UnsupportedOperationException("TODO"); }
    public GgufWriter putFloat32Array(String key, float[] values) { throw new UnsupportedOperationException("TODO"); }
    public GgufWriter putInt32Array(String key, int[] values) { throw new UnsupportedOperationException("TODO"); }

    /** Adds a tensor; dims in GGML order (ne0 first). */
    public GgufWriter addTensor(String name, GgmlType type, long[] dims, TensorSource source) { throw new UnsupportedOperationException("TODO"); }

    /** Convenience: a tensor whose bytes are already in memory. */
    public GgufWriter addTensor(String name, GgmlType type, long[] dims, byte[] bytes) { throw new UnsupportedOperationException("TODO"); }

    /** Writes the whole file. */
    public void write(Path path) throws IOException { throw new UnsupportedOperationException("TODO"); }
}
