package dev.infercl.model;

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
import dev.infercl.backend.KvType;
import dev.infercl.backend.opencl.ClBackend;
import dev.infercl.backend.opencl.ClOptions;
import dev.infercl.backend.opencl.ClTestSupport;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** stories260K against the independent float64 reference: 200 greedy tokens exactly, teacher-forced logits within 1e-3. */
class StoriesReferenceTest {

    static Model load(String model, String backend) throws Exception {
        var opts = LoadOptions.defaults();
        if (model.endsWith(".bin")) opts = opts.withTokenizer(SharedData.require("models/tok512.bin"));
        return load(SharedData.require("models/" + model), opts, backend);
    }

    /**
     * Loads {@code m} on {@code backend}: a BackendKind name (OPENCL: the default FP16 KV cache),
     * or OPENCL_KVF16 / OPENCL_KVF32 / OPENCL_KVI8 (OpenCL with that KV cache type), or OPENCL_LANES
     * (F32 cache, the GPU kernel shapes with 32 lanes — one-token products and attention — forced on the test device).
     */
    static Model load(Path m, LoadOptions base, String backend) throws Exception {
        if (backend.startsWith("OPENCL")) ClTestSupport.requireOpenCl();
        var opts = base.withBackend(BackendKind.valueOf(backend.startsWith("OPENCL") ? "OPENCL" : backend));
        if (backend.equals("OPENCL_KVF16")) opts = opts.withKvType(KvType.F16);
        if (backend.equals("OPENCL_KVF32")) opts = opts.withKvType(KvType.F32);
        if (backend.equals("OPENCL_KVI8")) opts = opts.withKvType(KvType.I8);
        if (!backend.equals("OPENCL_LANES")) return Model.load(m, opts);
        return Model.load(m, opts, ClTestSupport.openWithLanes(32, ClOptions.defaults().withKvType(KvType.F32)));
    }

    @ParameterizedTest
    @CsvSource({"stories260K-f32.gguf, stories260K-f32, CPU", "stories260K-f16.gguf, stories260K-f16, CPU",
            "stories260K.bin, stories260K-f32, CPU", "stories260K-f32.gguf, stories260K-f32, REFERENCE",
            "stories260K-f32.gguf, stories260K-f32, OPENCL", "stories260K-f16.gguf, stories260K-f16, OPENCL",
            "stories260K-f32.gguf, stories260K-f32, OPENCL_KVF16", "stories260K-f16.gguf, stories260K-f16, OPENCL_KVF16",
            "stories260K-f16.gguf, stories260K-f16, OPENCL_LANES"})
    void greedyTextEqualsReference(String model, String ref, String backend) throws Exception {
        JsonNode r = Oracles.json(SharedData.require("reference/" + ref + ".json"));
        try (Model m = load(model, backend); Session s = m.newSession(512)) {
            var g = s.generate(r.get("prompt").asText(), GenerateOptions.greedy(200), null);
            assertArrayEquals(Oracles.ints(r.get("prompt_ids")), g.promptTokens(), "prompt ids");
            assertArrayEquals(Oracles.ints(r.get("greedy_ids")), g.tokens(), "greedy ids");
            assertEquals(r.get("greedy_text").asText(), g.text());
        }
    }

    @ParameterizedTest
    @CsvSource({"stories260K-f32.gguf, stories260K-f32, CPU", "stories260K-f16.gguf, stories260K-f16, CPU",
            "stories260K-f32.gguf, stories260K-f32, REFERENCE", "stories260K.bin, stories260K-f32, CPU",
            "stories260K-f32.gguf, stories260K-f32, OPENCL_KVF32", "stories260K-f16.gguf, stories260K-f16, OPENCL_KVF32",
            "stories260K-f32.gguf, stories260K-f32, OPENCL_LANES", "stories260K-f16.gguf, stories260K-f16, OPENCL_LANES"})
    void teacherForcedLogitsWithin1e3(String model, String ref, String backend) throws Exception {
        double worst = worstLogitError(model, ref, backend);
        assertTrue(worst <= 1e-3, "max |logit − reference| = " + worst);
    }

