package dev.infercl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import org.junit.jupiter.api.Test;

/** The CLI on ../shared/t5: generate, info's two stacks, logits --json of the decoder. */
class T5CliTest {

    @Test
    void generatePrintsPromptThenTheDecodersText() throws Exception {
        JsonNode r = Oracles.json(SharedData.require("t5/t5.1.json"));
        var res = CliTest.run("generate", "-m", SharedData.require("t5/t5.gguf").toString(), "-p", r.get("prompt").asText(), "-n", "32",
                "--temp", "0", "--backend", "cpu");
        assertEquals(0, res.code(), res.err());
        assertEquals(r.get("prompt").asText() + "\n" + r.get("greedy_text").asText() + "\n", res.out());
    }

    @Test
    void benchMeasuresTheDecoder() {
        var res = CliTest.run("bench", "-m", SharedData.require("t5/t5.gguf").toString(), "-p", "8", "-n", "4", "-r", "1", "--long-ctx", "0",
                "--backend", "cpu");
        assertEquals(0, res.code(), res.err());
        assertTrue(res.out().contains("tokens/s") || res.out().contains("t/s"), res.out());
    }

    @Test
    void infoShowsBothStacks() {
        var res = CliTest.run("info", SharedData.require("t5/t5.gguf").toString());
        assertEquals(0, res.code(), res.err());
        assertTrue(res.out().contains("encoder-decoder (t5): encoder 2 layers"), res.out());
        assertTrue(res.out().contains("decoder 2 layers (dec.blk.*: causal self-attention + cross-attention"), res.out());
    }

    @Test
    void logitsJsonOfTheDecoder() throws Exception {
        JsonNode r = Oracles.json(SharedData.require("t5/t5.1.json"));
        int[] dec = Oracles.ints(r.get("decoder_input_ids"));
        String prompt = String.join(",", java.util.Arrays.stream(Oracles.ints(r.get("prompt_ids"))).mapToObj(String::valueOf).toList());
        String decoder = String.join(",", java.util.Arrays.stream(dec).limit(8).mapToObj(String::valueOf).toList());
        var res = CliTest.run("logits", "-m", SharedData.require("t5/t5.gguf").toString(), "--ids", prompt, "--decoder-ids", decoder,
                "--top", "20", "--json", "--backend", "cpu");
        assertEquals(0, res.code(), res.err());
        JsonNode j = new ObjectMapper().readTree(res.out());
        assertEquals(25, j.get("encoder_tokens").size());
        assertEquals(8, j.get("positions").size());
        for (int p = 0; p < 8; p++) {
            JsonNode want = r.get("top20").get(p), got = j.get("positions").get(p).get("top");
            assertEquals(want.get(0).get(0).asInt(), got.get(0).get("id").asInt(), "top-1 at decoder position " + p);
            assertEquals(want.get(0).get(1).asDouble(), got.get(0).get("logit").asDouble(), 5e-3 * Math.abs(want.get(0).get(1).asDouble()));
        }
        // without --decoder-ids: the start token alone
        var one = CliTest.run("logits", "-m", SharedData.require("t5/t5.gguf").toString(), "--ids", prompt, "--json", "--backend", "cpu");
        assertEquals(0, one.code(), one.err());
        assertEquals(1, new ObjectMapper().readTree(one.out()).get("positions").size());
    }
}
