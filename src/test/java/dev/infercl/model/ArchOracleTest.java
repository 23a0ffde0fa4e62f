package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * ../shared/arch: tiny random-weight gpt2, qwen2 and phi3 models with llama.cpp's outputs. Prompt ids (llama.cpp's
 * default tokenization: special tokens parsed) and the 48 greedy ids must be equal; teacher-forced top-20 logits
 * within 4e-3 × the row's top-1 logit (arch/README.md). OPENCL_KVF16 runs with an FP16 KV cache, OPENCL_KVF32 with
 * an F32 one.
 */
class ArchOracleTest {

    @ParameterizedTest(name = "{0} prompt {1} on {2}")
    @CsvSource({"gpt2, 1, CPU", "gpt2, 2, CPU", "qwen2, 1, CPU", "qwen2, 2, CPU", "phi3, 1, CPU", "phi3, 2, CPU",
            "gpt2, 1, OPENCL_KVF16", "gpt2, 2, OPENCL_KVF16", "qwen2, 1, OPENCL_KVF16", "qwen2, 2, OPENCL_KVF16", "phi3, 1, OPENCL_KVF16", "phi3, 2, OPENCL_KVF16",
            "gpt2, 1, OPENCL_KVF32", "gpt2, 2, OPENCL_KVF32", "qwen2, 1, OPENCL_KVF32", "qwen2, 2, OPENCL_KVF32",
            "phi3, 1, OPENCL_KVF32", "phi3, 2, OPENCL_KVF32"})
    void matchesLlamaCpp(String arch, int prompt, String backend) throws Exception {
        JsonNode r = Oracles.json(SharedData.require("arch/" + arch + "." + prompt + ".json"));
        try (Model m = StoriesReferenceTest.load(SharedData.require("arch/" + arch + ".gguf"), LoadOptions.defaults(), backend)) {
            int[] promptIds = Oracles.ints(r.get("prompt_ids"));
            int[] greedy = Oracles.ints(r.get("greedy_ids"));
            assertArrayEquals(promptIds, m.tokenizer().encode(r.get("prompt").asText(), r.get("add_bos").asBoolean(), true), "prompt ids");
            try (Session s = m.newSession()) {
                var g = s.generate(promptIds, new GenerateOptions(greedy.length, dev.infercl.engine.SamplerOptions.greedy(), null, false), null);
                assertArrayEquals(greedy, g.tokens(), "greedy ids");
            }
            double worst = QuantOracleTest.assertTop20Within(m, Oracles.concat(promptIds, greedy), r.get("top20"), 4e-3);
            System.out.printf("arch oracle %s prompt %d on %s: worst |logit − llama.cpp| / top-1 = %.3e%n", arch, prompt, backend, worst);
        }
    }
}
