package dev.infercl.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.api.BackendKind;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Q8_0, Q4_0 and F16 outputs of {@code Quantizer}: for ../shared/quant/llama2.gguf (F16) every tensor must equal
 * the one {@code llama-quantize --pure} wrote, byte for byte; an independent decoder (written here from the GGML
 * block definitions) checks the layout and the half-step round-trip bound; the file loads and reproduces
 * llama.cpp's greedy ids.
 */
class GgmlSchemesTest {

    @TempDir Path tmp;

    @ParameterizedTest(name = "{0}")
    @CsvSource({"q8_0, llama2-q8_0, 7", "q4_0, llama2-q4_0, 2"})
    void tensorsEqualLlamaQuantizeByteForByte(String scheme, String stem, int fileType) throws Exception {
        Path src = SharedData.require("quant/llama2.gguf");
        Path want = SharedData.require("quant/" + stem + ".gguf");
        Path out = tmp.resolve(stem + ".gguf");
        int[] calls = {0};
        var r = Quantizer.quantize(src, out, Quantizer.Options.of(Scheme.parse(scheme)), (d, n, name) -> calls[0]++);
        assertTrue(r.notes().isEmpty(), r.notes().toString());
        try (GgufFile a = GgufFile.open(out); GgufFile b = GgufFile.open(want); GgufFile s = GgufFile.open(src)) {
            assertEquals(a.tensors().size(), calls[0], "one progress call per tensor");
            assertEquals(b.tensors().size(), a.tensors().size());
            assertEquals(fileType, a.getInt("general.file_type"));
            assertEquals(2, a.getInt("general.quantization_version"));
            assertEquals(s.getString("general.name"), a.getString("general.name"));
            int differing = 0;
            for (TensorInfo t : b.tensors()) {
                TensorInfo mine = a.tensor(t.name()).orElseThrow(() -> new AssertionError("missing " + t.name()));
                assertEquals(t.type(), mine.type(), t.name());
                assertArrayEquals(t.dims(), mine.dims(), t.name());
                if (a.data(mine).mismatch(b.data(t)) != -1) differing++;
            }
            assertEquals(0, differing, "tensors whose bytes differ from llama-quantize's");
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"q8_0, llama2-q8_0", "q4_0, llama2-q4_0"})
    void outputLoadsAndReproducesLlamaCppGreedyIds(String scheme, String stem) throws Exception {
        Path out = tmp.resolve(stem + ".gguf");
        Quantizer.quantize(SharedData.require("quant/llama2.gguf"), out, Quantizer.Options.of(Scheme.parse(scheme)), null);
        JsonNode ref = Oracles.json(SharedData.require("quant/" + stem + ".1.json"));
        try (Model m = Model.load(out, LoadOptions.defaults().withBackend(BackendKind.CPU)); Session s = m.newSession()) {
            int[] greedy = Oracles.ints(ref.get("greedy_ids"));
            var g = s.generate(ref.get("prompt").asText(), GenerateOptions.greedy(greedy.length), null);
            assertArrayEquals(greedy, g.tokens());
        }
    }

