package dev.infercl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.SharedData;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.model.SyntheticModel;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every block type's dequantizer against llama.cpp's own: llama-quantize (../shared/anchors/llama.cpp) quantizes a
 * small F16 model to the type ({@code --pure}: every matrix), then writes that file back out as F32
 * ({@code --allow-requantize}), which is ggml's dequantize_row_* of every tensor. {@link Dequant#row} of each
 * quantized tensor must equal llama.cpp's F32 bit for bit, whatever type llama-quantize chose for it (it falls back
 * to another type for rows that are not a multiple of 256).
 *
 * <p>The same run checks {@link Dequant#quantize}: where it follows ggml's reference quantizer (Q8_0, Q4_0, Q4_1,
 * Q5_0, Q5_1) its bytes must equal llama-quantize's; for the others (round-to-nearest, no search) its round-trip
 * error on the same F16 values must stay within twice llama.cpp's (which searches for the scales).
 */
class LlamaQuantizeOracleTest {

    /** Rows of 256 and 512 values (the K types' super-blocks fit), and a model of rows of 96 and 160 (multiples of 32 only). */
    static Path wide, narrow;

    /** The types whose quantizer is ggml's reference one, byte for byte. */
    static final Set<GgmlType> EXACT_QUANTIZER = EnumSet.of(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1);

    @TempDir
    static Path dir;

    /** A preloaded library that registers ggml's CPU backend before llama-quantize's main runs (see {@link #shim}). */
    static Path shim;

    static Path llamaQuantize() {
        return SharedData.require("anchors/llama.cpp/llama-quantize");
    }

    /**
     * The llama.cpp build in ../shared loads its CPU backend as a plugin (one libggml-cpu-*.so per instruction set),
     * which llama-quantize never asks for: without a registered CPU device it crashes (SIGSEGV in
     * ggml_backend_dev_backend_reg, from the loader's mmap set-up) before reading a tensor. A library preloaded
     * with LD_PRELOAD calls ggml_backend_load_all() from its constructor, as llama-cli does at start; compiled here
     * with the system C compiler, and the test skips where there is none.
     */
    static Path shim() throws Exception {
        Path src = dir.resolve("load_backends.c"), lib = dir.resolve("load_backends.so");
        Files.writeString(src, """
                #include <dlfcn.h>
                __attribute__((constructor)) static void load_backends(void) {
                    void (*load_all)(void) = (void (*)(void)) dlsym(RTLD_DEFAULT, "ggml_backend_load_all");
                    if (load_all) load_all();
                }
                """);
        Process p;
        try {
            p = new ProcessBuilder("cc", "-shared", "-fPIC", "-O1", "-o", lib.toString(), src.toString(), "-ldl")
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.assumeTrue(false, "skipped: no C compiler (cc) to build the backend-loading shim llama-quantize needs: " + e.getMessage());
            return null;
        }
        String out = new String(p.getInputStream().readAllBytes());
        Assumptions.assumeTrue(p.waitFor() == 0, () -> "skipped: cc could not build the backend-loading shim: " + out);
        return lib;
    }

    @BeforeAll
    static void models() throws Exception {
        llamaQuantize();
        shim = shim();
        wide = dir.resolve("wide-f16.gguf");
        narrow = dir.resolve("narrow-f16.gguf");
        SyntheticModel.write(new SyntheticModel.Spec("wide", 256, 1, 4, 2, 512, 300, 64, GgmlType.F16, 7), wide, null);
        SyntheticModel.write(new SyntheticModel.Spec("narrow", 96, 1, 3, 1, 160, 300, 64, GgmlType.F16, 8), narrow, null);
        for (Path p : new Path[] {wide, narrow}) plantEdgeCases(p, "blk.0.attn_q.weight");
    }

