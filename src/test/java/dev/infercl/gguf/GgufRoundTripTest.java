package dev.infercl.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.SharedData;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufRoundTripTest {

    @TempDir
    Path dir;

    private static byte[] randomBytes(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** A writer with one entry of every scalar type, arrays of every element type, and four tensors. */
    private record Fixture(GgufWriter writer, byte[] f32, byte[] f16, byte[] q80, byte[] streamed) {}

    private static Fixture fixture() {
        byte[] f32 = randomBytes(1, 3 * 2 * 4);        // F32 [3, 2]
        byte[] f16 = randomBytes(2, 5 * 2);            // F16 [5]
        byte[] q80 = randomBytes(3, 64 / 32 * 34 * 2); // Q8_0 [64, 2]: 4 blocks of 34 bytes
        byte[] streamed = randomBytes(4, 1000 * 4);    // F32 [1000], produced in uneven chunks
        var w = new GgufWriter()
                .alignment(64)
                .putString("general.architecture", "llama")
                .putString("unicode", "héllo ✓ 日本")
                .putUInt8("u8", 200)
                .putInt8("i8", -5)
                .putUInt16("u16", 60000)
                .putInt16("i16", -30000)
                .putUInt32("u32", 4_000_000_000L)
                .putInt32("i32", -123456)
                .putUInt64("u64", -1L)
                .putInt64("i64", Long.MIN_VALUE)
                .putFloat32("f32", 1.5f)
                .putFloat64("f64", Math.PI)
                .putBool("yes", true)
                .putBool("no", false)
                .putStringArray("tokens", new String[] {"<s>", "", "ü", "Ġ t"})
                .putFloat32Array("scores", new float[] {0f, -1.25f, Float.NaN})
                .putInt32Array("types", new int[] {1, -2, Integer.MAX_VALUE})
                .putArray("a.u8", GgufValueType.UINT8, new long[] {0, 255})
                .putArray("a.i8", GgufValueType.INT8, new long[] {-128, 127})
                .putArray("a.u16", GgufValueType.UINT16, new long[] {65535})
                .putArray("a.i16", GgufValueType.INT16, new long[] {-32768})
                .putArray("a.u32", GgufValueType.UINT32, new long[] {4294967295L})
                .putArray("a.u64", GgufValueType.UINT64, new long[] {-1L, 7})
                .putArray("a.i64", GgufValueType.INT64, new long[] {Long.MAX_VALUE})
                .putArray("a.f64", GgufValueType.FLOAT64, new double[] {1e300, -0.0})
                .putArray("a.bool", GgufValueType.BOOL, new boolean[] {true, false, true})
                .putArray("a.empty", GgufValueType.STRING, new String[0])
                .addTensor("t.f32", GgmlType.F32, new long[] {3, 2}, f32)
                .addTensor("t.f16", GgmlType.F16, new long[] {5}, f16)
                .addTensor("t.q8_0", GgmlType.Q8_0, new long[] {64, 2}, q80)
                .addTensor("t.streamed", GgmlType.F32, new long[] {10, 10, 5, 2}, sink -> {
                    for (int at = 0, chunk = 1; at < streamed.length; at += chunk, chunk = chunk * 2 + 1) {
                        sink.write(ByteBuffer.wrap(streamed, at, Math.min(chunk, streamed.length - at)));
                    }
                });
        return new Fixture(w, f32, f16, q80, streamed);
    }

    private static byte[] bytesOf(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void everyValueTypeAndTensorRoundTrips() throws IOException {
        var fx = fixture();
        Path p = dir.resolve("all.gguf");
        fx.writer().write(p);

        try (var g = GgufFile.open(p)) {
            assertEquals(3, g.version());
            assertEquals(64, g.alignment());
            assertEquals(0, g.dataOffset() % 64);
            assertEquals(Files.size(p), g.size());

            // Metadata in insertion order, with their declared types.
            List<String> keys = g.metadata().stream().map(GgufFile.MetadataEntry::key).toList();
            assertEquals(List.of("general.alignment", "general.architecture", "unicode", "u8", "i8", "u16", "i16", "u32",
                    "i32", "u64", "i64", "f32", "f64", "yes", "no", "tokens", "scores", "types", "a.u8", "a.i8", "a.u16",
                    "a.i16", "a.u32", "a.u64", "a.i64", "a.f64", "a.bool", "a.empty"), keys);
            Set<GgufValueType> seen = EnumSet.noneOf(GgufValueType.class);
            for (var e : g.metadata()) {
                seen.add(e.type());
                if (e.value() instanceof GgufFile.MetadataArray a) seen.add(a.elementType());
            }
            assertEquals(EnumSet.allOf(GgufValueType.class), seen, "every value type is exercised");

            assertEquals(GgufValueType.UINT32, g.metadata().getFirst().type());
            assertEquals("llama", g.getString("general.architecture"));
            assertEquals("héllo ✓ 日本", g.getString("unicode"));
            assertEquals(200L, g.get("u8").orElseThrow());
            assertEquals(-5L, g.get("i8").orElseThrow());
            assertEquals(60000L, g.get("u16").orElseThrow());
            assertEquals(-30000L, g.get("i16").orElseThrow());
            assertEquals(4_000_000_000L, g.get("u32").orElseThrow());
            assertEquals(-123456L, g.get("i32").orElseThrow());
            assertEquals(-1L, g.get("u64").orElseThrow(), "UINT64 keeps its bits");
            assertEquals(Long.MIN_VALUE, g.get("i64").orElseThrow());
            assertEquals(1.5f, g.get("f32").orElseThrow());
            assertEquals(Math.PI, g.get("f64").orElseThrow());
            assertEquals(true, g.get("yes").orElseThrow());
            assertEquals(false, g.get("no").orElseThrow());

            assertEquals(200, g.getInt("u8"));
            assertEquals(-123456, g.getInt("i32"));
            assertEquals(1.5f, g.getFloat("f32"));
            assertEquals((float) Math.PI, g.getFloat("f64"));
            assertEquals(200f, g.getFloat("u8"));
            assertTrue(g.getBoolean("yes", false));
            assertFalse(g.getBoolean("no", true));
            assertTrue(g.getBoolean("absent", true));
            assertEquals(7, g.getInt("absent", 7));
            assertEquals(2.5f, g.getFloat("absent", 2.5f));
            assertEquals("d", g.getString("absent", "d"));

            assertArrayEquals(new String[] {"<s>", "", "ü", "Ġ t"}, g.getStringArray("tokens"));
            assertArrayEquals(new float[] {0f, -1.25f, Float.NaN}, g.getFloatArray("scores"));
            assertArrayEquals(new int[] {1, -2, Integer.MAX_VALUE}, g.getIntArray("types"));
            assertArrayEquals(new int[] {0, 255}, g.getIntArray("a.u8"));
            assertArrayEquals(new int[] {-128, 127}, g.getIntArray("a.i8"));
            assertArrayEquals(new int[] {65535}, g.getIntArray("a.u16"));
            assertArrayEquals(new int[] {-32768}, g.getIntArray("a.i16"));
            assertArrayEquals(new long[] {4294967295L}, (long[]) array(g, "a.u32").values());
            assertArrayEquals(new long[] {-1L, 7}, (long[]) array(g, "a.u64").values());
            assertArrayEquals(new long[] {Long.MAX_VALUE}, (long[]) array(g, "a.i64").values());
            assertArrayEquals(new double[] {1e300, -0.0}, (double[]) array(g, "a.f64").values());
            assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, -0.0f}, g.getFloatArray("a.f64"));
            assertArrayEquals(new boolean[] {true, false, true}, (boolean[]) array(g, "a.bool").values());
            assertEquals(GgufValueType.BOOL, array(g, "a.bool").elementType());
            assertEquals(0, g.getStringArray("a.empty").length);

            // Tensors: infos in insertion order, offsets aligned, bytes identical.
            var ts = g.tensors();
            assertEquals(List.of("t.f32", "t.f16", "t.q8_0", "t.streamed"), ts.stream().map(TensorInfo::name).toList());
            assertTensor(g, "t.f32", GgmlType.F32, new long[] {3, 2}, fx.f32());
            assertTensor(g, "t.f16", GgmlType.F16, new long[] {5}, fx.f16());
            assertTensor(g, "t.q8_0", GgmlType.Q8_0, new long[] {64, 2}, fx.q80());
            assertTensor(g, "t.streamed", GgmlType.F32, new long[] {10, 10, 5, 2}, fx.streamed());
            assertEquals(0, ts.getFirst().offset());
            for (var t : ts) assertEquals(0, t.offset() % 64, t.name());
            assertTrue(g.tensor("nope").isEmpty());
            assertTrue(g.data(ts.getFirst()).isReadOnly());
        }
    }

    private static GgufFile.MetadataArray array(GgufFile g, String key) {
        return (GgufFile.MetadataArray) g.get(key).orElseThrow();
    }

    private static void assertTensor(GgufFile g, String name, GgmlType type, long[] dims, byte[] bytes) {
        TensorInfo t = g.tensor(name).orElseThrow();
        assertEquals(type, t.type(), name);
        assertArrayEquals(dims, t.dims(), name);
        assertEquals(bytes.length, t.byteSize(), name);
        assertArrayEquals(bytes, bytesOf(g.data(t)), name);
    }

    @Test
    void writerLayoutIsExactlyGgufV3() throws IOException {
        Path p = dir.resolve("layout.gguf");
        new GgufWriter().putUInt32("k", 5).addTensor("w", GgmlType.F32, new long[] {2}, new byte[8]).write(p);
        var b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x46554747, b.getInt(0));    // "GGUF"
        assertEquals(3, b.getInt(4));             // version
        assertEquals(1, b.getLong(8));            // tensor_count
        assertEquals(1, b.getLong(16));           // metadata_kv_count
        assertEquals(1, b.getLong(24));           // key length
        assertEquals('k', b.get(32));
        assertEquals(GgufValueType.UINT32.id, b.getInt(33));
        assertEquals(5, b.getInt(37));
        assertEquals(1, b.getLong(41));           // tensor name length
        assertEquals('w', b.get(49));
        assertEquals(1, b.getInt(50));            // n_dims
        assertEquals(2, b.getLong(54));           // ne0
        assertEquals(GgmlType.F32.id, b.getInt(62));
        assertEquals(0, b.getLong(66));           // offset
        // header ends at 74 -> data at 96; 8 bytes of data padded to 32
        assertEquals(96 + 32, b.capacity());
    }

    @Test
    void accessorErrorsNameKeyAndFile() throws IOException {
        Path p = dir.resolve("acc.gguf");
        new GgufWriter().putUInt32("big", 4_000_000_000L).putString("s", "x").putUInt64("u64", -1L)
                .putArray("au64", GgufValueType.UINT64, new long[] {-1L}).write(p);
        try (var g = GgufFile.open(p)) {
            var e = assertThrows(GgufFormatException.class, () -> g.getString("missing"));
            assertTrue(e.getMessage().contains("'missing'") && e.getMessage().contains("acc.gguf"), e.getMessage());
            assertEquals("missing", e.field());
            e = assertThrows(GgufFormatException.class, () -> g.getInt("big"));
            assertTrue(e.getMessage().contains("'big'") && e.getMessage().contains("offset"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> g.getInt("u64"));
            assertTrue(e.getMessage().contains("18446744073709551615"), e.getMessage());
            assertThrows(GgufFormatException.class, () -> g.getIntArray("au64"));
            e = assertThrows(GgufFormatException.class, () -> g.getInt("s"));
            assertTrue(e.getMessage().contains("acc.gguf: metadata key 's' is STRING"), e.getMessage());
            assertThrows(GgufFormatException.class, () -> g.getBoolean("s", true));
            assertThrows(GgufFormatException.class, () -> g.getStringArray("s"));
            assertThrows(GgufFormatException.class, () -> g.getFloatArray("s"));
            assertThrows(GgufFormatException.class, () -> g.getString("big"));
            assertThrows(GgufFormatException.class, () -> g.getFloat("s"));
        }
    }

    @Test
    void writerRejectsSourcesOfTheWrongSize() {
        Path p = dir.resolve("short.gguf");
        var w = new GgufWriter().addTensor("short.one", GgmlType.F32, new long[] {4}, sink -> sink.write(ByteBuffer.allocate(12)));
        var e = assertThrows(IOException.class, () -> w.write(p));
        assertTrue(e.getMessage().contains("'short.one'") && e.getMessage().contains("16"), e.getMessage());
        assertFalse(Files.exists(p), "no half-written file is left behind");
        assertThrows(IllegalArgumentException.class,
                () -> new GgufWriter().addTensor("x", GgmlType.F32, new long[] {4}, new byte[15]));
        assertThrows(IllegalArgumentException.class,
                () -> new GgufWriter().addTensor("x", GgmlType.Q8_0, new long[] {33}, new byte[34]));
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter().alignment(48));
    }

    @Test
    void closeIsIdempotent() throws IOException {
        Path p = dir.resolve("c.gguf");
        new GgufWriter().addTensor("w", GgmlType.F32, new long[] {2}, new byte[8]).write(p);
        var g = GgufFile.open(p);
        var seg = g.data(g.tensors().getFirst());
        g.close();
        g.close();
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void readsStories260K() throws IOException {
        try (var g = GgufFile.open(SharedData.require("models/stories260K-f32.gguf"))) {
            assertEquals(3, g.version());
            assertEquals("llama", g.getString("general.architecture"));
            assertEquals(64, g.getInt("llama.embedding_length"));
            assertEquals(5, g.getInt("llama.block_count"));
            assertEquals(8, g.getInt("llama.attention.head_count"));
            assertEquals(4, g.getInt("llama.attention.head_count_kv"));
            assertEquals(1e-5f, g.getFloat("llama.attention.layer_norm_rms_epsilon"), 1e-9f);
            assertEquals(512, g.getStringArray("tokenizer.ggml.tokens").length);
            assertEquals(512, g.getFloatArray("tokenizer.ggml.scores").length);
            assertEquals(512, g.getIntArray("tokenizer.ggml.token_type").length);
            assertEquals("<s>", g.getStringArray("tokenizer.ggml.tokens")[1]);
            TensorInfo emb = g.tensor("token_embd.weight").orElseThrow();
            assertArrayEquals(new long[] {64, 512}, emb.dims());
            assertEquals(GgmlType.F32, emb.type());
            assertEquals(64L * 512 * 4, g.data(emb).byteSize());
            assertEquals(48, g.tensors().size());
            for (var t : g.tensors()) assertEquals(GgmlType.F32, t.type(), t.name());
        }
    }

    @Test
    void readsQ4_0Model() throws IOException {
        try (var g = GgufFile.open(SharedData.require("quant/llama2-q4_0.gguf"))) {
            assertEquals("llama", g.getString("general.architecture"));
            assertEquals(128, g.getInt("llama.embedding_length"));
            assertEquals(32000, g.getStringArray("tokenizer.ggml.tokens").length);
            assertTrue(g.getBoolean("tokenizer.ggml.add_bos_token", false));
            Set<GgmlType> types = EnumSet.noneOf(GgmlType.class);
            for (var t : g.tensors()) types.add(t.type());
            assertEquals(EnumSet.of(GgmlType.Q4_0, GgmlType.F32), types);
            TensorInfo out = g.tensor("output.weight").orElseThrow();
            assertEquals(GgmlType.Q4_0, out.type());
            assertArrayEquals(new long[] {128, 32000}, out.dims());
            assertEquals(128 / 32 * 18L * 32000, out.byteSize());
        }
    }

    @Test
    void readsVocabOnlyFile() throws IOException {
        try (var g = GgufFile.open(SharedData.require("vocab/ggml-vocab-gpt-2.gguf"))) {
            assertEquals("gpt2", g.getString("tokenizer.ggml.model"));
            assertEquals(50257, g.getStringArray("tokenizer.ggml.tokens").length);
            assertEquals(50000, g.getStringArray("tokenizer.ggml.merges").length);
            assertEquals("Ġ t", g.getStringArray("tokenizer.ggml.merges")[0]);
            assertEquals(50256, g.getInt("tokenizer.ggml.bos_token_id"));
            assertTrue(g.tensors().isEmpty());
        }
    }
}
