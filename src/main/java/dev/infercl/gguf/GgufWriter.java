package dev.infercl.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF version 3 files. Metadata and tensor descriptions are collected first; tensor bytes are
 * produced by a {@link TensorSource} only while {@link #write} streams them to disk, so files larger than
 * memory can be written.
 *
 * <p>Layout: header, metadata in insertion order, tensor infos in insertion order, zero padding to the
 * alignment, then each tensor's data followed by zero padding to the alignment. Offsets are relative to the
 * start of the data section.
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

    private static final String ALIGNMENT_KEY = "general.alignment";

    private record Entry(GgufValueType type, Object value) {}

    private record PendingTensor(String name, GgmlType type, long[] dims, long byteSize, TensorSource source) {}

    private final Map<String, Entry> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private final Map<String, PendingTensor> tensorsByName = new LinkedHashMap<>();

    public GgufWriter() {}

    /** general.alignment (a power of two); default 32. Written as a UINT32 metadata entry. */
    public GgufWriter alignment(int alignment) {
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment " + alignment + " is not a positive power of two");
        }
        metadata.put(ALIGNMENT_KEY, new Entry(GgufValueType.UINT32, (long) alignment));
        return this;
    }

    public GgufWriter putString(String key, String value) { return put(key, GgufValueType.STRING, value); }
    public GgufWriter putUInt8(String key, int value) { return put(key, GgufValueType.UINT8, (long) value); }
    public GgufWriter putInt8(String key, int value) { return put(key, GgufValueType.INT8, (long) value); }
    public GgufWriter putUInt16(String key, int value) { return put(key, GgufValueType.UINT16, (long) value); }
    public GgufWriter putInt16(String key, int value) { return put(key, GgufValueType.INT16, (long) value); }
    public GgufWriter putUInt32(String key, long value) { return put(key, GgufValueType.UINT32, value); }
    public GgufWriter putInt32(String key, int value) { return put(key, GgufValueType.INT32, (long) value); }
    /** A UINT64; {@code value}'s bits are written as they are (negative longs are values ≥ 2^63). */
    public GgufWriter putUInt64(String key, long value) { return put(key, GgufValueType.UINT64, value); }
    public GgufWriter putInt64(String key, long value) { return put(key, GgufValueType.INT64, value); }
    public GgufWriter putFloat32(String key, float value) { return put(key, GgufValueType.FLOAT32, value); }
    public GgufWriter putFloat64(String key, double value) { return put(key, GgufValueType.FLOAT64, value); }
    public GgufWriter putBool(String key, boolean value) { return put(key, GgufValueType.BOOL, value); }
    public GgufWriter putStringArray(String key, String[] values) { return putArray(key, GgufValueType.STRING, values.clone()); }
    public GgufWriter putFloat32Array(String key, float[] values) { return putArray(key, GgufValueType.FLOAT32, values.clone()); }
    public GgufWriter putInt32Array(String key, int[] values) {
        long[] v = new long[values.length];
        for (int i = 0; i < v.length; i++) v[i] = values[i];
        return putArray(key, GgufValueType.INT32, v);
    }

    /**
     * A scalar of any type but ARRAY, with the value as {@link GgufFile} returns it: integers as Long (or any
     * Number), FLOAT32 as Float, FLOAT64 as Double, BOOL as Boolean, STRING as String.
     */
    public GgufWriter put(String key, GgufValueType type, Object value) {
        if (type == GgufValueType.ARRAY) throw new IllegalArgumentException(key + ": use putArray for arrays");
        checkKey(key);
        metadata.put(key, new Entry(type, checkScalar(key, type, value)));
        return this;
    }

    /**
     * An array of {@code elementType} (not ARRAY: nesting is unsupported) with the values as the Java array
     * {@link GgufFile.MetadataArray} holds: long[] for integer types, float[], double[], boolean[] or String[].
     */
    public GgufWriter putArray(String key, GgufValueType elementType, Object values) {
        checkKey(key);
        Class<?> want = switch (elementType) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> long[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case BOOL -> boolean[].class;
            case STRING -> String[].class;
            case ARRAY -> throw new IllegalArgumentException(key + ": nested arrays are not supported");
        };
        if (!want.isInstance(values)) {
            throw new IllegalArgumentException(key + ": an array of " + elementType + " needs a " + want.getSimpleName());
        }
        if (values instanceof String[] s) for (String x : s) if (x == null) throw new IllegalArgumentException(key + ": null string");
        metadata.put(key, new Entry(GgufValueType.ARRAY, new GgufFile.MetadataArray(elementType, values)));
        return this;
    }

    /** Adds a tensor; dims in GGML order (ne0 first). */
    public GgufWriter addTensor(String name, GgmlType type, long[] dims, TensorSource source) {
        if (name == null || type == null || dims == null || source == null) throw new NullPointerException("tensor " + name);
        if (tensorsByName.containsKey(name)) throw new IllegalArgumentException("duplicate tensor '" + name + "'");
        if (dims.length < 1 || dims.length > 4) {
            throw new IllegalArgumentException("tensor '" + name + "': " + dims.length + " dims, must be 1..4");
        }
        long elements = 1;
        for (long d : dims) {
            if (d < 1) throw new IllegalArgumentException("tensor '" + name + "': dim " + d + " < 1");
            elements = Math.multiplyExact(elements, d);
        }
        if (dims[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': ne0 " + dims[0] + " is not a multiple of "
                    + type + "'s block size " + type.blockSize);
        }
        var t = new PendingTensor(name, type, dims.clone(), type.byteSize(elements), source);
        tensors.add(t);
        tensorsByName.put(name, t);
        return this;
    }

    /** Convenience: a tensor whose bytes are already in memory. */
    public GgufWriter addTensor(String name, GgmlType type, long[] dims, byte[] bytes) {
        byte[] copy = bytes.clone();
        addTensor(name, type, dims, sink -> sink.write(ByteBuffer.wrap(copy)));
        long want = tensorsByName.get(name).byteSize();
        if (copy.length != want) {
            tensors.removeLast();
            tensorsByName.remove(name);
            throw new IllegalArgumentException("tensor '" + name + "': " + copy.length + " bytes given, " + type
                    + " " + java.util.Arrays.toString(dims) + " needs " + want);
        }
        return this;
    }

    /** Writes the whole file. */
    public void write(Path path) throws IOException {
        long alignment = alignmentValue();
        try {
            writeFile(path, alignment);
        } catch (IOException | RuntimeException e) {
            try {
                java.nio.file.Files.deleteIfExists(path); // leave no half-written file behind
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private void writeFile(Path path, long alignment) throws IOException {
        try (var ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
             var out = new Out(ch)) {
            out.bytes(new byte[] {'G', 'G', 'U', 'F'});
            out.u32(3);
            out.u64(tensors.size());
            out.u64(metadata.size());
            for (var e : metadata.entrySet()) {
                out.string(e.getKey());
                out.u32(e.getValue().type().id);
                value(out, e.getValue().type(), e.getValue().value());
            }
            long offset = 0;
            for (var t : tensors) {
                out.string(t.name());
                out.u32(t.dims().length);
                for (long d : t.dims()) out.u64(d);
                out.u32(t.type().id);
                out.u64(offset);
                offset = Math.addExact(offset, pad(t.byteSize(), alignment));
            }
            out.zeros(pad(out.position(), alignment) - out.position());
            for (var t : tensors) {
                long before = out.position();
                t.source().writeTo(out::bytes);
                long written = out.position() - before;
                if (written != t.byteSize()) {
                    throw new IOException(path.getFileName() + ": tensor '" + t.name() + "' source wrote " + written
                            + " bytes, its " + t.type() + " shape " + java.util.Arrays.toString(t.dims()) + " needs "
                            + t.byteSize());
                }
                out.zeros(pad(t.byteSize(), alignment) - t.byteSize());
            }
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------

    private long alignmentValue() {
        Entry e = metadata.get(ALIGNMENT_KEY);
        if (e == null) return GgufFile.DEFAULT_ALIGNMENT;
        if (!(e.value() instanceof Long a) || a <= 0 || Long.bitCount(a) != 1) {
            throw new IllegalStateException(ALIGNMENT_KEY + " must be a positive power-of-two integer, is " + e.value());
        }
        return a;
    }

    private static long pad(long n, long alignment) {
        return Math.addExact(n, alignment - 1) & -alignment;
    }

    private static void checkKey(String key) {
        if (key == null) throw new NullPointerException("key");
    }

    private static Object checkScalar(String key, GgufValueType type, Object value) {
        if (value == null) throw new NullPointerException(key);
        boolean ok = switch (type) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> value instanceof Number;
            case FLOAT32, FLOAT64 -> value instanceof Number;
            case BOOL -> value instanceof Boolean;
            case STRING -> value instanceof String;
            case ARRAY -> false;
        };
        if (!ok) throw new IllegalArgumentException(key + ": " + value.getClass().getSimpleName() + " is not a " + type);
        if (value instanceof Number n) {
            return switch (type) {
                case FLOAT32 -> n.floatValue();
                case FLOAT64 -> n.doubleValue();
                default -> n.longValue();
            };
        }
        return value;
    }

    private static void value(Out out, GgufValueType type, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8 -> out.u8((int) (long) (Long) v);
            case UINT16, INT16 -> out.u16((int) (long) (Long) v);
            case UINT32, INT32 -> out.u32((int) (long) (Long) v);
            case UINT64, INT64 -> out.u64((Long) v);
            case FLOAT32 -> out.u32(Float.floatToRawIntBits((Float) v));
            case FLOAT64 -> out.u64(Double.doubleToRawLongBits((Double) v));
            case BOOL -> out.u8((Boolean) v ? 1 : 0);
            case STRING -> out.string((String) v);
            case ARRAY -> {
                var a = (GgufFile.MetadataArray) v;
                out.u32(a.elementType().id);
                out.u64(a.length());
                switch (a.values()) {
                    case long[] l -> { for (long x : l) value(out, a.elementType(), x); }
                    case float[] f -> { for (float x : f) out.u32(Float.floatToRawIntBits(x)); }
                    case double[] d -> { for (double x : d) out.u64(Double.doubleToRawLongBits(x)); }
                    case boolean[] b -> { for (boolean x : b) out.u8(x ? 1 : 0); }
                    case String[] s -> { for (String x : s) out.string(x); }
                    default -> throw new IllegalStateException("unexpected array " + a.values().getClass());
                }
            }
        }
    }

    /** A little-endian buffered writer over a channel that counts the bytes it has written. */
    private static final class Out implements AutoCloseable {
        private final FileChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        private long flushed;

        Out(FileChannel ch) {
            this.ch = ch;
        }

        long position() {
            return flushed + buf.position();
        }

        private void room(int n) throws IOException {
            if (buf.remaining() < n) flush();
        }

        void u8(int v) throws IOException { room(1); buf.put((byte) v); }
        void u16(int v) throws IOException { room(2); buf.putShort((short) v); }
        void u32(int v) throws IOException { room(4); buf.putInt(v); }
        void u64(long v) throws IOException { room(8); buf.putLong(v); }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void bytes(byte[] b) throws IOException {
            bytes(ByteBuffer.wrap(b));
        }

        /** Copies {@code src} from its position to its limit (the caller's buffer is not modified). */
        void bytes(ByteBuffer src) throws IOException {
            ByteBuffer s = src.duplicate();
            if (s.remaining() >= buf.capacity()) { // large chunk: bypass the buffer
                flush();
                while (s.hasRemaining()) flushed += ch.write(s);
                return;
            }
            while (s.hasRemaining()) {
                if (!buf.hasRemaining()) flush();
                int n = Math.min(s.remaining(), buf.remaining());
                buf.put(buf.position(), s, s.position(), n);
                buf.position(buf.position() + n);
                s.position(s.position() + n);
            }
        }

        void zeros(long n) throws IOException {
            for (long i = 0; i < n; i++) u8(0);
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) flushed += ch.write(buf);
            buf.clear();
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
