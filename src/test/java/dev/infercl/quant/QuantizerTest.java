package dev.infercl.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.BackendKind;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.backend.cpu.CpuBackend;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The INT8 file format the quantizer writes (docs/QUANT-FORMAT.md), calibration, SmoothQuant algebra and the refusals. */
class QuantizerTest {

    @TempDir static Path tmp;
    static Calibration calibration;

    @BeforeAll
    static void calibrate() throws Exception {
        var backend = new CalibratingBackend(new CpuBackend(CpuBackend.Mode.FAST, 2));
        try (Model m = Model.load(QuantTestModels.f32(), LoadOptions.defaults(), backend)) {
            calibration = Calibration.run(m, backend, QuantTestModels.sampledWindows(1, 4, 100), null);
        }
    }

    static float[] floats(GgufFile f, String name) {
        TensorInfo t = f.tensor(name).orElseThrow(() -> new AssertionError("missing " + name));
        float[] v = new float[(int) t.elementCount()];
        Dequant.row(t.type(), f.data(t), 0, v, 0, v.length);
        return v;
    }

    @Test
    void calibrationRecordsEveryLinearInputPerColumn() {
        var m = calibration.inputAbsMax();
        for (int l = 0; l < 5; l++) {
            for (String w : List.of("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")) {
                assertTrue(m.containsKey("blk." + l + "." + w + ".weight"), w);
            }
            // Q, K and V read the same normalised input
            assertArrayEquals(m.get("blk." + l + ".attn_q.weight"), m.get("blk." + l + ".attn_v.weight"));
            assertEquals(172, m.get("blk." + l + ".ffn_down.weight").length);
        }
        assertEquals(64, m.get("output.weight").length);
        for (float[] v : m.values()) for (float x : v) assertTrue(x > 0 && Float.isFinite(x));
        assertTrue(calibration.tokens() > 100);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 32, 64})
    void w8a16LayoutScalesAndHalfStepRoundTrip(int group) throws Exception {
        Path out = tmp.resolve("w8a16-" + group + ".gguf");
        Path src = QuantTestModels.f32();
        // ffn_down's 172 columns are divisible by none of 32/64/128: per-channel only for this model's ffn_down
        if (group != 0) {
            var e = assertThrows(QuantizeException.class, () -> Quantizer.quantize(src, out, Quantizer.Options.of(Scheme.W8A16).withGroupSize(group), null));
            assertEquals("--group " + group + " does not divide the input width 172 of 'blk.0.ffn_down.weight'", e.getMessage());
            assertFalse(Files.exists(out));
            return;
        }
        var r = Quantizer.quantize(src, out, Quantizer.Options.of(Scheme.W8A16), null);
        assertEquals(5 * 7 + 1, r.quantized());
        try (GgufFile q = GgufFile.open(out); GgufFile s = GgufFile.open(src)) {
            assertEquals("w8a16", q.getString(Quantizer.KEY_SCHEME));
            assertEquals(0, q.getInt(Quantizer.KEY_GROUP));
            assertEquals("stories260K-f32.gguf", q.getString(Quantizer.KEY_SOURCE));
            assertEquals(s.getInt("llama.block_count"), q.getInt("llama.block_count"));
            assertEquals(GgmlType.F32, q.tensor("token_embd.weight").orElseThrow().type(), "the embedding keeps its type");
            for (TensorInfo t : s.tensors()) {
                boolean linear = t.nDims() == 2 && !t.name().equals("token_embd.weight");
                TensorInfo qt = q.tensor(t.name()).orElseThrow();
                if (!linear) {
                    assertEquals(t.type(), qt.type(), t.name());
                    assertEquals(-1, q.data(qt).mismatch(s.data(t)), "copied unchanged: " + t.name());
                    continue;
                }
                assertEquals(GgmlType.I8, qt.type(), t.name());
                assertArrayEquals(t.dims(), qt.dims(), t.name());
                TensorInfo st = q.tensor(t.name() + "_scale").orElseThrow();
                assertArrayEquals(new long[] {1, t.dim(1)}, st.dims());
                assertTrue(q.tensor(t.name() + "_smooth").isEmpty());
                float[] w = floats(s, t.name()), scale = floats(q, t.name() + "_scale");
                int in = (int) t.dim(0);
                for (int o = 0; o < t.dim(1); o++) {
                    float amax = 0;
                    for (int j = 0; j < in; j++) amax = Math.max(amax, Math.abs(w[o * in + j]));
                    assertEquals(amax / 127f, scale[o], 0f, t.name() + " row " + o);
                    for (int j = 0; j < in; j++) {
                        int qv = q.data(qt).get(ValueLayout.JAVA_BYTE, (long) o * in + j);
                        assertTrue(qv >= -127 && qv <= 127);
                        assertTrue(Math.abs(qv * scale[o] - w[o * in + j]) <= 0.5f * scale[o] * 1.0001f, t.name());
                    }
                }
            }
        }
    }

    @Test
    void w8a16GroupsOnAModelWhoseWidthsAllowThem() throws Exception {
        Path out = tmp.resolve("llama2-w8a16-g32.gguf");
        Path src = dev.infercl.SharedData.require("quant/llama2.gguf");
        Quantizer.quantize(src, out, Quantizer.Options.of(Scheme.W8A16).withGroupSize(32), null);
        try (GgufFile q = GgufFile.open(out); GgufFile s = GgufFile.open(src)) {
            assertEquals(32, q.getInt(Quantizer.KEY_GROUP));
            TensorInfo st = q.tensor("blk.0.ffn_down.weight_scale").orElseThrow();
            assertArrayEquals(new long[] {384 / 32, 128}, st.dims());
            float[] w = floats(s, "blk.0.ffn_down.weight"), scale = floats(q, "blk.0.ffn_down.weight_scale");
            TensorInfo qt = q.tensor("blk.0.ffn_down.weight").orElseThrow();
            for (int o = 0; o < 128; o++) {
                for (int j = 0; j < 384; j++) {
                    float sc = scale[o * 12 + j / 32];
                    int qv = q.data(qt).get(ValueLayout.JAVA_BYTE, (long) o * 384 + j);
                    assertTrue(Math.abs(qv * sc - w[o * 384 + j]) <= 0.5f * sc * 1.0001f);
                }
            }
        }
    }

    /** Folded and explicit smoothing leave the float function unchanged: norm'·s = norm, W'[:, j]/s_j ≈ W within a step. */
    @Test
    void w8a8SmoothingFollowsTheContract() throws Exception {
        Path out = tmp.resolve("w8a8.gguf");
        Path src = QuantTestModels.f32();
        Quantizer.quantize(src, out, Quantizer.Options.of(Scheme.W8A8).withCalibration(calibration), null);
        try (GgufFile q = GgufFile.open(out); GgufFile s = GgufFile.open(src)) {
            assertEquals("w8a8", q.getString(Quantizer.KEY_SCHEME));
            assertEquals(0.5f, q.getFloat(Quantizer.KEY_ALPHA));
            for (int l = 0; l < 5; l++) {
                String p = "blk." + l + ".";
                for (String w : List.of("attn_q", "attn_k", "attn_v", "ffn_gate", "ffn_up")) assertTrue(q.tensor(p + w + ".weight_smooth").isEmpty(), w);
                for (String[] g : new String[][] {{"attn_norm", "attn_q", "attn_k", "attn_v"}, {"ffn_norm", "ffn_gate", "ffn_up"}}) {
                    float[] norm = floats(s, p + g[0] + ".weight"), folded = floats(q, p + g[0] + ".weight");
                    float[] sv = new float[norm.length];
                    float[] xMax = new float[norm.length], wMax = new float[norm.length];
                    for (int i = 1; i < g.length; i++) {
                        float[] a = calibration.absMax(p + g[i] + ".weight");
                        float[] w = floats(s, p + g[i] + ".weight");
                        for (int j = 0; j < norm.length; j++) {
                            xMax[j] = Math.max(xMax[j], a[j]);
                            for (int o = 0; o < w.length / norm.length; o++) wMax[j] = Math.max(wMax[j], Math.abs(w[o * norm.length + j]));
                        }
                    }
                    for (int j = 0; j < norm.length; j++) {
                        sv[j] = (float) (Math.sqrt(xMax[j]) / Math.sqrt(wMax[j]));
                        assertEquals(norm[j], folded[j] * sv[j], 1e-5 * Math.abs(norm[j]), g[0] + " " + j);
                    }
                    for (int i = 1; i < g.length; i++) assertSmoothedWeight(q, s, p + g[i] + ".weight", sv);
                }
                for (String w : List.of("attn_output", "ffn_down")) {
                    float[] smooth = floats(q, p + w + ".weight_smooth");
                    assertArrayEquals(new long[] {smooth.length}, q.tensor(p + w + ".weight_smooth").orElseThrow().dims());
                    assertSmoothedWeight(q, s, p + w + ".weight", smooth);
                }
            }
            assertTrue(q.tensor("output.weight_smooth").isEmpty());
            assertEquals(GgmlType.I8, q.tensor("output.weight").orElseThrow().type());
        }
    }

    private static void assertSmoothedWeight(GgufFile q, GgufFile s, String name, float[] smooth) {
        float[] w = floats(s, name), scale = floats(q, name + "_scale");
        TensorInfo qt = q.tensor(name).orElseThrow();
        int in = (int) qt.dim(0);
        for (int o = 0; o < qt.dim(1); o++) {
            for (int j = 0; j < in; j++) {
                int qv = q.data(qt).get(ValueLayout.JAVA_BYTE, (long) o * in + j);
                // the stored weight is W·s quantized: within half a step of it
                assertTrue(Math.abs(qv * scale[o] - w[o * in + j] * smooth[j]) <= 0.5f * scale[o] * 1.001f + 1e-7f, name + " " + o + "," + j);
            }
        }
    }

    @Test
    void naiveW8a8HasNoSmoothingAndNeedsNoCalibration() throws Exception {
        Path out = tmp.resolve("w8a8-naive.gguf");
        Quantizer.quantize(QuantTestModels.f32(), out, Quantizer.Options.of(Scheme.W8A8).withSmooth(false), null);
        try (GgufFile q = GgufFile.open(out); GgufFile s = GgufFile.open(QuantTestModels.f32())) {
            assertFalse(q.getBoolean(Quantizer.KEY_SMOOTHING, true));
            assertFalse(q.has(Quantizer.KEY_ALPHA));
            assertTrue(q.tensors().stream().noneMatch(t -> t.name().endsWith("_smooth")));
            assertArrayEquals(floats(s, "blk.0.attn_norm.weight"), floats(q, "blk.0.attn_norm.weight"));
        }
    }

    @Test
    void smoothingFactorsGuardZerosAndClamp() {
        float[] s = Quantizer.smoothingFactors(new float[] {4, 0, 1e12f, 1e-12f, 9}, new float[] {1, 3, 1e-12f, 1e12f, 0}, 0.5f);
        assertArrayEquals(new float[] {2, 1, 1e5f, 1e-5f, 1}, s);
        assertArrayEquals(new float[] {1f / 3}, Quantizer.smoothingFactors(new float[] {5}, new float[] {3}, 0f), 1e-7f);
    }

    @Test
    void refusesBadOptionsWithOneLineReasons() {
        Path src = QuantTestModels.f32();
        assertEquals("w8a8 needs calibration text (--calibration FILE) to compute SmoothQuant factors; --no-smooth writes naive W8A8 without it",
                assertThrows(QuantizeException.class, () -> Quantizer.quantize(src, tmp.resolve("n.gguf"), Quantizer.Options.of(Scheme.W8A8), null)).getMessage());
        assertEquals("--alpha must be in [0, 1], got 1.5",
                assertThrows(QuantizeException.class, () -> new Quantizer.Options(Scheme.W8A8, 0, 1.5f, false, false, null)).getMessage());
        assertTrue(assertThrows(QuantizeException.class, () -> Quantizer.Options.of(Scheme.W8A16).withGroupSize(48)).getMessage().startsWith("--group must be 32, 64 or 128"));
        assertTrue(assertThrows(QuantizeException.class, () -> Quantizer.Options.of(Scheme.Q8_0).withGroupSize(32)).getMessage().startsWith("--group applies to w8a16 only"));
        assertEquals("the output " + src + " is the input file; write to another path",
                assertThrows(QuantizeException.class, () -> Quantizer.quantize(src, src, Quantizer.Options.of(Scheme.F16), null)).getMessage());
        assertTrue(assertThrows(QuantizeException.class, () -> Scheme.parse("int4")).getMessage().startsWith("unknown scheme 'int4'"));
    }

    @Test
    void refusesToRequantizeUnlessAllowed() throws Exception {
        Path q8 = dev.infercl.SharedData.require("quant/llama2-q8_0.gguf");
        var e = assertThrows(QuantizeException.class, () -> Quantizer.quantize(q8, tmp.resolve("x.gguf"), Quantizer.Options.of(Scheme.Q4_0), null));
        assertTrue(e.getMessage().contains("already quantized (tensor 'output.weight' is Q8_0)") && e.getMessage().contains("--allow-requantize"), e.getMessage());
        Quantizer.quantize(q8, tmp.resolve("x.gguf"), Quantizer.Options.of(Scheme.Q4_0).withAllowRequantize(true), null);

        Path w8 = tmp.resolve("w8.gguf");
        Quantizer.quantize(QuantTestModels.f32(), w8, Quantizer.Options.of(Scheme.W8A8).withSmooth(false), null);
        e = assertThrows(QuantizeException.class, () -> Quantizer.quantize(w8, tmp.resolve("y.gguf"), Quantizer.Options.of(Scheme.W8A16), null));
        assertTrue(e.getMessage().contains("infercl.quant.scheme = w8a8"), e.getMessage());
        // allowed: the I8 weights are read back (q·scale) and re-quantized; companions are regenerated, not copied
        Path again = tmp.resolve("again.gguf");
        Quantizer.quantize(w8, again, Quantizer.Options.of(Scheme.W8A16).withAllowRequantize(true), null);
        try (GgufFile a = GgufFile.open(again)) {
            assertEquals("w8a16", a.getString(Quantizer.KEY_SCHEME));
            assertEquals(1, a.tensors().stream().filter(t -> t.name().equals("blk.0.attn_q.weight_scale")).count());
            assertNull(a.tensor("blk.0.attn_output.weight_smooth").orElse(null));
        }
    }
}
