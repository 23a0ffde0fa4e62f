package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.SharedData;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SentencePieceBpe on small in-memory vocabularies, plus Tokenizer.fromGguf dispatch and errors. */
class TokenizerTest {

    /** A toy vocabulary: unk, bos, eos, the 256 byte tokens, then the given normal pieces and specials. */
    static final class Vocab {
        final List<String> pieces = new ArrayList<>();
        final List<Float> scores = new ArrayList<>();
        final List<TokenType> types = new ArrayList<>();

        Vocab(boolean withBytes) {
            add("<unk>", 0, TokenType.UNKNOWN);
            add("<s>", 0, TokenType.CONTROL);
            add("</s>", 0, TokenType.CONTROL);
            if (withBytes) {
                for (int b = 0; b < 256; b++) {
                    add(String.format("<0x%02X>", b), 0, TokenType.BYTE);
                }
            }
        }

        Vocab add(String piece, float score, TokenType type) {
            pieces.add(piece);
            scores.add(score);
            types.add(type);
            return this;
        }

        Vocab normal(String piece, float score) {
            return add(piece.replace(' ', SentencePieceBpe.SPACE), score, TokenType.NORMAL);
        }

        int id(String piece) {
            return pieces.indexOf(piece.replace(' ', SentencePieceBpe.SPACE));
        }

        SentencePieceBpe build() {
            float[] s = new float[scores.size()];
            for (int i = 0; i < s.length; i++) {
                s[i] = scores.get(i);
            }
            return new SentencePieceBpe(pieces.toArray(String[]::new), s, types.toArray(TokenType[]::new),
                    1, 2, 0, -1, -1, true, false, true);
        }
    }

    static Vocab toy() {
        return new Vocab(true)
                .normal(" ", -1).normal("a", -2).normal("b", -3).normal("c", -4)
                .normal(" a", -5).normal("ab", -6).normal("bc", -7).normal("abc", -8).normal(" ab", -9)
                .add("<|user|>", 0, TokenType.USER_DEFINED)
                .add("<|im_end|>", 0, TokenType.CONTROL);
    }

    @Test
    void mergesHighestScoreFirstThenLeftmost() {
        Vocab v = toy();
        var tok = v.build();
        // " abc": pairs " a"(-5) ab(-6) bc(-7): " a" first, then " a"+b is not a piece, bc merges -> [" a", "bc"]
        assertArrayEquals(new int[] {v.id(" a"), v.id("bc")}, tok.encode("abc", false, false));
        // ties go to the leftmost pair: "aaa" with only "aa" -> ["aa", "a"]
        Vocab w = new Vocab(true).normal(" ", -1).normal("a", -1).normal("aa", -1);
        var tw = w.build();
        assertArrayEquals(new int[] {w.id(" "), w.id("aa"), w.id("a")}, tw.encode("aaa", false, false));
    }

    @Test
    void bytesFallBackForPiecesNotInVocabulary() {
        Vocab v = toy();
        var tok = v.build();
        int[] ids = tok.encode("aé", false, false); // é = C3 A9, no piece for it
        assertArrayEquals(new int[] {v.id(" a"), v.id("<0xC3>"), v.id("<0xA9>")}, ids);
        assertEquals("aé", tok.decode(ids));
        int[] emoji = tok.encode("🦙", false, false);
        assertArrayEquals(new int[] {v.id(" "), v.id("<0xF0>"), v.id("<0x9F>"), v.id("<0xA6>"), v.id("<0x99>")}, emoji);
        assertEquals("🦙", tok.decode(emoji));
        // without byte tokens the unknown id stands in for each byte
        var noBytes = new Vocab(false).normal(" ", -1).normal("a", -1).build();
        assertArrayEquals(new int[] {3, 4, 0, 0}, noBytes.encode("aé", false, false));
    }

    @Test
    void specialTokensAreParsedOnlyWhenAsked() {
        Vocab v = toy();
        var tok = v.build();
        int user = v.id("<|user|>"), end = v.id("<|im_end|>");
        // parseSpecial: control tokens become their ids; text after a special token gets the space prefix again
        assertArrayEquals(new int[] {1, v.id(" a"), end, v.id(" ab")}, tok.encode("<s>a<|im_end|>ab", false, true));
        // not parsed: "<s>" is plain text (bytes here), but user-defined tokens always match
        int[] plain = tok.encode("<s>a", false, false);
        assertFalse(Arrays.stream(plain).anyMatch(id -> id == 1));
        assertEquals("<s>a", tok.decode(plain));
        assertArrayEquals(new int[] {user, v.id(" a")}, tok.encode("<|user|>a", false, false));
        assertArrayEquals(new int[] {v.id(" a"), user, v.id(" a"), user}, tok.encode("a<|user|>a<|user|>", false, false));
        // control tokens print as nothing, user-defined ones as their text
        assertEquals("a<|user|> a", tok.decode(new int[] {1, v.id(" a"), user, v.id(" a"), end, 2}));
        assertTrue(tok.isEndOfGeneration(2));
        assertTrue(tok.isEndOfGeneration(end));
        assertFalse(tok.isEndOfGeneration(user));
        assertFalse(tok.isEndOfGeneration(1));
    }

