package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * ../shared/quant: one Llama-2-layout model as F16, BF16, Q8_0 and Q4_0 with llama.cpp's outputs. Prompt ids and
 * the 48 greedy ids must equal llama.cpp's; the top-20 logits of every teacher-forced position must be within
 * tol × that row's top-1 logit (tolerances from quant/README.md, doubled where the backend's KV cache is F16).
 */
class QuantOracleTest {

    @ParameterizedTest(name = "{0} prompt {1} on {3}")
    @CsvSource({
            "llama2, 1, 1e-3, CPU", "llama2, 2, 1e-3, CPU",
            "llama2-bf16, 1, 6e-3, CPU", "llama2-bf16, 2, 6e-3, CPU",
            "llama2-q8_0, 1, 2.5e-2, CPU", "llama2-q8_0, 2, 2.5e-2, CPU",
            "llama2-q4_0, 1, 2.5e-2, CPU", "llama2-q4_0, 2, 2.5e-2, CPU",
            // an FP16 KV cache: twice the tolerances (quant/README.md)
            "llama2, 1, 2e-3, OPENCL_KVF16", "llama2, 2, 2e-3, OPENCL_KVF16",
            "llama2-bf16, 1, 1.2e-2, OPENCL_KVF16", "llama2-bf16, 2, 1.2e-2, OPENCL_KVF16",
            "llama2-q8_0, 1, 5e-2, OPENCL_KVF16", "llama2-q8_0, 2, 5e-2, OPENCL_KVF16",
            "llama2-q4_0, 1, 5e-2, OPENCL_KVF16", "llama2-q4_0, 2, 5e-2, OPENCL_KVF16",
            // with an F32 KV cache, the tolerances themselves
            "llama2, 1, 1e-3, OPENCL_KVF32", "llama2-bf16, 1, 6e-3, OPENCL_KVF32",
            "llama2-q8_0, 1, 2.5e-2, OPENCL_KVF32", "llama2-q4_0, 1, 2.5e-2, OPENCL_KVF32",
    })
    void matchesLlamaCpp(String stem, int prompt, double tol, String backend) throws Exception {
        checkAgainstLlamaCpp("quant/" + stem, prompt, tol, backend);
    }

    /**
     * One llama.cpp oracle of ../shared ({@code file}.gguf with {@code file}.{prompt}.json): the prompt ids and greedy
     * ids exactly, then every top-20 logit within tol × its row's top-1; returns the worst ratio.
     */
    static double checkAgainstLlamaCpp(String file, int prompt, double tol, String backend) throws Exception {
        JsonNode r = Oracles.json(SharedData.require(file + "." + prompt + ".json"));
        try (Model m = StoriesReferenceTest.load(SharedData.require(file + ".gguf"), LoadOptions.defaults(), backend)) {
            int[] promptIds = Oracles.ints(r.get("prompt_ids"));
            int[] greedy = Oracles.ints(r.get("greedy_ids"));
            try (Session s = m.newSession()) {
                var g = s.generate(r.get("prompt").asText(), GenerateOptions.greedy(greedy.length), null);
                assertArrayEquals(promptIds, g.promptTokens(), "prompt ids");
                assertArrayEquals(greedy, g.tokens(), "greedy ids");
            }
            return assertTop20Within(m, Oracles.concat(promptIds, greedy), r.get("top20"), tol);
        }
    }

    /** Each listed (id, logit) of every row within tol × that row's top-1 logit; returns the worst ratio. */
    static double assertTop20Within(Model m, int[] ids, JsonNode top20, double tol) {
        try (Session s = m.newSession()) {
            return assertTop20Within(s, ids, top20, tol);
        }
    }

    /** As {@link #assertTop20Within(Model, int[], JsonNode, double)}, teacher-forcing {@code ids} after what {@code s} holds. */
    static double assertTop20Within(Session s, int[] ids, JsonNode top20, double tol) {
        {
            float[][] logits = s.logits(ids);
            double worst = 0;
            int worstRow = -1;
            for (int row = 0; row < top20.size(); row++) {
                JsonNode entries = top20.get(row);
                double top1 = Math.abs(pairLogit(entries.get(0)));
                for (JsonNode e : entries) {
                    double rel = Math.abs(logits[row][pairId(e)] - pairLogit(e)) / top1;
                    if (rel > worst) {
                        worst = rel;
                        worstRow = row;
                    }
                }
            }
            assertTrue(worst <= tol, "worst |logit − llama.cpp| / top-1 = " + worst + " at row " + worstRow + " (tol " + tol + ")");
            assertTrue(top20.size() == ids.length, "top20 rows " + top20.size() + " vs ids " + Arrays.toString(ids));
            return worst;
        }
    }

    private static int pairId(JsonNode e) {
        return e.isArray() ? e.get(0).asInt() : e.get("id").asInt();
    }

    private static double pairLogit(JsonNode e) {
        return e.isArray() ? e.get(1).asDouble() : e.get("logit").asDouble();
    }
}
