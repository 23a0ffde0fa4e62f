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
import dev.infercl.backend.opencl.ClTestSupport;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** stories260K against the independent float64 reference: 200 greedy tokens exactly, teacher-forced logits within 1e-3. */
class StoriesReferenceTest {

    static Model load(String model, String backend) throws Exception {
        var opts = LoadOptions.defaults();
        if (model.endsWith(".bin")) opts = opts.withTokenizer(SharedData.require("models/tok512.bin"));
        return load(SharedData.require("models/" + model), opts, backend);
    }

    /** Loads {@code m} on {@code backend}: a BackendKind name, or OPENCL_KVF32 (OpenCL with an F32 KV cache instead of FP16). */
    static Model load(Path m, LoadOptions base, String backend) throws Exception {
        boolean f32Cache = backend.equals("OPENCL_KVF32");
        if (backend.startsWith("OPENCL")) ClTestSupport.requireOpenCl();
        var opts = base.withBackend(BackendKind.valueOf(f32Cache ? "OPENCL" : backend));
        String before = System.getProperty("infercl.opencl.kvCache");
        if (f32Cache) System.setProperty("infercl.opencl.kvCache", "f32");
        try {
            return Model.load(m, opts);
        } finally {
            if (f32Cache) {
                if (before == null) System.clearProperty("infercl.opencl.kvCache");
                else System.setProperty("infercl.opencl.kvCache", before);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"stories260K-f32.gguf, stories260K-f32, CPU", "stories260K-f16.gguf, stories260K-f16, CPU",
            "stories260K.bin, stories260K-f32, CPU", "stories260K-f32.gguf, stories260K-f32, REFERENCE",
            "stories260K-f32.gguf, stories260K-f32, OPENCL", "stories260K-f16.gguf, stories260K-f16, OPENCL"})
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
            "stories260K-f32.gguf, stories260K-f32, OPENCL_KVF32", "stories260K-f16.gguf, stories260K-f16, OPENCL_KVF32"})
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
    @CsvSource({"stories260K-f32.gguf, stories260K-f32, OPENCL", "stories260K-f16.gguf, stories260K-f16, OPENCL"})
    void teacherForcedLogitsWithFp16KvCacheWithin3e2(String model, String ref, String backend) throws Exception {
        double worst = worstLogitError(model, ref, backend);
        assertTrue(worst <= 3e-2, "max |logit − reference| = " + worst);
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
