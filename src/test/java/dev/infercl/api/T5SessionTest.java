package dev.infercl.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.engine.SamplerOptions;
import org.junit.jupiter.api.Test;

/** The public API on ../shared/t5: generate encodes the prompt and decodes from the start token; encode + logits teacher-forces the decoder. */
class T5SessionTest {

    @Test
    void generateAndTeacherForcedLogits() throws Exception {
        JsonNode r = Oracles.json(SharedData.require("t5/t5.1.json"));
        int[] greedy = Oracles.ints(r.get("greedy_ids"));
        try (Model m = Model.load(SharedData.require("t5/t5.gguf"), LoadOptions.defaults().withBackend(BackendKind.CPU)); Session s = m.newSession()) {
            assertTrue(m.isEncoderDecoder());
            assertEquals(r.get("decoder_start_id").asInt(), m.decoderStartToken());
            for (int request = 0; request < 2; request++) {   // every generate is a new request: the same output again
                var g = s.generate(r.get("prompt").asText(), new GenerateOptions(greedy.length, SamplerOptions.greedy(), null, false), null);
                assertArrayEquals(Oracles.ints(r.get("prompt_ids")), g.promptTokens(), "prompt ids");
                assertArrayEquals(greedy, g.tokens(), "greedy ids");
                assertEquals(r.get("greedy_text").asText(), g.text());
            }
            s.encode(Oracles.ints(r.get("prompt_ids")));
            int[] dec = Oracles.ints(r.get("decoder_input_ids"));
            float[][] logits = s.logits(dec);
            double worst = 0;
            for (int row = 0; row < dec.length; row++) {
                JsonNode e = r.get("top20").get(row);
                double top1 = Math.abs(e.get(0).get(1).asDouble());
                for (JsonNode pair : e) worst = Math.max(worst, Math.abs(logits[row][pair.get(0).asInt()] - pair.get(1).asDouble()) / top1);
            }
            assertTrue(worst <= 5e-3, "worst top-20 |logit − llama.cpp| / top-1 = " + worst);
        }
    }

    @Test
    void decoderOnlyModelsHaveNoEncoder() throws Exception {
        try (Model m = Model.load(SharedData.require("models/stories260K-f32.gguf"), LoadOptions.defaults().withBackend(BackendKind.CPU)); Session s = m.newSession()) {
            assertFalse(m.isEncoderDecoder());
            assertEquals(-1, m.decoderStartToken());
            assertThrows(UnsupportedOperationException.class, () -> s.encode(new int[] {1}));
        }
    }
}
