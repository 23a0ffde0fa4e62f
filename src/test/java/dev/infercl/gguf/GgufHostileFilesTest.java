package dev.infercl.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Malformed and hostile GGUF files: each starts from one small valid file described field by field
 * ({@link Spec}) and corrupts exactly one thing. Every one must fail with {@link GgufFormatException}, fast,
 * with a message naming the file, the field and the offset.
 */
class GgufHostileFilesTest {

    @TempDir
    Path dir;

    // ---- a little-endian byte builder and a GGUF described field by field ----------------------------

    static final class Le {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Le u8(int v) { out.write(v); return this; }
        Le u16(int v) { return u8(v).u8(v >>> 8); }
        Le u32(long v) { for (int i = 0; i < 4; i++) out.write((int) (v >>> (8 * i))); return this; }
        Le u64(long v) { for (int i = 0; i < 8; i++) out.write((int) (v >>> (8 * i))); return this; }
        Le raw(byte[] b) { out.writeBytes(b); return this; }
        Le str(String s) { return str(utf8(s)); }
        Le str(byte[] b) { return u64(b.length).raw(b); }
        int size() { return out.size(); }
        byte[] bytes() { return out.toByteArray(); }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** One metadata entry: key bytes, value type id, encoded value. */
    static final class Kv {
        byte[] key;
        long type;
        byte[] value;

        Kv(String key, GgufValueType type, Le value) {
            this.key = utf8(key);
            this.type = type.id;
            this.value = value.bytes();
        }
    }

    /** One tensor info, every field settable independently (n_dims need not match dims.length). */
    static final class T {
        byte[] name;
        long nDims;
        long[] dims;
        long type;
        long offset;

        T(String name, GgmlType type, long[] dims, long offset) {
            this.name = utf8(name);
            this.nDims = dims.length;
            this.dims = dims;
            this.type = type.id;
            this.offset = offset;
        }
    }

    static final class Spec {
        long magic = 0x46554747L;
        long version = 3;
        Long tensorCount;  // null: tensors.size()
        Long kvCount;      // null: kvs.size()
        final List<Kv> kvs = new ArrayList<>();
        final List<T> tensors = new ArrayList<>();
        int padTo = 32;    // alignment used to lay out the data section
        Long dataBytes;    // null: exactly up to the end of the last tensor (F32 [4, 2] then Q8_0 [32])
        Integer truncateTo;

        Kv kv(String key) {
            return kvs.stream().filter(k -> Arrays.equals(k.key, utf8(key))).findFirst().orElseThrow();
        }

        T tensor(String name) {
            return tensors.stream().filter(t -> Arrays.equals(t.name, utf8(name))).findFirst().orElseThrow();
        }

        byte[] build() {
            var b = new Le();
            b.u32(magic).u32(version);
            b.u64(tensorCount != null ? tensorCount : tensors.size());
            b.u64(kvCount != null ? kvCount : kvs.size());
            for (Kv kv : kvs) b.str(kv.key).u32(kv.type).raw(kv.value);
            for (T t : tensors) {
                b.str(t.name).u32(t.nDims);
                for (long d : t.dims) b.u64(d);
                b.u32(t.type).u64(t.offset);
            }
            while (b.size() % padTo != 0) b.u8(0);
            long data = dataBytes != null ? dataBytes : 32 + 34;
            for (long i = 0; i < data; i++) b.u8((int) (i * 7 + 1));
            byte[] bytes = b.bytes();
            return truncateTo == null ? bytes : Arrays.copyOf(bytes, truncateTo);
        }
    }

    /** The valid file every case starts from. */
    static Spec valid() {
        var s = new Spec();
        s.kvs.add(new Kv("general.architecture", GgufValueType.STRING, new Le().str("llama")));
        s.kvs.add(new Kv("general.alignment", GgufValueType.UINT32, new Le().u32(32)));
        s.kvs.add(new Kv("tokenizer.ggml.tokens", GgufValueType.ARRAY,
                new Le().u32(GgufValueType.STRING.id).u64(3).str("a").str("bb").str("ü")));
        s.kvs.add(new Kv("scores", GgufValueType.ARRAY, new Le().u32(GgufValueType.FLOAT32.id).u64(2).u32(0x3f800000).u32(0)));
        s.kvs.add(new Kv("flags", GgufValueType.ARRAY, new Le().u32(GgufValueType.BOOL.id).u64(2).u8(1).u8(0)));
        s.kvs.add(new Kv("flag", GgufValueType.BOOL, new Le().u8(1)));
        s.kvs.add(new Kv("i16", GgufValueType.INT16, new Le().u16(-3)));
        s.kvs.add(new Kv("u64", GgufValueType.UINT64, new Le().u64(-1)));
        s.kvs.add(new Kv("f64", GgufValueType.FLOAT64, new Le().u64(Double.doubleToLongBits(0.5))));
        s.tensors.add(new T("a", GgmlType.F32, new long[] {4, 2}, 0));   // 32 bytes
        s.tensors.add(new T("b", GgmlType.Q8_0, new long[] {32}, 32));   // 34 bytes, ends the file
        return s;
    }

