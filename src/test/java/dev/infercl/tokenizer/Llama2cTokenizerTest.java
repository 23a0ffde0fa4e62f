package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.infercl.SharedData;
import dev.infercl.gguf.GgufFile;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

class Llama2cTokenizerTest {

    static final List<String> SENTENCES = List.of(
            "Once upon a time",
            "Once upon a time, there was a little girl named Lily. She loved to play outside.",
            " leading space and  double  spaces",
            "Tom said: \"Wow!\"\nThen he ran home.\n\n",
            "ünïcödé ☃ 🦙 日本",
            "");

    @Test
    void encodesTheReferencePrompt() throws IOException {
        var tok = Llama2cTokenizer.load(SharedData.require("models/tok512.bin"), 512);
        assertEquals(512, tok.vocabSize());
        assertArrayEquals(new int[] {1, 403, 407, 261, 378}, tok.encode("Once upon a time", true, false));
        assertEquals("Once upon a time", tok.decode(new int[] {1, 403, 407, 261, 378}));
    }

    @Test
    void agreesWithTheGgufTokenizer() throws IOException {
        var bin = Llama2cTokenizer.load(SharedData.require("models/tok512.bin"), 512);
        try (var file = GgufFile.open(SharedData.require("models/stories260K-f32.gguf"))) {
            var gguf = (SentencePieceBpe) Tokenizer.fromGguf(file);
            assertEquals(gguf.vocabSize(), bin.vocabSize());
            for (int id = 0; id < gguf.vocabSize(); id++) {
                assertEquals(gguf.piece(id), bin.piece(id), "piece " + id);
                assertEquals(gguf.type(id), bin.type(id), "type " + id);
                assertEquals(gguf.score(id), bin.score(id), "score " + id);
            }
            for (String s : SENTENCES) {
                int[] a = gguf.encode(s, true, false);
                assertArrayEquals(a, bin.encode(s, true, false), s);
                assertEquals(s, gguf.decode(a), s);
            }
        }
    }
}
