package dev.infercl.gguf;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A GGUF file (versions 2 and 3), memory-mapped with the FFM API. Metadata is parsed and validated at
 * {@link #open}; tensor data is never copied: {@link #data} returns a view into the mapping.
 *
 * <p>Metadata values are held as Java objects: integers of every width as {@code Long} (UINT64 values keep
 * their bits), FLOAT32 as {@code Float}, FLOAT64 as {@code Double}, BOOL as {@code Boolean}, STRING as
 * {@code String}; arrays as {@link MetadataArray}.
 *
 * <p>Thread-safety: immutable after open; the mapping lives until {@link #close}.
 */
public final class GgufFile implements AutoCloseable {

    /** An array value: its element type and a Java array (long[], float[], double[], boolean[] or String[]). */
    public record MetadataArray(GgufValueType elementType, Object values) {
        public int length() {
            return java.lang.reflect.Array.getLength(values);
        }
    }

    /** One metadata entry: its declared type and value (see class comment). */
    public record MetadataEntry(String key, GgufValueType type, Object value) {}

    private GgufFile() {}

    /** Maps and validates the file; throws {@link GgufFormatException} (a typed, named error) on any malformed input. */
    public static GgufFile open(Path path) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    public Path path() { throw new UnsupportedOperationException("TODO"); }

    public int version() { throw new UnsupportedOperationException("TODO"); }

    /** general.alignment, default 32. */
    public long alignment() { throw new UnsupportedOperationException("TODO"); }

    /** Absolute byte offset of the tensor-data section. */
    public long dataOffset() { throw new UnsupportedOperationException("TODO"); }

    /** File size in bytes. */
    public long size() { throw new UnsupportedOperationException("TODO"); }

    /** All metadata in file order. */
    public List<MetadataEntry> metadata() { throw new UnsupportedOperationException("TODO"); }

    public boolean has(String key) { throw new UnsupportedOperationException("TODO"); }

    /** The raw value (see class comment), or empty. */
    public Optional<Object> get(String key) { throw new UnsupportedOperationException("TODO"); }

    /** String value; GgufFormatException naming the key when absent or of another type. */
    public String getString(String key) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    public String getString(String key, String dflt) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    /** Any integer type, range-checked into int. */
    public int getInt(String key) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    public int getInt(String key, int dflt) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    /** FLOAT32, FLOAT64 or an integer type. */
    public float getFloat(String key) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    public float getFloat(String key, float dflt) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    public boolean getBoolean(String key, boolean dflt) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    public String[] getStringArray(String key) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    /** An array of FLOAT32/FLOAT64 (or integers) as float[]. */
    public float[] getFloatArray(String key) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    /** An array of any integer type, range-checked into int[]. */
    public int[] getIntArray(String key) throws GgufFormatException { throw new UnsupportedOperationException("TODO"); }

    /** Tensors in file order. */
    public List<TensorInfo> tensors() { throw new UnsupportedOperationException("TODO"); }

    public Optional<TensorInfo> tensor(String name) { throw new UnsupportedOperationException("TODO"); }

    /** The tensor's bytes: a read-only view into the mapping (no copy). */
    public MemorySegment data(TensorInfo tensor) { throw new UnsupportedOperationException("TODO"); }

    @Override
    public void close() { throw new UnsupportedOperationException("TODO"); }
}