    private static Arguments c(String name, String phrase, Consumer<Spec> corrupt) {
        return Arguments.of(name, phrase, corrupt);
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                // header
                c("empty-file", "empty", s -> s.truncateTo = 0),
                c("shorter-than-magic", "magic", s -> s.truncateTo = 3),
                c("shorter-than-header", "truncated", s -> s.truncateTo = 10),
                c("bad-magic", "magic", s -> s.magic = 0x46554746L),
                c("version-1", "version 1", s -> s.version = 1),
                c("version-4", "version 4", s -> s.version = 4),
                c("version-big-endian", "big-endian", s -> s.version = 0x03000000L),
                c("kv-count-2^62", "metadata_kv_count", s -> s.kvCount = 1L << 62),
                c("kv-count-2^64-1", "metadata_kv_count", s -> s.kvCount = -1L),
                c("tensor-count-2^62", "tensor_count", s -> s.tensorCount = 1L << 62),
                c("tensor-count-2^63", "tensor_count", s -> s.tensorCount = Long.MIN_VALUE),
                // metadata
                c("key-length-2^40", "key length 1099511627776 exceeds", s -> s.kvs.getFirst().key = null),
                c("string-length-2^40", "string length 1099511627776 exceeds",
                        s -> s.kv("general.architecture").value = new Le().u64(1L << 40).raw(utf8("llama")).bytes()),
                c("string-length-2^64-1", "string length 18446744073709551615 exceeds",
                        s -> s.kv("general.architecture").value = new Le().u64(-1).raw(utf8("llama")).bytes()),
                c("array-count-2^40", "array count 1099511627776",
                        s -> s.kv("tokenizer.ggml.tokens").value = new Le().u32(GgufValueType.STRING.id).u64(1L << 40).str("a").bytes()),
                c("array-count-past-eof", "array count 100000 of FLOAT32 exceeds",
                        s -> s.kv("scores").value = new Le().u32(GgufValueType.FLOAT32.id).u64(100_000).u32(0).bytes()),
                c("nested-array", "nested array",
                        s -> s.kvs.add(new Kv("nested", GgufValueType.ARRAY, new Le().u32(GgufValueType.ARRAY.id).u64(1)
                                .u32(GgufValueType.UINT8.id).u64(1).u8(0)))),
                c("unknown-value-type", "value type id 13 is unknown", s -> s.kv("flag").type = 13),
                c("value-type-2^32-1", "value type id 4294967295 is unknown", s -> s.kv("flag").type = 0xFFFFFFFFL),
                c("unknown-array-element-type", "element value type id 99",
                        s -> s.kv("scores").value = new Le().u32(99).u64(0).bytes()),
                c("bool-byte-2", "bool byte 2", s -> s.kv("flag").value = new byte[] {2}),
                c("bool-array-byte-7", "bool byte 7",
                        s -> s.kv("flags").value = new Le().u32(GgufValueType.BOOL.id).u64(2).u8(1).u8(7).bytes()),
                c("invalid-utf8-key", "not valid UTF-8", s -> s.kv("flag").key = new byte[] {'f', (byte) 0xC3, '(', 'x'}),
                c("duplicate-key", "duplicate", s -> s.kvs.add(new Kv("flag", GgufValueType.BOOL, new Le().u8(0)))),
                c("truncated-in-metadata", "array count is truncated", s -> s.truncateTo = 205),
                c("alignment-not-power-of-two", "not a positive power of two", s -> s.kv("general.alignment").value = new Le().u32(48).bytes()),
                c("alignment-zero", "not a positive power of two", s -> s.kv("general.alignment").value = new Le().u32(0).bytes()),
                c("alignment-negative-int32", "not a positive power of two", s -> {
                    s.kv("general.alignment").type = GgufValueType.INT32.id;
                    s.kv("general.alignment").value = new Le().u32(-32).bytes();
                }),
                c("alignment-is-a-string", "expected an integer", s -> {
                    s.kv("general.alignment").type = GgufValueType.STRING.id;
                    s.kv("general.alignment").value = new Le().str("32").bytes();
                }),
                // tensor infos
                c("n_dims-0", "n_dims 0", s -> { s.tensor("a").nDims = 0; s.tensor("a").dims = new long[0]; }),
                c("n_dims-5", "n_dims 5", s -> { s.tensor("a").nDims = 5; s.tensor("a").dims = new long[] {4, 2, 1, 1, 1}; }),
                c("n_dims-2^32-1", "n_dims 4294967295", s -> s.tensor("a").nDims = 0xFFFFFFFFL),
                c("zero-dim", "dim 1 is zero", s -> s.tensor("a").dims = new long[] {4, 0}),
                c("dim-2^63", "dim 1 = 9223372036854775808 exceeds", s -> s.tensor("a").dims = new long[] {4, Long.MIN_VALUE}),
                c("element-count-overflow", "element count", s -> s.tensor("a").dims = new long[] {1L << 32, 1L << 32}),
                c("byte-size-overflow", "byte size", s -> { s.tensor("a").nDims = 1; s.tensor("a").dims = new long[] {1L << 62}; }),
                c("unknown-tensor-type-4", "type id 4 is unknown", s -> s.tensor("a").type = 4),
                c("tensor-type-2^32-1", "type id 4294967295 is unknown", s -> s.tensor("a").type = 0xFFFFFFFFL),
                c("ne0-not-block-multiple", "block size 32", s -> s.tensor("b").dims = new long[] {33}),
                c("offset-unaligned", "not a multiple of the alignment 32", s -> s.tensor("b").offset = 33),
                c("offset-2^64-32", "exceeds 2^63-1", s -> s.tensor("b").offset = -32),
                c("offset-end-overflows", "overflows", s -> s.tensor("b").offset = Long.MAX_VALUE & ~31L),
                c("tensors-overlap", "overlaps tensor 'a'", s -> s.tensor("b").offset = 0),
                c("data-past-eof", "past the end of the file", s -> s.tensor("b").offset = 1L << 20),
                c("data-truncated", "past the end of the file", s -> s.dataBytes = 65L),
                c("duplicate-tensor-name", "duplicate", s -> s.tensor("b").name = utf8("a")),
                c("invalid-utf8-tensor-name", "not valid UTF-8", s -> s.tensor("b").name = new byte[] {(byte) 0xFF}),
                c("tensor-name-length-2^40", "name length 1099511627776 exceeds", s -> s.tensor("b").name = null),
                c("truncated-in-tensor-infos", "truncated", s -> s.truncateTo = s.build().length - 66 - 40));
    }