    /**
     * The OpenCL backend's default FP16 KV cache rounds keys and values to 11 significant bits: greedy text stays
     * exact (above) but teacher-forced logits move by up to about 0.02 on this model (0.018 measured for f32, 0.015
     * for f16), so 1e-3 holds only with the F32 cache (OPENCL_KVF32 rows above). This bounds the FP16 drift.
     */
    @ParameterizedTest
    @CsvSource({"stories260K-f32.gguf, stories260K-f32, OPENCL_KVF16", "stories260K-f16.gguf, stories260K-f16, OPENCL_KVF16"})
    void teacherForcedLogitsWithFp16KvCacheWithin3e2(String model, String ref, String backend) throws Exception {
        double worst = worstLogitError(model, ref, backend);
        assertTrue(worst <= 3e-2, "max |logit − reference| = " + worst);
    }

    /**
     * The OpenCL INT8 KV cache (int8, one scale per block of 16 positions and KV head) on this model: its heads are
     * 8 values wide, so one large channel sets the scale of 128 values and the rest keep few significant bits.
     * Measured: greedy text follows the reference for 57 of 200 tokens, then picks a near-tie differently;
     * teacher-forced logits differ from the F32 reference by up to 0.98 (FP16: 0.018) — the quantization itself, not
     * the kernels: ClKvInt8Test checks every attention call of this model against a host model of the cache (NMSE
     * ~1e-12), and a host-simulated run with an idealised cache that requantizes from the exact values instead of the
     * stored int8 still differed by 0.96 (measured once).
     * Bounds: the first 50 greedy tokens, logits within 1.5, top-1 agreement ≥ 90%.
     */
    @Test
    void int8KvCacheStaysCloseToTheReference() throws Exception {
        JsonNode r = Oracles.json(SharedData.require("reference/stories260K-f32.json"));
        int[] want = Oracles.ints(r.get("greedy_ids"));
        try (Model m = load("stories260K-f32.gguf", "OPENCL_KVI8"); Session s = m.newSession(512)) {
            int[] got = s.generate(r.get("prompt").asText(), GenerateOptions.greedy(200), null).tokens();
            int same = 0;
            while (same < Math.min(got.length, want.length) && got[same] == want[same]) same++;
            System.out.printf("stories260K-f32, OpenCL INT8 KV cache: greedy tokens equal to the reference: %d of %d%n", same, want.length);
            assertTrue(same >= 50, "greedy ids differ from the reference at token " + same);
        }
        float[][] expected = Oracles.floatRows(SharedData.require("reference/stories260K-f32.logits.f32"), 512);
        int[] ids = Oracles.concat(Oracles.ints(r.get("prompt_ids")), want);
        try (Model m = load("stories260K-f32.gguf", "OPENCL_KVI8"); Session s = m.newSession()) {
            float[][] got = s.logits(java.util.Arrays.copyOf(ids, expected.length));
            double worst = 0;
            int top1 = 0;
            for (int p = 0; p < expected.length; p++) {
                for (int v = 0; v < 512; v++) worst = Math.max(worst, Math.abs(got[p][v] - expected[p][v]));
                if (argmax(got[p]) == argmax(expected[p])) top1++;
            }
            System.out.printf("stories260K-f32, OpenCL INT8 KV cache, teacher-forced over %d positions: max |logit − reference| = %.4f, top-1 agreement %d/%d%n",
                    expected.length, worst, top1, expected.length);
            assertTrue(worst <= 1.5, "max |logit − reference| = " + worst);
            assertTrue(top1 >= 0.9 * expected.length, "top-1 agreement " + top1 + " of " + expected.length);
        }
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    static double worstLogitError(String model, String ref, String backend) throws Exception {
        JsonNode r = Oracles.json(SharedData.require("reference/" + ref + ".json"));
        float[][] expected = Oracles.floatRows(SharedData.require("reference/" + ref + ".logits.f32"), 512);
        int[] ids = Oracles.concat(Oracles.ints(r.get("prompt_ids")), Oracles.ints(r.get("greedy_ids")));
        try (Model m = load(model, backend); Session s = m.newSession()) {
            float[][] got = s.logits(java.util.Arrays.copyOf(ids, expected.length));
            double worst = 0;
            for (int p = 0; p < expected.length; p++) {
                for (int v = 0; v < 512; v++) worst = Math.max(worst, Math.abs(got[p][v] - expected[p][v]));
            }
            return worst;
        }
    }
}
