package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ../shared/lora: two LoRA adapters for ../shared/quant/llama2.gguf and llama.cpp's outputs with each applied at run
 * time, alone and both at once with scales (the scales come from each oracle's {@code adapters} field). Greedy ids
 * exactly, every top-20 logit within 1e-3 × its row's top-1 (lora/README.md, F32 KV cache); then, with the adapters
 * removed from the same session, the base model's own llama.cpp outputs (quant/llama2.*.json) again.
 */
class LoraOracleTest {
    static final double TOL = 1e-3;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"CPU", "OPENCL_KVF32"})
    void matchesLlamaCppWithAdaptersAndBaseAfterRemoving(String backend) throws Exception {
        var base = SharedData.require("quant/llama2.gguf");
        try (Model m = StoriesReferenceTest.load(base, LoadOptions.defaults(), backend)) {
            Map<String, LoraAdapter> loaded = new HashMap<>();
            for (String c : new String[] {"attn", "ffn", "both"}) {
                for (int prompt = 1; prompt <= 2; prompt++) {
                    JsonNode r = Oracles.json(SharedData.require("lora/" + c + "." + prompt + ".json"));
                    List<LoraAdapter.Scaled> use = new ArrayList<>();
                    for (JsonNode a : r.get("adapters")) {
                        String file = a.get("file").asText();
                        if (!loaded.containsKey(file)) loaded.put(file, m.loadAdapter(SharedData.require("lora/" + file)));
                        use.add(loaded.get(file).withScale((float) a.get("scale").asDouble()));
                    }
                    try (Session s = m.newSession()) {
                        s.setAdapters(use);
                        check(s, r, c + "." + prompt + " on " + backend);
                        // the same session without the adapters: the base model's outputs
                        s.reset();
                        s.setAdapters(List.of());
                        check(s, Oracles.json(SharedData.require("quant/llama2." + prompt + ".json")), "base after " + c + "." + prompt + " on " + backend);
                    }
                }
            }
        }
    }

    /**
     * {@code infercl lora merge} of each case (the base's own F16, and F32 for {@code both}): the merged model without
     * adapters matches llama.cpp's run-time outputs (greedy ids, top-20 within the tolerance), and its logits at every
     * teacher-forced position equal run-time application on the base within 1e-3 × the row's top-1.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"attn f16", "ffn f16", "both f16", "both f32"})
    void mergedModelEqualsRunTimeApplication(String spec, @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String c = spec.split(" ")[0], type = spec.split(" ")[1];
        var base = SharedData.require("quant/llama2.gguf");
        JsonNode r1 = Oracles.json(SharedData.require("lora/" + c + ".1.json"));
        var args = new ArrayList<>(List.of("lora", "merge", "-m", base.toString(), "-o", dir.resolve("merged.gguf").toString(), "--type", type));
        for (JsonNode a : r1.get("adapters")) {
            args.addAll(List.of("--lora-scaled", SharedData.require("lora/" + a.get("file").asText()).toString(), a.get("scale").asText()));
        }
        var out = new java.io.ByteArrayOutputStream();
        var err = new java.io.ByteArrayOutputStream();
        int code = dev.infercl.cli.Main.run(args.toArray(String[]::new), new java.io.PrintStream(out, true), new java.io.PrintStream(err, true));
        org.junit.jupiter.api.Assertions.assertEquals(0, code, err.toString());
        try (Model merged = Model.load(dir.resolve("merged.gguf"), LoadOptions.defaults().withBackend(dev.infercl.api.BackendKind.CPU));
             Model m = Model.load(base, LoadOptions.defaults().withBackend(dev.infercl.api.BackendKind.CPU))) {
            List<LoraAdapter.Scaled> use = new ArrayList<>();
            for (JsonNode a : r1.get("adapters")) use.add(m.loadAdapter(SharedData.require("lora/" + a.get("file").asText())).withScale((float) a.get("scale").asDouble()));
            for (int prompt = 1; prompt <= 2; prompt++) {
                JsonNode r = Oracles.json(SharedData.require("lora/" + c + "." + prompt + ".json"));
                int[] ids = Oracles.concat(Oracles.ints(r.get("prompt_ids")), Oracles.ints(r.get("greedy_ids")));
                float[][] fromMerged, atRunTime;
                try (Session s = merged.newSession()) {
                    check(s, r, "merged " + spec + " prompt " + prompt);
                    fromMerged = s.logits(ids);
                }
                try (Session s = m.newSession()) {
                    s.setAdapters(use);
                    atRunTime = s.logits(ids);
                }
                for (int row = 0; row < ids.length; row++) {
                    double top = 0, diff = 0;
                    for (int i = 0; i < atRunTime[row].length; i++) {
                        top = Math.max(top, atRunTime[row][i]);
                        diff = Math.max(diff, Math.abs(atRunTime[row][i] - fromMerged[row][i]));
                    }
                    org.junit.jupiter.api.Assertions.assertTrue(diff <= TOL * Math.abs(top),
                            spec + " prompt " + prompt + " row " + row + ": merged vs run time differ by " + diff + " (top-1 " + top + ")");
                }
            }
        }
    }

    /**
     * Bases of other weight types (../shared/quant's BF16, Q8_0 and Q4_0 files, and an INT8 W8A16 file quantized here
     * from the F16 one) with both adapters at run time: the logits equal those of the F32 merge of the same base
     * (the F16 base for W8A16, which merge refuses) within that type's tolerance from quant/README.md, on CPU and OpenCL.
     */
    @ParameterizedTest(name = "{0} on {2}")
    @org.junit.jupiter.params.provider.CsvSource({"llama2-bf16, 6e-3, CPU", "llama2-q8_0, 2.5e-2, CPU", "llama2-q4_0, 2.5e-2, CPU", "w8a16, 2.5e-2, CPU",
            "llama2-bf16, 6e-3, OPENCL_KVF32", "llama2-q8_0, 2.5e-2, OPENCL_KVF32", "llama2-q4_0, 2.5e-2, OPENCL_KVF32", "w8a16, 2.5e-2, OPENCL_KVF32"})
    void otherBaseTypesWithAdaptersEqualTheirMerge(String stem, double tol, String backend, @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        var f16 = SharedData.require("quant/llama2.gguf");
        java.nio.file.Path base = stem.equals("w8a16") ? dir.resolve("w8a16.gguf") : SharedData.require("quant/" + stem + ".gguf");
        if (stem.equals("w8a16")) {
            int code = dev.infercl.cli.Main.run(new String[] {"quantize", "-m", f16.toString(), "--scheme", "w8a16", "-o", base.toString()},
                    new java.io.PrintStream(java.io.OutputStream.nullOutputStream()), new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
            org.junit.jupiter.api.Assertions.assertEquals(0, code, "quantize w8a16");
        }
        JsonNode r = Oracles.json(SharedData.require("lora/both.1.json"));
        int[] ids = Oracles.concat(Oracles.ints(r.get("prompt_ids")), Oracles.ints(r.get("greedy_ids")));
        var merged = dir.resolve("merged.gguf");
        float[][] expected, got, plain;
        try (Model m = StoriesReferenceTest.load(stem.equals("w8a16") ? f16 : base, LoadOptions.defaults(), "CPU")) {
            m.mergeAdapters(adapters(m, r), merged, dev.infercl.gguf.GgmlType.F32);
        }
        try (Model m = StoriesReferenceTest.load(merged, LoadOptions.defaults(), backend); Session s = m.newSession()) {
            expected = s.logits(ids);
        }
        try (Model m = StoriesReferenceTest.load(base, LoadOptions.defaults(), backend); Session s = m.newSession()) {
            plain = s.logits(ids);
            s.reset();
            s.setAdapters(adapters(m, r));
            got = s.logits(ids);
        }
        double worst = 0, moved = 0;
        for (int row = 0; row < ids.length; row++) {
            double top = 0;
            for (float v : expected[row]) top = Math.max(top, Math.abs(v));
            for (int i = 0; i < got[row].length; i++) {
                worst = Math.max(worst, Math.abs(got[row][i] - expected[row][i]) / top);
                moved = Math.max(moved, Math.abs(plain[row][i] - expected[row][i]) / top);
            }
        }
        org.junit.jupiter.api.Assertions.assertTrue(worst <= tol, stem + " on " + backend + ": run time vs merged " + worst + " of the top logit (tol " + tol + ")");
        org.junit.jupiter.api.Assertions.assertTrue(moved > 10 * tol, stem + ": the adapters move the logits by " + moved);
    }

    private static List<LoraAdapter.Scaled> adapters(Model m, JsonNode r) throws Exception {
        List<LoraAdapter.Scaled> use = new ArrayList<>();
        for (JsonNode a : r.get("adapters")) use.add(m.loadAdapter(SharedData.require("lora/" + a.get("file").asText())).withScale((float) a.get("scale").asDouble()));
        return use;
    }

    /** Greedy ids from a fresh sequence, then the top-20 logits of prompt + greedy ids teacher-forced. */
    static void check(Session s, JsonNode r, String what) {
        int[] promptIds = Oracles.ints(r.get("prompt_ids")), greedy = Oracles.ints(r.get("greedy_ids"));
        var g = s.generate(r.get("prompt").asText(), GenerateOptions.greedy(greedy.length), null);
        assertArrayEquals(promptIds, g.promptTokens(), what + ": prompt ids");
        assertArrayEquals(greedy, g.tokens(), what + ": greedy ids");
        s.reset();
        QuantOracleTest.assertTop20Within(s, Oracles.concat(promptIds, greedy), r.get("top20"), TOL);
        s.reset();
    }
}
