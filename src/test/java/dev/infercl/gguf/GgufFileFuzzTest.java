package dev.infercl.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.infercl.FuzzSupport;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * GgufFile on arbitrary bytes: a file either opens, and then every accessor and every tensor view works or fails
 * with {@link GgufFormatException}, or it fails to open with a {@link GgufFormatException} naming the file. Nothing
 * else may escape (no index, arithmetic, allocation or null errors), and no input may take long.
 *
 * <p>Seeds (src/test/resources/dev/infercl/gguf/GgufFileFuzzTestInputs/openArbitraryBytes): small valid files of
 * every value type, versions 2 and 3, with and without general.alignment, written by {@link #seeds()}, and the
 * fuzzer's own finds. {@code mvn test} runs only these; {@code JAZZER_FUZZ=1} (.ci/fuzz) mutates them.
 */
class GgufFileFuzzTest {

    private static final AtomicLong COUNTER = new AtomicLong();

    @FuzzTest
    void openArbitraryBytes(byte[] data) {
        FuzzSupport.bounded(() -> openAndWalk(data));
    }

    /** Opens the bytes as a file and touches everything a valid file offers. */
    static void openAndWalk(byte[] data) throws IOException {
        // a fresh name per input: a mapping of an earlier input may still be alive in a stuck worker
        Path p = FuzzSupport.scratch().resolve("input-" + COUNTER.incrementAndGet() + ".gguf");
        Files.write(p, data);
        try {
            GgufFile f;
            try {
                f = GgufFile.open(p);
            } catch (GgufFormatException e) {
                assertNamed(e, p);
                return;
            }
            try (f) {
                walk(f);
            }
        } finally {
            Files.deleteIfExists(p);
        }
    }

    private static void walk(GgufFile f) {
        assertTrue(f.version() == 2 || f.version() == 3, "version " + f.version());
        assertTrue(f.alignment() > 0 && Long.bitCount(f.alignment()) == 1, "alignment " + f.alignment());
        assertTrue(f.dataOffset() % f.alignment() == 0, "data offset " + f.dataOffset());
        for (GgufFile.MetadataEntry e : f.metadata()) {
            String key = e.key();
            assertEquals(e.value(), f.get(key).orElseThrow());
            // each accessor returns a value or a typed error naming the key, whatever the entry's type
            accessor(f, key, () -> f.getString(key));
            accessor(f, key, () -> f.getInt(key));
            accessor(f, key, () -> f.getFloat(key));
            accessor(f, key, () -> f.getBoolean(key, false));
            accessor(f, key, () -> f.getStringArray(key));
            accessor(f, key, () -> f.getFloatArray(key));
            accessor(f, key, () -> f.getIntArray(key));
        }
        for (TensorInfo t : f.tensors()) {
            assertEquals(t, f.tensor(t.name()).orElseThrow());
            var data = f.data(t); // placement was validated at open: every view lies inside the file
            assertEquals(t.byteSize(), data.byteSize());
            if (data.byteSize() > 0) {
                data.get(ValueLayout.JAVA_BYTE, 0);
                data.get(ValueLayout.JAVA_BYTE, data.byteSize() - 1);
            }
        }
    }

    private interface Access {
        Object get() throws GgufFormatException;
    }

    private static void accessor(GgufFile f, String key, Access a) {
        try {
            a.get();
        } catch (GgufFormatException e) {
            assertEquals(key, e.field(), e.getMessage());
            assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
        }
    }

    private static void assertNamed(GgufFormatException e, Path p) {
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().startsWith(p.getFileName() + ": "), e.getMessage());
        assertNotNull(e.field(), e.getMessage());
    }

    // ---- the seed corpus ------------------------------------------------------------------------------------

    /** The committed seeds that are valid files must open (so mutating them starts from deep inside the parser). */
    @Test
    void validSeedsOpen() throws IOException {
        Path dir = Path.of("src/test/resources/dev/infercl/gguf/GgufFileFuzzTestInputs/openArbitraryBytes");
        try (Stream<Path> files = Files.list(dir)) {
            var valid = files.filter(p -> p.getFileName().toString().startsWith("valid-")).sorted().toList();
            assertTrue(valid.size() >= 4, "seeds in " + dir);
            for (Path p : valid) {
                try (GgufFile f = GgufFile.open(p)) {
                    walk(f);
                }
            }
        }
    }

    /**
     * Writes the hand-made seeds into the folder named by {@code -Dinfercl.fuzz.writeSeeds=DIR} (how the committed
     * ones were made); does nothing otherwise.
     */
    @Test
    void writeSeeds() throws IOException {
        String dir = System.getProperty("infercl.fuzz.writeSeeds");
        if (dir == null) return;
        Path out = Path.of(dir);
        Files.createDirectories(out);
        for (var seed : seeds().entrySet()) {
            seed.getValue().write(out.resolve(seed.getKey()));
        }
        // version 2: the same layout as 3 (64-bit counts), only the version field differs
        byte[] v2 = Files.readAllBytes(out.resolve("valid-arrays"));
        v2[4] = 2;
        Files.write(out.resolve("valid-v2"), v2);
    }

    static java.util.Map<String, GgufWriter> seeds() {
        var seeds = new java.util.LinkedHashMap<String, GgufWriter>();
        seeds.put("valid-empty", new GgufWriter());
        var scalars = new GgufWriter()
                .putUInt8("u8", 200).putInt8("i8", -3).putUInt16("u16", 65000).putInt16("i16", -300)
                .putUInt32("u32", 4_000_000_000L).putInt32("i32", -7).putUInt64("u64", -1L).putInt64("i64", Long.MIN_VALUE)
                .putFloat32("f32", 1.5f).putFloat64("f64", -2.25).putBool("b", true).putString("s", "héllo ▁ 🦙")
                .putString("general.architecture", "llama");
        seeds.put("valid-scalars", scalars);
        var arrays = new GgufWriter()
                .putStringArray("tokenizer.ggml.tokens", new String[] {"<unk>", "<s>", "</s>", "▁a", "b"})
                .putFloat32Array("tokenizer.ggml.scores", new float[] {0, 0, 0, -1, -2})
                .putInt32Array("tokenizer.ggml.token_type", new int[] {2, 3, 3, 1, 1})
                .putArray("u64s", GgufValueType.UINT64, new long[] {1, -1})
                .putArray("f64s", GgufValueType.FLOAT64, new double[] {0.5, Double.NaN})
                .putArray("bools", GgufValueType.BOOL, new boolean[] {true, false})
                .putArray("u8s", GgufValueType.UINT8, new long[] {0, 255})
                .putArray("empty", GgufValueType.STRING, new String[0]);
        seeds.put("valid-arrays", arrays);
        var tensors = new GgufWriter().alignment(64)
                .putString("general.name", "t")
                .addTensor("a", GgmlType.F32, new long[] {4, 2}, new byte[32])
                .addTensor("b", GgmlType.F16, new long[] {8}, new byte[16])
                .addTensor("c", GgmlType.Q8_0, new long[] {32, 1, 1, 1}, new byte[34])
                .addTensor("d", GgmlType.Q4_K, new long[] {256}, new byte[144]);
        seeds.put("valid-tensors", tensors);
        var aligned8 = new GgufWriter()
                .putUInt32("general.alignment", 8)
                .putString("k", "v")
                .addTensor("x", GgmlType.I8, new long[] {3}, new byte[3]);
        seeds.put("valid-alignment8", aligned8);
        return seeds;
    }
}
