package dev.infercl.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A GGUF file (versions 2 and 3), memory-mapped with the FFM API. Metadata is parsed and validated at
 * {@link #open}; tensor data is never copied: {@link #data} returns a view into the mapping.
 *
 * <p>Metadata values are held as Java objects: integers of every width as {@code Long} (UINT64 values keep
 * their bits), FLOAT32 as {@code Float}, FLOAT64 as {@code Double}, BOOL as {@code Boolean}, STRING as
 * {@code String}; arrays as {@link MetadataArray}.
 *
 * <p>Validation is strict: every read is bounds-checked against the file size before it happens, every count
 * is checked against the bytes left before anything is allocated from it, and every failure is a
 * {@link GgufFormatException} naming the file, the field and the byte offset. Keys and tensor names must be
 * valid UTF-8; string values with invalid UTF-8 are decoded with replacement characters (some vocabularies
 * carry raw byte tokens).
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

    /** Default alignment of the tensor-data section and of each tensor's data. */
    public static final long DEFAULT_ALIGNMENT = 32;
    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
    /** Smallest possible metadata entry: key length (8) + empty key + value type (4) + one-byte value. */
    static final long MIN_KV_BYTES = 13;
    /** Smallest possible tensor info: name length (8) + empty name + n_dims (4) + one dim (8) + type (4) + offset (8). */
    static final long MIN_TENSOR_INFO_BYTES = 32;

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;      // the whole file, read-only
    private final int version;
    private final long alignment;
    private final long dataOffset;
    private final List<MetadataEntry> metadata;
    private final Map<String, MetadataEntry> metadataByKey;
    private final Map<String, Long> valueOffsets; // key -> absolute offset of its value (for error messages)
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> tensorsByName;
    private final AtomicBoolean closed = new AtomicBoolean();

    private GgufFile(Path path, Arena arena, MemorySegment mapping, Parser p) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.version = p.version;
        this.alignment = p.alignment;
        this.dataOffset = p.dataOffset;
        this.metadata = Collections.unmodifiableList(new ArrayList<>(p.entries.values()));
        this.metadataByKey = Collections.unmodifiableMap(p.entries);
        this.valueOffsets = p.valueOffsets;
        this.tensors = Collections.unmodifiableList(p.tensors);
        this.tensorsByName = Collections.unmodifiableMap(p.tensorsByName);
    }

    /**
     * Maps and validates the file; throws {@link GgufFormatException} (a typed, named error) on any malformed input,
     * and the errors of {@link FileChecks#requireRegularFile} for a path that is no readable regular file.
     */
    public static GgufFile open(Path path) throws IOException {
        FileChecks.requireRegularFile(path, "GGUF file");
        String fileName = String.valueOf(path.getFileName());
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) {
                throw new GgufFormatException(fileName + ": header magic missing: the file is empty (0 bytes) at offset 0",
                        "magic", 0);
            }
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapping = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena).asReadOnly();
                Parser p = new Parser(fileName, mapping);
                p.parse();
                return new GgufFile(path, arena, mapping, p);
            } catch (Throwable t) {
                arena.close();
                throw t;
            }
        }
    }

    public Path path() { return path; }

    public int version() { return version; }

    /** general.alignment, default 32. */
    public long alignment() { return alignment; }

    /** Absolute byte offset of the tensor-data section. */
    public long dataOffset() { return dataOffset; }

    /** File size in bytes. */
    public long size() { return mapping.byteSize(); }

    /** All metadata in file order. */
    public List<MetadataEntry> metadata() { return metadata; }

    public boolean has(String key) { return metadataByKey.containsKey(key); }

    /**
     * A metadata string as an error message shows it: in single quotes, with NUL, other control characters, quotes
     * and backslashes escaped (NUL as {@code \0}, other control bytes as {@code \xNN}, invisible format characters
     * and lone surrogates as a backslash-u escape), so a value that is not what it looks like says why.
     */
    public static String quote(String s) {
        var b = new StringBuilder(s.length() + 2).append('\'');
        s.codePoints().forEach(c -> {
            switch (c) {
                case 0 -> b.append("\\0");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\\' -> b.append("\\\\");
                case '\'' -> b.append("\\'");
                default -> {
                    int type = Character.getType(c);
                    if (Character.isISOControl(c) || type == Character.FORMAT || type == Character.LINE_SEPARATOR
                            || type == Character.PARAGRAPH_SEPARATOR || type == Character.SURROGATE) {
                        b.append(c <= 0xff ? String.format("\\x%02x", c) : String.format("\\u%04x", c));
                    } else {
                        b.appendCodePoint(c);
                    }
                }
            }
        });
        return b.append('\'').toString();
    }

    /** The raw value (see class comment), or empty. */
    public Optional<Object> get(String key) {
        MetadataEntry e = metadataByKey.get(key);
        return e == null ? Optional.empty() : Optional.of(e.value());
    }

    /** String value; GgufFormatException naming the key when absent or of another type. */
    public String getString(String key) throws GgufFormatException {
        MetadataEntry e = require(key);
        if (e.value() instanceof String s) return s;
        throw wrongType(e, "a STRING");
    }

    public String getString(String key, String dflt) throws GgufFormatException {
        return has(key) ? getString(key) : dflt;
    }

    /** Any integer type, range-checked into int. */
    public int getInt(String key) throws GgufFormatException {
        MetadataEntry e = require(key);
        if (e.value() instanceof Long l) {
            if (e.type() != GgufValueType.UINT64 || l >= 0) {
                if (l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) return (int) l.longValue();
            }
            throw problem(key, "value " + unsignedIf(e.type(), l) + " does not fit in an int");
        }
        throw wrongType(e, "an integer");
    }

    public int getInt(String key, int dflt) throws GgufFormatException {
        return has(key) ? getInt(key) : dflt;
    }

    /** FLOAT32, FLOAT64 or an integer type. */
    public float getFloat(String key) throws GgufFormatException {
        MetadataEntry e = require(key);
        return switch (e.value()) {
            case Float f -> f;
            case Double d -> (float) d.doubleValue();
            case Long l -> e.type() == GgufValueType.UINT64 && l < 0
                    ? (float) (l >>> 1) * 2f // unsigned: close enough for a float
                    : (float) l.longValue();
            default -> throw wrongType(e, "a number");
        };
    }

    public float getFloat(String key, float dflt) throws GgufFormatException {
        return has(key) ? getFloat(key) : dflt;
    }

    public boolean getBoolean(String key, boolean dflt) throws GgufFormatException {
        if (!has(key)) return dflt;
        MetadataEntry e = metadataByKey.get(key);
        if (e.value() instanceof Boolean b) return b;
        throw wrongType(e, "a BOOL");
    }

    public String[] getStringArray(String key) throws GgufFormatException {
        MetadataEntry e = require(key);
        if (e.value() instanceof MetadataArray a && a.values() instanceof String[] s) return s.clone();
        throw wrongType(e, "an array of STRING");
    }

    /** An array of FLOAT32/FLOAT64 (or integers) as float[]. */
    public float[] getFloatArray(String key) throws GgufFormatException {
        MetadataEntry e = require(key);
        if (e.value() instanceof MetadataArray a) {
            switch (a.values()) {
                case float[] f -> { return f.clone(); }
                case double[] d -> {
                    float[] out = new float[d.length];
                    for (int i = 0; i < d.length; i++) out[i] = (float) d[i];
                    return out;
                }
                case long[] l -> {
                    float[] out = new float[l.length];
                    boolean unsigned = a.elementType() == GgufValueType.UINT64;
                    for (int i = 0; i < l.length; i++) out[i] = unsigned && l[i] < 0 ? (float) (l[i] >>> 1) * 2f : (float) l[i];
                    return out;
                }
                default -> { }
            }
        }
        throw wrongType(e, "an array of numbers");
    }

    /** An array of any integer type, range-checked into int[]. */
    public int[] getIntArray(String key) throws GgufFormatException {
        MetadataEntry e = require(key);
        if (e.value() instanceof MetadataArray a && a.values() instanceof long[] l) {
            boolean unsigned = a.elementType() == GgufValueType.UINT64;
            int[] out = new int[l.length];
            for (int i = 0; i < l.length; i++) {
                long v = l[i];
                if ((unsigned && v < 0) || v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                    throw problem(key, "element " + i + " = " + unsignedIf(a.elementType(), v) + " does not fit in an int");
                }
                out[i] = (int) v;
            }
            return out;
        }
        throw wrongType(e, "an array of integers");
    }

    /** Tensors in file order. */
    public List<TensorInfo> tensors() { return tensors; }

    public Optional<TensorInfo> tensor(String name) { return Optional.ofNullable(tensorsByName.get(name)); }

    /** The tensor's bytes: a read-only view into the mapping (no copy). */
    public MemorySegment data(TensorInfo tensor) {
        long start = dataOffset + tensor.offset();
        if (tensor.offset() < 0 || tensor.byteSize() < 0 || start < dataOffset
                || tensor.byteSize() > mapping.byteSize() - start) {
            throw new IllegalArgumentException(fileName() + ": tensor '" + tensor.name() + "' at data offset " + tensor.offset()
                    + " (" + tensor.byteSize() + " bytes) is not inside this file");
        }
        return mapping.asSlice(start, tensor.byteSize());
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) arena.close();
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " metadata, " + tensors.size() + " tensors]";
    }

    // ---- accessor helpers -------------------------------------------------------------------------------

    private String fileName() {
        return String.valueOf(path.getFileName());
    }

    private MetadataEntry require(String key) throws GgufFormatException {
        MetadataEntry e = metadataByKey.get(key);
        if (e == null) {
            throw new GgufFormatException(fileName() + ": metadata key '" + key + "' is absent (no offset)", key, -1);
        }
        return e;
    }

    private GgufFormatException wrongType(MetadataEntry e, String wanted) {
        String actual = e.value() instanceof MetadataArray a ? "ARRAY of " + a.elementType() : e.type().name();
        return problem(e.key(), "is " + actual + ", expected " + wanted);
    }

    private GgufFormatException problem(String key, String what) {
        long off = valueOffsets.getOrDefault(key, -1L);
        return new GgufFormatException(fileName() + ": metadata key '" + key + "' " + what + " at offset " + off, key, off);
    }

    private static String unsignedIf(GgufValueType t, long v) {
        return t == GgufValueType.UINT64 ? Long.toUnsignedString(v) : Long.toString(v);
    }

    // ---- the parser -------------------------------------------------------------------------------------

    /** A field being read: how messages name it, and what {@link GgufFormatException#field()} reports. */
    private record Field(String label, String name) {
        static Field header(String f) { return new Field("header " + f, f); }
        static Field keyNo(long i) { return new Field("metadata key #" + i, "metadata#" + i); }
        static Field key(String k) { return new Field("metadata key '" + k + "'", k); }
        static Field tensorNo(long i) { return new Field("tensor #" + i, "tensor#" + i); }
        static Field tensor(String n) { return new Field("tensor '" + n + "'", n); }
    }

    /** One forward pass over the header; every read is bounds-checked first. */
    private static final class Parser {
        private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private final String file;
        private final MemorySegment seg;
        private final long size;
        private long pos;
        private final CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        private final CharsetDecoder lenient = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);

        int version;
        long alignment = DEFAULT_ALIGNMENT;
        long dataOffset;
        final LinkedHashMap<String, MetadataEntry> entries = new LinkedHashMap<>();
        final Map<String, Long> valueOffsets = new HashMap<>();
        final Map<String, Long> keyOffsets = new HashMap<>();
        final List<TensorInfo> tensors = new ArrayList<>();
        final LinkedHashMap<String, TensorInfo> tensorsByName = new LinkedHashMap<>();
        private final List<Long> tensorOffsetPositions = new ArrayList<>();

        Parser(String file, MemorySegment seg) {
            this.file = file;
            this.seg = seg;
            this.size = seg.byteSize();
        }

        GgufFormatException fail(Field f, long offset, String problem) {
            return new GgufFormatException(file + ": " + f.label() + " " + problem + " at offset " + offset, f.name(), offset);
        }

        long left() {
            return size - pos;
        }

        /** Throws unless {@code n} more bytes can be read at {@link #pos}. */
        void need(long n, Field f, String what) throws GgufFormatException {
            if (n < 0 || n > left()) {
                throw fail(f, pos, what + " is truncated: needs " + n + " bytes, the file has " + left() + " left");
            }
        }

        int u8(Field f, String what) throws GgufFormatException {
            need(1, f, what);
            return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
        }

        int u32(Field f, String what) throws GgufFormatException {
            need(4, f, what);
            int v = seg.get(U32, pos);
            pos += 4;
            return v;
        }

        long u64(Field f, String what) throws GgufFormatException {
            need(8, f, what);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        /** A GGUF string: uint64 length + UTF-8 bytes. Keys and names are decoded strictly. */
        String string(Field f, String what, boolean strictUtf8) throws GgufFormatException {
            long lenAt = pos;
            long len = u64(f, what + " length");
            if (len < 0 || len > left()) {
                throw fail(f, lenAt, what + " length " + Long.toUnsignedString(len) + " exceeds the " + left() + " bytes left");
            }
            if (len > Integer.MAX_VALUE - 8) {
                throw fail(f, lenAt, what + " length " + len + " is too long for a Java string");
            }
            var bytes = seg.asSlice(pos, len).asByteBuffer();
            String s;
            try {
                s = (strictUtf8 ? strict : lenient).reset().decode(bytes).toString();
            } catch (CharacterCodingException e) {
                throw fail(f, pos, what + " is not valid UTF-8 (" + e.getMessage() + ")");
            }
            pos += len;
            return s;
        }

        void parse() throws GgufFormatException {
            // Header: magic, version, tensor_count, metadata_kv_count.
            Field magicF = Field.header("magic");
            need(4, magicF, "magic");
            int magic = seg.get(U32, 0);
            if (magic != MAGIC) {
                throw fail(magicF, 0, String.format("0x%08x is not \"GGUF\" (0x%08x)", Integer.reverseBytes(magic), Integer.reverseBytes(MAGIC)));
            }
            pos = 4;
            Field versionF = Field.header("version");
            version = u32(versionF, "version");
            if (version != 2 && version != 3) {
                String hint = version == 1 ? " (GGUF v1 is obsolete)"
                        : (Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3) ? " (a big-endian file?)" : "";
                throw fail(versionF, 4, "version " + Integer.toUnsignedString(version) + " is not supported" + hint + "; accepted: 2, 3");
            }
            Field tcF = Field.header("tensor_count"), kvF = Field.header("metadata_kv_count");
            long tensorCount = u64(tcF, "tensor_count");
            long kvCount = u64(kvF, "metadata_kv_count");
            // Check the counts against the bytes left before anything is sized by them.
            long left = left();
            if (kvCount < 0 || kvCount > left / MIN_KV_BYTES) {
                throw fail(kvF, 16, "metadata_kv_count " + Long.toUnsignedString(kvCount) + " cannot fit in the " + left
                        + " bytes left (each entry needs at least " + MIN_KV_BYTES + ")");
            }
            if (tensorCount < 0 || tensorCount > left / MIN_TENSOR_INFO_BYTES
                    || kvCount * MIN_KV_BYTES + tensorCount * MIN_TENSOR_INFO_BYTES > left) {
                throw fail(tcF, 8, "tensor_count " + Long.toUnsignedString(tensorCount) + " cannot fit in the " + left
                        + " bytes left (each tensor info needs at least " + MIN_TENSOR_INFO_BYTES + ", after "
                        + kvCount + " metadata entries)");
            }

            for (long i = 0; i < kvCount; i++) readKv(i);
            alignment = readAlignment();
            for (long i = 0; i < tensorCount; i++) readTensorInfo(i);

            // Tensor data section: the header end rounded up to the alignment.
            long headerEnd = pos;
            try {
                dataOffset = Math.addExact(headerEnd, alignment - 1) & -alignment;
            } catch (ArithmeticException e) {
                throw fail(Field.header("data section"), headerEnd, "aligned start overflows 64 bits (alignment " + alignment + ")");
            }
            checkTensorPlacement();
        }

        private void readKv(long i) throws GgufFormatException {
            long kvAt = pos;
            String key = string(Field.keyNo(i), "key", true);
            Field f = Field.key(key);
            if (entries.containsKey(key)) {
                throw fail(f, kvAt, "is a duplicate (first at offset " + keyOffsets.get(key) + ")");
            }
            long typeAt = pos;
            int typeId = u32(f, "value type");
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) {
                throw fail(f, typeAt, "value type id " + Integer.toUnsignedString(typeId) + " is unknown");
            }
            long valueAt = pos;
            Object value = type == GgufValueType.ARRAY ? array(f) : scalar(f, type);
            keyOffsets.put(key, kvAt);
            valueOffsets.put(key, valueAt);
            entries.put(key, new MetadataEntry(key, type, value));
        }

        private Object scalar(Field f, GgufValueType type) throws GgufFormatException {
            return switch (type) {
                case UINT8 -> (long) u8(f, "UINT8 value");
                case INT8 -> (long) (byte) u8(f, "INT8 value");
                case UINT16 -> { need(2, f, "UINT16 value"); long v = seg.get(U16, pos) & 0xFFFFL; pos += 2; yield v; }
                case INT16 -> { need(2, f, "INT16 value"); long v = seg.get(U16, pos); pos += 2; yield v; }
                case UINT32 -> u32(f, "UINT32 value") & 0xFFFFFFFFL;
                case INT32 -> (long) u32(f, "INT32 value");
                case UINT64 -> u64(f, "UINT64 value");
                case INT64 -> u64(f, "INT64 value");
                case FLOAT32 -> Float.intBitsToFloat(u32(f, "FLOAT32 value"));
                case FLOAT64 -> Double.longBitsToDouble(u64(f, "FLOAT64 value"));
                case BOOL -> bool(f, "BOOL value");
                case STRING -> string(f, "string", false);
                case ARRAY -> throw new AssertionError("arrays are read by array()");
            };
        }

        private boolean bool(Field f, String what) throws GgufFormatException {
            long at = pos;
            int b = u8(f, what);
            if (b > 1) throw fail(f, at, "bool byte " + b + " is neither 0 nor 1");
            return b == 1;
        }

        private static long minSize(GgufValueType t) {
            return switch (t) {
                case UINT8, INT8, BOOL -> 1;
                case UINT16, INT16 -> 2;
                case UINT32, INT32, FLOAT32 -> 4;
                case UINT64, INT64, FLOAT64, STRING -> 8; // a string is at least its length field
                case ARRAY -> 12;
            };
        }

        private MetadataArray array(Field f) throws GgufFormatException {
            long typeAt = pos;
            int typeId = u32(f, "array element type");
            GgufValueType et = GgufValueType.byId(typeId);
            if (et == null) {
                throw fail(f, typeAt, "array element value type id " + Integer.toUnsignedString(typeId) + " is unknown");
            }
            if (et == GgufValueType.ARRAY) {
                throw fail(f, typeAt, "is a nested array (array of arrays), which is not supported");
            }
            long countAt = pos;
            long count = u64(f, "array count");
            long elem = minSize(et);
            if (count < 0 || count > left() / elem) {
                throw fail(f, countAt, "array count " + Long.toUnsignedString(count) + " of " + et + " exceeds what the "
                        + left() + " bytes left can hold (" + elem + " bytes each at least)");
            }
            if (count > Integer.MAX_VALUE - 8) {
                throw fail(f, countAt, "array count " + count + " is too large for a Java array");
            }
            int n = (int) count;
            switch (et) {
                case FLOAT32 -> {
                    float[] v = new float[n];
                    MemorySegment.copy(seg, F32, pos, v, 0, n);
                    pos += 4L * n;
                    return new MetadataArray(et, v);
                }
                case FLOAT64 -> {
                    double[] v = new double[n];
                    MemorySegment.copy(seg, F64, pos, v, 0, n);
                    pos += 8L * n;
                    return new MetadataArray(et, v);
                }
                case BOOL -> {
                    boolean[] v = new boolean[n];
                    for (int i = 0; i < n; i++) v[i] = bool(f, "array element " + i);
                    return new MetadataArray(et, v);
                }
                case STRING -> {
                    String[] v = new String[n];
                    for (int i = 0; i < n; i++) v[i] = string(f, "array element " + i, false);
                    return new MetadataArray(et, v);
                }
                default -> {
                    long[] v = new long[n];
                    for (int i = 0; i < n; i++) v[i] = (Long) scalar(f, et);
                    return new MetadataArray(et, v);
                }
            }
        }

        private long readAlignment() throws GgufFormatException {
            MetadataEntry e = entries.get("general.alignment");
            if (e == null) return DEFAULT_ALIGNMENT;
            Field f = Field.key(e.key());
            long at = valueOffsets.get(e.key());
            if (!(e.value() instanceof Long a)) {
                throw fail(f, at, "has type " + e.type() + ", expected an integer type (UINT32)");
            }
            if (a <= 0 || Long.bitCount(a) != 1) {
                throw fail(f, at, "value " + (e.type() == GgufValueType.UINT64 ? Long.toUnsignedString(a) : a)
                        + " is not a positive power of two");
            }
            return a;
        }

        private void readTensorInfo(long i) throws GgufFormatException {
            long infoAt = pos;
            String name = string(Field.tensorNo(i), "name", true);
            Field f = Field.tensor(name);
            if (tensorsByName.containsKey(name)) {
                throw fail(f, infoAt, "name is a duplicate");
            }
            long nDimsAt = pos;
            int nDims = u32(f, "n_dims");
            if (nDims < 1 || nDims > 4) {
                throw fail(f, nDimsAt, "n_dims " + Integer.toUnsignedString(nDims) + " is not in 1..4");
            }
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                long dimAt = pos;
                dims[d] = u64(f, "dim " + d);
                if (dims[d] == 0) throw fail(f, dimAt, "dim " + d + " is zero");
                if (dims[d] < 0) {
                    throw fail(f, dimAt, "dim " + d + " = " + Long.toUnsignedString(dims[d]) + " exceeds 2^63-1");
                }
            }
            long elements = 1;
            try {
                for (long d : dims) elements = Math.multiplyExact(elements, d);
            } catch (ArithmeticException e) {
                throw fail(f, nDimsAt + 4, "element count of shape " + Arrays.toString(dims) + " overflows 64 bits");
            }
            long typeAt = pos;
            int typeId = u32(f, "type");
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw fail(f, typeAt, "type id " + Integer.toUnsignedString(typeId) + " is unknown");
            }
            if (dims[0] % type.blockSize != 0) {
                throw fail(f, nDimsAt + 4, "ne0 " + dims[0] + " is not a multiple of " + type + "'s block size " + type.blockSize);
            }
            long byteSize;
            try {
                byteSize = type.byteSize(elements);
            } catch (ArithmeticException e) {
                throw fail(f, typeAt, "byte size of " + elements + " " + type + " elements overflows 64 bits");
            }
            long offsetAt = pos;
            long offset = u64(f, "data offset");
            if (offset < 0) {
                throw fail(f, offsetAt, "data offset " + Long.toUnsignedString(offset) + " exceeds 2^63-1");
            }
            if (offset % alignment != 0) {
                throw fail(f, offsetAt, "data offset " + offset + " is not a multiple of the alignment " + alignment);
            }
            TensorInfo t = new TensorInfo(name, type, dims, offset, byteSize);
            tensors.add(t);
            tensorsByName.put(name, t);
            tensorOffsetPositions.add(offsetAt);
        }

        /** Every tensor's data must lie inside the file and overlap no other tensor's. */
        private void checkTensorPlacement() throws GgufFormatException {
            int n = tensors.size();
            for (int i = 0; i < n; i++) {
                TensorInfo t = tensors.get(i);
                long at = tensorOffsetPositions.get(i);
                long end;
                try {
                    end = Math.addExact(Math.addExact(dataOffset, t.offset()), t.byteSize());
                } catch (ArithmeticException e) {
                    throw fail(Field.tensor(t.name()), at, "data end overflows 64 bits");
                }
                if (end > size) {
                    throw fail(Field.tensor(t.name()), at, "data [" + (dataOffset + t.offset()) + ", " + end
                            + ") runs past the end of the file (" + size + " bytes)");
                }
            }
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) order[i] = i;
            Arrays.sort(order, (a, b) -> Long.compare(tensors.get(a).offset(), tensors.get(b).offset()));
            for (int k = 1; k < n; k++) {
                TensorInfo prev = tensors.get(order[k - 1]), cur = tensors.get(order[k]);
                long prevEnd = prev.offset() + prev.byteSize(); // no overflow: checked above
                if (cur.offset() < prevEnd) {
                    throw fail(Field.tensor(cur.name()), tensorOffsetPositions.get(order[k]), "data [" + cur.offset() + ", "
                            + (cur.offset() + cur.byteSize()) + ") overlaps tensor '" + prev.name() + "' data ["
                            + prev.offset() + ", " + prevEnd + ") (offsets relative to the data section)");
                }
            }
        }
    }
}
