package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.infercl.SharedData;
import dev.infercl.gguf.GgufFile;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StreamDecoderTest {

    @Test
    void multibyteCharacterSplitOverByteTokensPrintsOnceWhole() {
        var v = TokenizerTest.toy();
        var tok = v.build();
        int[] ids = tok.encode("a🦙é", true, false);
        var sd = tok.streamDecoder();
        List<String> outs = new ArrayList<>();
        for (int id : ids) {
            outs.add(sd.accept(id));
        }
        // BOS, " a", F0 9F A6 99, C3 A9
        assertEquals(List.of("", "a", "", "", "", "🦙", "", "é"), outs);
        assertEquals("", sd.flush());
    }

    @Test
    void flushReplacesIncompleteBytes() {
        var v = TokenizerTest.toy();
        var tok = v.build();
        var sd = new StreamDecoder(tok, false);
        assertEquals(" a", sd.accept(v.id(" a"))); // continuing a stream: nothing stripped
        assertEquals("", sd.accept(v.id("<0xF0>")));
        assertEquals("", sd.accept(v.id("<0x9F>")));
        assertEquals("\uFFFD", sd.flush());
        assertEquals("b", sd.accept(v.id("b")));
    }

    @Test
    void streamEqualsDecodeOnRandomIdsToy() {
        var tok = TokenizerTest.toy().build();
        checkRandom(tok, new Random(1), 3000);
    }

    @Test
    void streamEqualsDecodeOnRandomIdsLlamaVocab() throws IOException {
        try (var file = GgufFile.open(SharedData.require("vocab/ggml-vocab-llama-spm.gguf"))) {
            checkRandom(Tokenizer.fromGguf(file), new Random(2), 3000);
        }
    }

    /** Random id sequences, biased to byte tokens and BOS: where decode gives valid UTF-8, the stream agrees. */
    private static void checkRandom(Tokenizer tok, Random rnd, int trials) {
        int checked = 0;
        int n = tok.vocabSize();
        for (int t = 0; t < trials; t++) {
            int[] ids = new int[1 + rnd.nextInt(12)];
            for (int i = 0; i < ids.length; i++) {
                int r = rnd.nextInt(10);
                ids[i] = r == 0 ? 1 : r < 5 ? 3 + rnd.nextInt(256) : rnd.nextInt(n);
            }
            if (!validUtf8(tok, ids)) {
                continue;
            }
            var sd = tok.streamDecoder();
            var sb = new StringBuilder();
            for (int id : ids) {
                sb.append(sd.accept(id));
            }
            sb.append(sd.flush());
            assertEquals(tok.decode(ids), sb.toString(), () -> java.util.Arrays.toString(ids));
            checked++;
        }
        assertEquals(true, checked > trials / 20, "enough valid sequences: " + checked);
    }

    private static boolean validUtf8(Tokenizer tok, int[] ids) {
        var out = new java.io.ByteArrayOutputStream();
        for (int id : ids) {
            out.writeBytes(tok.tokenBytes(id));
        }
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(out.toByteArray()));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
