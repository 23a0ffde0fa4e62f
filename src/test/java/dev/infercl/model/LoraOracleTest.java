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
