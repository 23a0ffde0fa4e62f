package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.gguf.GgufFile;
import org.junit.jupiter.api.Test;

/** The unigram (UGM, tokenizer.ggml.model = "t5") tokenizer against ../shared/t5 and small made-up vocabularies. */
class UnigramTest {

    @Test
    void promptIdsEqualLlamaCpp() throws Exception {
        var r = Oracles.json(SharedData.require("t5/t5.1.json"));
        try (GgufFile f = GgufFile.open(SharedData.require("t5/t5.gguf"))) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            assertInstanceOf(Unigram.class, tok);
            assertTrue(tok.addBosByDefault(), "a t5 vocabulary adds its specials (</s>) by default");
            assertEquals(-1, tok.bosId());
            int[] ids = tok.encode(r.get("prompt").asText(), tok.addBosByDefault(), true);
            assertArrayEquals(Oracles.ints(r.get("prompt_ids")), ids);
            // without specials: no </s>
            int[] plain = tok.encode(r.get("prompt").asText(), false, false);
            assertEquals(ids.length - 1, plain.length);
            assertEquals(r.get("prompt").asText(), tok.decode(plain));
            // extra spaces collapse as T5 does
            assertArrayEquals(plain, tok.encode("  translate   English to German: The house is wonderful.  ", false, false));
        }
    }

    /** Viterbi: the best-scoring split wins, not the longest match; an uncovered character is one merged {@code <unk>}. */
    @Test
    void viterbiAndUnknowns() {
        String[] pieces = {"<pad>", "</s>", "<unk>", "▁", "a", "b", "ab", "▁ab", "▁a", "c"};
        float[] scores = {0, 0, 0, -1, -1, -1, -5, -10, -1, -1};
        TokenType[] types = new TokenType[pieces.length];
        java.util.Arrays.fill(types, TokenType.NORMAL);
        types[0] = TokenType.CONTROL;
        types[1] = TokenType.CONTROL;
        types[2] = TokenType.UNKNOWN;
        var u = new Unigram(pieces, scores, types, 1, 2, 0, true, true, true);
        // "▁ab": ▁a + b = −2 beats ▁ab (−10) and ▁ + ab (−6)
        assertArrayEquals(new int[] {8, 5, 1}, u.encode("ab", true, false));
        // "xy" has no pieces: one <unk> for both characters
        assertArrayEquals(new int[] {3, 2, 9}, u.encode("xyc", false, false));
        assertArrayEquals(new int[] {8, 1, 8}, u.encode("a</s> a", false, true));
        assertArrayEquals(new int[] {8, 2}, u.encode("a</s>", false, false), "not parsed: </s> is four uncovered characters, one <unk>");
    }
}