    /** Writes {@code bytes}, applying the "length 2^40" cases that cannot be expressed by byte arrays. */
    private Path write(String name, Spec s) throws IOException {
        byte[] bytes;
        if (s.kvs.getFirst().key == null) { // key length 2^40 on the first key
            s.kvs.getFirst().key = utf8("general.architecture");
            bytes = s.build();
            patchU64(bytes, 24, 1L << 40);
        } else if (s.tensors.size() > 1 && s.tensors.get(1).name == null) { // tensor name length 2^40
            s.tensors.get(1).name = utf8("b");
            bytes = s.build();
            int at = indexOf(bytes, new Le().u64(1).raw(utf8("b")).u32(1).bytes());
            patchU64(bytes, at, 1L << 40);
        } else {
            bytes = s.build();
        }
        Path p = dir.resolve(name + ".gguf");
        Files.write(p, bytes);
        return p;
    }

    private static void patchU64(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) b[at + i] = (byte) (v >>> (8 * i));
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new AssertionError("pattern not found");
    }

    @Test
    void theBaseFileIsValid() throws IOException {
        Path p = write("valid", valid());
        try (var g = GgufFile.open(p)) {
            assertEquals(9, g.metadata().size());
            assertEquals("llama", g.getString("general.architecture"));
            assertEquals(-3, g.getInt("i16"));
            assertEquals(2, g.tensors().size());
            assertEquals(Files.size(p), g.dataOffset() + 32 + 34, "the last tensor ends the file");
            assertEquals(34, g.data(g.tensor("b").orElseThrow()).byteSize());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void hostileFileIsRejected(String name, String phrase, Consumer<Spec> corrupt) throws IOException {
        Spec s = valid();
        corrupt.accept(s);
        Path p = write(name, s);
        var e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(GgufFormatException.class, () -> GgufFile.open(p).close()));
        assertEquals(GgufFormatException.class, e.getClass());
        String m = e.getMessage();
        assertTrue(m.startsWith(name + ".gguf: "), m);
        assertTrue(m.contains(phrase), () -> "expected '" + phrase + "' in: " + m);
        assertTrue(m.contains("offset"), m);
        assertTrue(e.offset() >= 0 && e.offset() <= Files.size(p), m);
        assertTrue(m.endsWith("at offset " + e.offset()) || m.contains("at offset " + e.offset()), m);
        assertTrue(e.field() != null && !e.field().isEmpty(), m);
    }

    @Test
    void fieldNamesAreReported() throws IOException {
        Spec s = valid();
        s.kv("flag").value = new byte[] {9};
        var e = assertThrows(GgufFormatException.class, () -> GgufFile.open(write("field", s)));
        assertEquals("flag", e.field());
        assertTrue(e.getMessage().contains("metadata key 'flag'"), e.getMessage());

        Spec t = valid();
        t.tensor("b").dims = new long[] {48};
        e = assertThrows(GgufFormatException.class, () -> GgufFile.open(write("field2", t)));
        assertEquals("b", e.field());
        assertTrue(e.getMessage().contains("tensor 'b'"), e.getMessage());

        Spec h = valid();
        h.kvCount = 1L << 62;
        e = assertThrows(GgufFormatException.class, () -> GgufFile.open(write("field3", h)));
        assertEquals("metadata_kv_count", e.field());
        assertEquals(16, e.offset());
    }

    @Test
    void everyTruncationIsRejected() throws IOException {
        byte[] full = valid().build();
        Path p = dir.resolve("trunc.gguf");
        for (int len = 0; len < full.length; len++) {
            Files.write(p, Arrays.copyOf(full, len));
            final int n = len;
            Throwable t = null;
            try {
                GgufFile.open(p).close();
            } catch (Throwable x) {
                t = x;
            }
            if (t == null) fail("truncated to " + n + " of " + full.length + " bytes, but open() succeeded");
            if (t.getClass() != GgufFormatException.class) {
                throw new AssertionError("truncated to " + n + " bytes: expected GgufFormatException, got " + t, t);
            }
            assertTrue(t.getMessage().startsWith("trunc.gguf: ") && t.getMessage().contains("offset"), t.getMessage());
        }
    }

    @Test
    void randomHeaderCorruptionsOpenOrFailCleanly() throws IOException {
        byte[] full = valid().build();
        int headerEnd;
        Path ok = dir.resolve("ok.gguf");
        Files.write(ok, full);
        try (var g = GgufFile.open(ok)) {
            headerEnd = (int) g.dataOffset();
        }
        var rnd = new Random(20240601L);
        Path p = dir.resolve("fuzz.gguf");
        int opened = 0, rejected = 0;
        for (int i = 0; i < 2000; i++) {
            byte[] b = full.clone();
            int at = rnd.nextInt(headerEnd);
            byte v;
            do {
                v = (byte) rnd.nextInt(256);
            } while (v == b[at]);
            b[at] = v;
            Files.write(p, b);
            try (var g = GgufFile.open(p)) {
                // Whatever opened must be fully usable.
                g.metadata().forEach(e -> assertTrue(e.key() != null && e.value() != null));
                for (var t : g.tensors()) {
                    var seg = g.data(t);
                    assertEquals(t.byteSize(), seg.byteSize());
                    seg.get(ValueLayout.JAVA_BYTE, seg.byteSize() - 1);
                }
                opened++;
            } catch (GgufFormatException e) {
                assertTrue(e.getMessage().startsWith("fuzz.gguf: ") && e.getMessage().contains("offset"), e.getMessage());
                rejected++;
            } catch (Throwable t) {
                throw new AssertionError("byte " + at + " set to " + (v & 0xFF) + ": expected GgufFormatException, got " + t, t);
            }
        }
        assertEquals(2000, opened + rejected);
        assertTrue(rejected > 100 && opened > 100, "opened " + opened + ", rejected " + rejected);
    }
}
