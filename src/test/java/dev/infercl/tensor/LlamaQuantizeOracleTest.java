package dev.infercl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.LlamaCpp;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.model.SyntheticModel;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
 * <p>The same run checks {@link Dequant#quantize}: for every type its bytes of the same F16 source rows must equal
 * llama-quantize's (which has no importance matrix here, so it runs ggml's quantize_row_*_ref / quantize_iq4_*
 * paths that Dequant follows), including the planted edge-case rows.
 */
class LlamaQuantizeOracleTest {

    /** Rows of 256 and 512 values (the K types' super-blocks fit), and a model of rows of 96 and 160 (multiples of 32 only). */
    static Path wide, narrow;

    @TempDir
    static Path dir;

    @BeforeAll
    static void models() throws Exception {
        LlamaCpp.tool("llama-quantize");
        LlamaCpp.shim();
        wide = dir.resolve("wide-f16.gguf");
        narrow = dir.resolve("narrow-f16.gguf");
        SyntheticModel.write(new SyntheticModel.Spec("wide", 256, 1, 4, 2, 512, 300, 64, GgmlType.F16, 7), wide, null);
        SyntheticModel.write(new SyntheticModel.Spec("narrow", 96, 1, 3, 1, 160, 300, 64, GgmlType.F16, 8), narrow, null);
        for (Path p : new Path[] {wide, narrow}) plantEdgeCases(p, "blk.0.attn_q.weight");
    }

    /**
     * Rows a Gaussian matrix lacks, written over the first rows of one tensor: all zeros, one constant, tiny values
     * (F16 subnormals), a few large outliers among small values, all negative, all positive, values on a coarse grid
     * (many exact ties for the rounding steps), large magnitudes, one nonzero value per 32, and blocks alternating
     * between zero and Gaussian.
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
            for (int r = 0; r < 10; r++) {
                byte[] row = new byte[(int) cols * 2];
                for (int i = 0; i < cols; i++) {
                    float g = (float) rnd.nextGaussian() * 0.02f;
                    float v = switch (r) {
                        case 0 -> 0f;
                        case 1 -> 0.0123f;
                        case 2 -> g * 1e-4f;
                        case 3 -> i % 37 == 5 ? (i % 2 == 0 ? 1.5f : -2f) : g;
                        case 4 -> -Math.abs(g) - 0.01f;
                        case 5 -> Math.abs(g) + 0.01f;
                        case 6 -> (rnd.nextInt(16) - 8) * 0.25f;
                        case 7 -> g * 3e4f;
                        case 8 -> i % 32 == 7 ? g * 50 : 0f;
                        default -> (i / 32) % 2 == 0 ? 0f : g;
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
        boolean kType = type.blockSize == 256;
        Path src = kType ? wide : narrow;
        String stem = type.name().toLowerCase(Locale.ROOT);
        Path quantized = dir.resolve(stem + ".gguf"), dequantized = dir.resolve(stem + "-f32.gguf");
        LlamaCpp.runOk("llama-quantize", 60, "--pure", src.toString(), quantized.toString(), type.name());
        LlamaCpp.runOk("llama-quantize", 60, "--allow-requantize", "--pure", quantized.toString(), dequantized.toString(), "F32");
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
     * Dequant.quantize of the tensor's F16 source values, row by row: the bytes must equal llama-quantize's. A
     * difference is reported with its row, block and byte within the block. Returns a one-line summary (with the
     * round-trip RMS error, for scale).
     */
    static String checkQuantizer(TensorInfo t, MemorySegment theirBytes, GgufFile in, float[] theirValues) {
        TensorInfo st = in.tensor(t.name()).orElseThrow();
        int n = theirValues.length, cols = Math.toIntExact(t.rowLength());
        float[] source = new float[n];
        Dequant.row(st.type(), in.data(st), 0, source, 0, n);
        byte[] mine = new byte[Math.toIntExact(t.byteSize())];
        int rowBytes = Math.toIntExact(t.type().byteSize(cols));
        for (int r = 0; r < n / cols; r++) System.arraycopy(Dequant.quantize(t.type(), source, r * cols, cols), 0, mine, r * rowBytes, rowBytes);
        long at = MemorySegment.ofArray(mine).mismatch(theirBytes.asSlice(0, mine.length));
        if (at != -1) {
            fail(t.type() + " " + t.name() + ": quantized byte " + at + " (row " + at / rowBytes + ", block " + at % rowBytes / t.type().typeSize
                    + ", byte " + at % t.type().typeSize + " of the block) differs from llama-quantize's");
        }
        return String.format(Locale.ROOT, "%s %s bytes equal (rms %.3g)", t.name(), t.type(), rms(theirValues, source));
    }

    static double rms(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
        return Math.sqrt(s / a.length);
    }
}
