package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.Stories;
import dev.infercl.api.BackendKind;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.backend.opencl.ClTestSupport;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufWriter;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.tensor.Dequant;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * End to end: stories260K-f32 quantized in the test (every linear weight per output channel, no smoothing) to a
 * W8A16 and a W8A8 GGUF, loaded with {@link Model#load} on CPU and OpenCL; it generates text, and its
 * teacher-forced logits over the reference sequence stay close to the F32 model's (top-1 agreement ≥ 90%; the
 * strict KLD acceptance belongs to the quantization evaluation). Also the loader's errors for bad companions.
 */
class Int8ModelTest {
    static final Pattern LINEAR = Pattern.compile("blk\\.\\d+\\.(attn_q|attn_k|attn_v|attn_qkv|attn_output|ffn_gate|ffn_up|ffn_down)\\.weight|output\\.weight");

    @TempDir
    static Path dir;

    static Path source() {
        return Stories.MODEL;
    }

    /** Copies {@code src} with every linear weight as I8 + per-channel F32 scales; {@code skip} drops tensors (error tests). */
    static Path quantize(String scheme, String out, Predicate<String> skip) throws Exception {
        Path dst = dir.resolve(out);
        try (GgufFile src = GgufFile.open(source())) {
            var w = new GgufWriter();
            for (var e : src.metadata()) {
                if (e.value() instanceof GgufFile.MetadataArray a) w.putArray(e.key(), a.elementType(), a.values());
                else w.put(e.key(), e.type(), e.value());
            }
            w.putString("infercl.quant.scheme", scheme).putUInt32("infercl.quant.group_size", 0).putString("infercl.quant.source", source().getFileName().toString());
            for (TensorInfo t : src.tensors()) {
                if (skip.test(t.name())) continue;
                var data = src.data(t);
                if (!LINEAR.matcher(t.name()).matches()) {
                    w.addTensor(t.name(), t.type(), t.dims(), data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                    continue;
                }
                int cols = (int) t.dim(0), rows = (int) t.rows();
                float[] f = new float[rows * cols];
                Dequant.row(t.type(), data, 0, f, 0, f.length);
                byte[] q = new byte[f.length];
                var scales = ByteBuffer.allocate(4 * rows).order(ByteOrder.LITTLE_ENDIAN);
                for (int o = 0; o < rows; o++) {
                    float max = 0;
                    for (int j = 0; j < cols; j++) max = Math.max(max, Math.abs(f[o * cols + j]));
                    float s = max / 127f;
                    for (int j = 0; j < cols; j++) q[o * cols + j] = s == 0 ? 0 : (byte) Math.max(-127, Math.min(127, Math.round(f[o * cols + j] / s)));
                    scales.putFloat(s);
                }
                w.addTensor(t.name(), GgmlType.I8, new long[] {cols, rows}, q);
                if (!skip.test(t.name() + "_scale")) w.addTensor(t.name() + "_scale", GgmlType.F32, new long[] {1, rows}, scales.array());
            }
            w.write(dst);
        }
        return dst;
    }

    static Path w8a16, w8a8;

    @BeforeAll
    static void build() throws Exception {
        w8a16 = quantize("w8a16", "stories-w8a16.gguf", n -> false);
        w8a8 = quantize("w8a8", "stories-w8a8.gguf", n -> false);
    }

    static Model load(Path p, String backend) throws Exception {
        if (backend.equals("OPENCL")) ClTestSupport.requireOpenCl();
        return Model.load(p, LoadOptions.defaults().withBackend(BackendKind.valueOf(backend)).withKvCacheF32(true));
    }

    static int[] referenceIds() throws Exception {
        JsonNode r = Oracles.json(Stories.REFERENCE);
        return Oracles.concat(Oracles.ints(r.get("prompt_ids")), Oracles.ints(r.get("greedy_ids")));
    }

    static float[][] logits(Path model, String backend, int count) throws Exception {
        try (Model m = load(model, backend); Session s = m.newSession()) {
            return s.logits(Arrays.copyOf(referenceIds(), count));
        }
    }

    static double[] softmax(float[] l) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float v : l) max = Math.max(max, v);
        double[] p = new double[l.length];
        for (int i = 0; i < l.length; i++) sum += p[i] = Math.exp(l[i] - max);
        for (int i = 0; i < l.length; i++) p[i] /= sum;
        return p;
    }

    static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
        return best;
    }

    @ParameterizedTest
    @CsvSource({"w8a16, CPU", "w8a16, OPENCL", "w8a8, CPU", "w8a8, OPENCL"})
    void generatesAndTracksTheF32Model(String scheme, String backend) throws Exception {
        Path model = scheme.equals("w8a16") ? w8a16 : w8a8;
        float[][] ref = Oracles.floatRows(Stories.LOGITS, 512);
        float[][] got = logits(model, backend, ref.length);
        int agree = 0;
        double kld = 0;
        for (int p = 0; p < ref.length; p++) {
            if (argmax(got[p]) == argmax(ref[p])) agree++;
            double[] a = softmax(ref[p]), b = softmax(got[p]);
            for (int v = 0; v < a.length; v++) if (a[v] > 0) kld += a[v] * Math.log(a[v] / Math.max(b[v], 1e-300));
        }
        double top1 = (double) agree / ref.length;
        System.out.printf("%s on %s: top-1 agreement %.4f, mean KLD %.3e over %d positions%n", scheme, backend, top1, kld / ref.length, ref.length);
        assertTrue(top1 >= 0.90, scheme + " on " + backend + ": top-1 agreement " + top1);
        try (Model m = load(model, backend); Session s = m.newSession(256)) {
            var g = s.generate("Once upon a time", GenerateOptions.greedy(40), null);
            System.out.printf("%s on %s: %s%n", scheme, backend, g.text());
            assertEquals(40, g.tokens().length);
            assertFalse(g.text().isBlank());
        }
    }

    @ParameterizedTest
    @CsvSource({"w8a16", "w8a8"})
    void cpuAndOpenClAgree(String scheme) throws Exception {
        Path model = scheme.equals("w8a16") ? w8a16 : w8a8;
        float[][] cpu = logits(model, "CPU", 64), cl = logits(model, "OPENCL", 64);
        double worst = 0;
        for (int p = 0; p < cpu.length; p++) for (int v = 0; v < 512; v++) worst = Math.max(worst, Math.abs(cpu[p][v] - cl[p][v]));
        System.out.printf("%s: max |logit CPU − OpenCL| over 64 positions = %.3e%n", scheme, worst);
        assertTrue(worst <= 1e-3, scheme + ": " + worst);
    }

    @Test
    void badCompanionsAreClearErrors() throws Exception {
        Path noScale = quantize("w8a16", "no-scale.gguf", n -> n.equals("blk.0.attn_q.weight_scale"));
        var e = assertThrows(ModelLoadException.class, () -> load(noScale, "CPU").close());
        assertTrue(e.getMessage().contains("blk.0.attn_q.weight_scale"), e.getMessage());
        Path noScheme = quantize("w8a16", "no-scheme.gguf", n -> false);
        // a file whose I8 tensors come without a scheme: rewrite the metadata without it
        Path stripped = dir.resolve("stripped.gguf");
        try (GgufFile src = GgufFile.open(noScheme)) {
            var w = new GgufWriter();
            for (var m : src.metadata()) {
                if (m.key().equals("infercl.quant.scheme")) continue;
                if (m.value() instanceof GgufFile.MetadataArray a) w.putArray(m.key(), a.elementType(), a.values());
                else w.put(m.key(), m.type(), m.value());
            }
            for (TensorInfo t : src.tensors()) w.addTensor(t.name(), t.type(), t.dims(), src.data(t).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            w.write(stripped);
        }
        var e2 = assertThrows(ModelLoadException.class, () -> load(stripped, "CPU").close());
        assertTrue(e2.getMessage().contains("infercl.quant.scheme") && e2.getMessage().contains("I8"), e2.getMessage());
    }
}