    @Test
    void longestSpecialTokenWins() {
        Vocab v = new Vocab(true).normal(" ", -1)
                .add("<|a|>", 0, TokenType.CONTROL).add("<|a|><|b|>", 0, TokenType.CONTROL).add("<|b|>", 0, TokenType.CONTROL);
        var tok = v.build();
        assertArrayEquals(new int[] {v.id("<|a|><|b|>"), v.id("<|b|>")}, tok.encode("<|a|><|b|><|b|>", false, true));
    }

    @Test
    void emptyText() {
        var tok = toy().build();
        assertArrayEquals(new int[0], tok.encode("", false, false));
        assertArrayEquals(new int[] {1}, tok.encode("", true, true));
        assertEquals("", tok.decode(new int[0]));
        assertEquals("", tok.decode(new int[] {1}));
        var sd = tok.streamDecoder();
        assertEquals("", sd.flush());
    }

    @Test
    void decodeDropsOnlyTheEncoderPrefixSpace() {
        Vocab v = toy();
        var tok = v.build();
        for (String s : List.of("a", " a", "  ab c", "abc ", " ", "  ")) {
            assertEquals(s, tok.decode(tok.encode(s, false, false)), s);
            assertEquals(s, tok.decode(tok.encode(s, true, false)), s);
        }
        assertArrayEquals(" a".getBytes(), tok.tokenBytes(v.id(" a")));
        assertEquals("\u2581a", tok.piece(v.id(" a")));
        assertArrayEquals(new byte[] {(byte) 0xC3}, tok.tokenBytes(v.id("<0xC3>")));
        assertArrayEquals(new byte[0], tok.tokenBytes(1));
        assertThrows(IllegalArgumentException.class, () -> tok.tokenBytes(tok.vocabSize()));
    }

    @Test
    void hundredThousandCharactersEncodeQuickly() {
        Vocab v = toy();
        var tok = v.build();
        var sb = new StringBuilder();
        var rnd = new java.util.Random(7);
        String[] parts = {"a", "b", "c", " ", "abc", "é", "🦙", "\n"};
        while (sb.length() < 100_000) {
            sb.append(parts[rnd.nextInt(parts.length)]);
        }
        String text = sb.toString();
        // a long run of one character: the worst case for a quadratic rescan
        String run = "a".repeat(100_000);
        var aa = new Vocab(true).normal(" ", -1).normal("a", -1).normal("aa", -2).normal("aaaa", -3).normal("aaaaaaaa", -4).build();
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            int[] ids = tok.encode(text, true, true);
            assertEquals(text, tok.decode(ids));
            int[] r = aa.encode(run, false, false);
            assertEquals(run, aa.decode(r));
            assertEquals(1 + 100_000 / 8, r.length);
        });
    }

    @Test
    void fromGgufRejectsOtherModelsAndMissingKeys(@TempDir Path dir) throws IOException {
        Path bert = dir.resolve("bert.gguf");
        new GgufWriter().putString("tokenizer.ggml.model", "bert").write(bert);
        try (var file = GgufFile.open(bert)) {
            var e = assertThrows(TokenizerException.class, () -> Tokenizer.fromGguf(file));
            assertTrue(e.getMessage().contains("tokenizer model 'bert' is not supported yet"), e.getMessage());
        }
        Path none = dir.resolve("none.gguf");
        new GgufWriter().putString("general.architecture", "llama").write(none);
        try (var file = GgufFile.open(none)) {
            var e = assertThrows(TokenizerException.class, () -> Tokenizer.fromGguf(file));
            assertTrue(e.getMessage().contains("none.gguf") && e.getMessage().contains("tokenizer.ggml.model"), e.getMessage());
        }
        Path noTokens = dir.resolve("notokens.gguf");
        new GgufWriter().putString("tokenizer.ggml.model", "llama").write(noTokens);
        try (var file = GgufFile.open(noTokens)) {
            var e = assertThrows(IOException.class, () -> Tokenizer.fromGguf(file));
            assertTrue(e.getMessage().contains("notokens.gguf") && e.getMessage().contains("tokenizer.ggml.tokens"), e.getMessage());
        }
    }
}