    /** Decodes each block with a decoder written here from the GGML definitions; every value within half a step of the source (Q4_0's clamped top end excepted). */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"q8_0", "q4_0", "f16"})
    void independentDecoderRoundTripWithinHalfAStep(String scheme) throws Exception {
        Path src = SharedData.require("quant/llama2.gguf");
        Path out = tmp.resolve(scheme + ".gguf");
        Quantizer.quantize(src, out, Quantizer.Options.of(Scheme.parse(scheme)), null);
        try (GgufFile a = GgufFile.open(out); GgufFile s = GgufFile.open(src)) {
            for (TensorInfo t : s.tensors()) {
                TensorInfo q = a.tensor(t.name()).orElseThrow();
                if (t.nDims() == 1) {
                    assertEquals(t.type(), q.type(), "vectors keep their type: " + t.name());
                    continue;
                }
                MemorySegment sd = s.data(t), qd = a.data(q);
                long n = t.elementCount();
                for (long b = 0; b < n / 32; b++) {
                    float[] x = new float[32];
                    for (int j = 0; j < 32; j++) x[j] = Float.float16ToFloat(sd.get(LE16, (b * 32 + j) * 2));
                    float[] y = decode(q.type(), qd, b);
                    float amax = 0;
                    for (float v : x) amax = Math.max(amax, Math.abs(v));
                    double step = switch (q.type()) {
                        case Q8_0 -> Float.float16ToFloat(qd.get(LE16, b * 34));
                        case Q4_0 -> Math.abs(Float.float16ToFloat(qd.get(LE16, b * 18)));
                        default -> 0;
                    };
                    for (int j = 0; j < 32; j++) {
                        double err = Math.abs(x[j] - y[j]);
                        // half a step, plus the F16 rounding of the scale (relative 2^-11 of the largest value)
                        double bound = 0.5 * step + amax * Math.scalb(1.0, -10) + 1e-12;
                        // Q4_0 spans −8·d … 7·d (the largest magnitude maps to −8): a value of the other sign beyond
                        // 7.5 steps is clamped to 7·d, GGML's design, so its error is its distance to 7·|d| instead
                        if (q.type() == GgmlType.Q4_0 && Math.abs(x[j]) > 7.5 * step) bound = Math.abs(x[j]) - 7 * step + amax * Math.scalb(1.0, -10);
                        assertTrue(err <= bound, t.name() + " block " + b + " value " + j + ": |" + x[j] + " − " + y[j] + "| > " + bound);
                    }
                }
            }
        }
    }

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Block b: Q8_0 = F16 d, 32 int8, value q·d; Q4_0 = F16 d, 16 bytes, low nibbles elements 0–15, high 16–31, value (q − 8)·d. */
    private static float[] decode(GgmlType type, MemorySegment seg, long b) {
        float[] y = new float[32];
        switch (type) {
            case Q8_0 -> {
                long base = b * 34;
                float d = Float.float16ToFloat(seg.get(LE16, base));
                for (int j = 0; j < 32; j++) y[j] = seg.get(ValueLayout.JAVA_BYTE, base + 2 + j) * d;
            }
            case Q4_0 -> {
                long base = b * 18;
                float d = Float.float16ToFloat(seg.get(LE16, base));
                for (int j = 0; j < 16; j++) {
                    int v = seg.get(ValueLayout.JAVA_BYTE, base + 2 + j) & 0xff;
                    y[j] = ((v & 15) - 8) * d;
                    y[j + 16] = ((v >> 4) - 8) * d;
                }
            }
            case F16 -> {
                for (int j = 0; j < 32; j++) y[j] = Float.float16ToFloat(seg.get(LE16, (b * 32 + j) * 2));
            }
            default -> throw new AssertionError(type);
        }
        return y;
    }

    @Test
    void rowsNotAMultipleOf32StayF16WithANote() throws Exception {
        // stories260K: ffn_down rows hold 172 values
        Path out = tmp.resolve("s-q8.gguf");
        var r = Quantizer.quantize(SharedData.require("models/stories260K-f32.gguf"), out, Quantizer.Options.of(Scheme.Q8_0), null);
        assertEquals(5, r.notes().size(), r.notes().toString());
        assertTrue(r.notes().getFirst().contains("ffn_down") && r.notes().getFirst().contains("172"), r.notes().getFirst());
        try (GgufFile a = GgufFile.open(out)) {
            assertEquals(GgmlType.F16, a.tensor("blk.0.ffn_down.weight").orElseThrow().type());
            assertEquals(GgmlType.Q8_0, a.tensor("blk.0.ffn_up.weight").orElseThrow().type());
            assertEquals(GgmlType.F32, a.tensor("blk.0.ffn_norm.weight").orElseThrow().type());
        }
        try (Model m = Model.load(out, LoadOptions.defaults().withBackend(BackendKind.CPU)); Session s = m.newSession()) {
            assertTrue(s.generate("Once upon a time", GenerateOptions.greedy(20), null).tokens().length == 20);
        }
    }
}