    /**
     * Rows a Gaussian matrix lacks, written over the first rows of one tensor: all zeros, one constant, tiny values
     * (F16 subnormals), a few large outliers among small values, all negative, and all positive.
     */
    static void plantEdgeCases(Path file, String tensor) throws IOException {
        long offset, cols;
        try (GgufFile f = GgufFile.open(file)) {
            TensorInfo t = f.tensor(tensor).orElseThrow();
            offset = f.dataOffset() + t.offset();
            cols = t.rowLength();
        }
        var rnd = new java.util.Random(3);
        try (var raf = new RandomAccessFile(file.toFile(), "rw")) {
            for (int r = 0; r < 6; r++) {
                byte[] row = new byte[(int) cols * 2];
                for (int i = 0; i < cols; i++) {
                    float g = (float) rnd.nextGaussian() * 0.02f;
                    float v = switch (r) {
                        case 0 -> 0f;
                        case 1 -> 0.0123f;
                        case 2 -> g * 1e-4f;
                        case 3 -> i % 37 == 5 ? (i % 2 == 0 ? 1.5f : -2f) : g;
                        case 4 -> -Math.abs(g) - 0.01f;
                        default -> Math.abs(g) + 0.01f;
                    };
                    short h = Float.floatToFloat16(v);
                    row[2 * i] = (byte) h;
                    row[2 * i + 1] = (byte) (h >> 8);
                }
                raf.seek(offset + r * cols * 2);
                raf.write(row);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
    void dequantizeEqualsLlamaCpp(GgmlType type) throws Exception {
        Path tool = llamaQuantize();
        boolean kType = type.blockSize == 256;
        Path src = kType ? wide : narrow;
        String stem = type.name().toLowerCase(Locale.ROOT);
        Path quantized = dir.resolve(stem + ".gguf"), dequantized = dir.resolve(stem + "-f32.gguf");
        run(tool, "--pure", src.toString(), quantized.toString(), type.name());
        run(tool, "--allow-requantize", "--pure", quantized.toString(), dequantized.toString(), "F32");
        List<String> report = new ArrayList<>();
        int checked = 0;
        try (GgufFile q = GgufFile.open(quantized); GgufFile f = GgufFile.open(dequantized); GgufFile in = GgufFile.open(src)) {
            for (TensorInfo t : q.tensors()) {
                if (t.type().blockSize == 1) continue;
                checked++;
                int n = Math.toIntExact(t.elementCount()), cols = Math.toIntExact(t.rowLength());
                float[] mine = new float[n];
                Dequant.row(t.type(), q.data(t), 0, mine, 0, n);
                TensorInfo ft = f.tensor(t.name()).orElseThrow();
                assertEquals(GgmlType.F32, ft.type(), t.name() + " in the F32 file");
                MemorySegment theirs = f.data(ft);
                for (int i = 0; i < n; i++) {
                    float want = theirs.get(Dequant.F32, 4L * i);
                    if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(mine[i])) {
                        fail(t.type() + " " + t.name() + " value " + i + " (row " + i / cols + ", column " + i % cols + "): "
                                + mine[i] + " vs llama.cpp " + want);
                    }
                }
                report.add(checkQuantizer(t, q.data(t), in, mine));
            }
        }
        assertTrue(checked > 0, "no quantized tensor in " + quantized);
        System.out.println(type + ": " + checked + " tensors equal llama.cpp's dequantization bit for bit; " + String.join("; ", report));
    }

    /**
     * Dequant.quantize of the tensor's F16 source values: for the reference-quantizer types the same bytes as
     * llama-quantize's, for the others a round-trip RMS error within 2× llama.cpp's on the same values (plain
     * rounding comes closest on Gaussian rows and loses most on rows with outliers, where the sub-block scales of
     * the K types must span very different ranges).
     * Returns a one-line summary.
     */
    static String checkQuantizer(TensorInfo t, MemorySegment theirBytes, GgufFile in, float[] theirValues) {
        TensorInfo st = in.tensor(t.name()).orElseThrow();
        int n = theirValues.length, cols = Math.toIntExact(t.rowLength());
        float[] source = new float[n];
        Dequant.row(st.type(), in.data(st), 0, source, 0, n);
        byte[] mine = new byte[Math.toIntExact(t.byteSize())];
        int rowBytes = Math.toIntExact(t.type().byteSize(cols));
        for (int r = 0; r < n / cols; r++) System.arraycopy(Dequant.quantize(t.type(), source, r * cols, cols), 0, mine, r * rowBytes, rowBytes);
        if (EXACT_QUANTIZER.contains(t.type())) {
            for (int i = 0; i < mine.length; i++) {
                if (mine[i] != theirBytes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i)) {
                    fail(t.type() + " " + t.name() + ": quantized byte " + i + " (row " + i / rowBytes + ") differs from llama-quantize's");
                }
            }
            return t.name() + " " + t.type() + " bytes equal";
        }
        float[] back = new float[n];
        Dequant.row(t.type(), MemorySegment.ofArray(mine), 0, back, 0, n);
        double ours = rms(back, source), theirs = rms(theirValues, source);
        assertTrue(ours <= 2 * theirs, t.type() + " " + t.name() + ": round-trip RMS error " + ours + " vs llama.cpp's " + theirs);
        return String.format(Locale.ROOT, "%s %s rms %.3g (llama.cpp %.3g)", t.name(), t.type(), ours, theirs);
    }

    static double rms(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
        return Math.sqrt(s / a.length);
    }

    static void run(Path tool, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(tool.toString()));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(dir, "llama-quantize", ".log");
        var pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("LD_LIBRARY_PATH", tool.getParent().toString());
        pb.environment().put("LD_PRELOAD", shim.toString());
        Process p = pb.start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", cmd) + " did not finish in 60 s");
        }
        if (p.exitValue() != 0) fail(String.join(" ", cmd) + " exited with " + p.exitValue() + ":\n" + Files.readString(log));
    }
}
