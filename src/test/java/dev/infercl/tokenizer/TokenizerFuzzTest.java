package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.infercl.FuzzSupport;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Both tokenizers on arbitrary text, and the streaming decoder on arbitrary id sequences. Each input starts with a
 * flag byte (which vocabulary, BOS, special-token parsing, pre-tokenizer; bit 7: the text is UTF-16BE instead of
 * UTF-8, see {@link FuzzVocabularies#text}).
 *
 * <p>Invariants: encoding and decoding never throw; every id is inside the vocabulary; decoding what was encoded
 * gives the text back (byte-level BPE: any well-formed text; SentencePiece: any well-formed text without its
 * space marker ▁, which it cannot tell from a space); streaming decode equals whole decode, and everything it has
 * emitted at any point is a prefix of the whole text (a character split across tokens is never emitted in halves);
 * no input takes long.
 *
 * <p>Seeds under src/test/resources/dev/infercl/tokenizer/TokenizerFuzzTestInputs/: llama.cpp's tokenizer test
 * strings (../shared/vocab/*.inp), texts with special tokens, multi-byte characters and long whitespace runs, and
 * the fuzzer's finds.
 */
class TokenizerFuzzTest {

    @FuzzTest
    void sentencePiece(byte[] data) {
        int flags = data.length > 0 ? data[0] & 0xFF : 0;
        String text = FuzzVocabularies.text(data, 1);
        boolean addBos = (flags & 1) != 0, parseSpecial = (flags & 2) != 0;
        FuzzSupport.bounded(() -> {
            SentencePieceBpe tok = FuzzVocabularies.sentencePiece(flags >> 2 & 1);
            int[] ids = tok.encode(text, addBos, parseSpecial);
            String decoded = checkIdsAndDecode(tok, ids);
            if (!parseSpecial && FuzzVocabularies.wellFormed(text) && text.indexOf(SentencePieceBpe.SPACE) < 0) {
                assertEquals(text, decoded, () -> "ids " + Arrays.toString(ids));
            }
        });
    }

    @FuzzTest
    void byteLevel(byte[] data) {
        int flags = data.length > 0 ? data[0] & 0xFF : 0;
        String text = FuzzVocabularies.text(data, 1);
        boolean addBos = (flags & 1) != 0, parseSpecial = (flags & 2) != 0;
        String pre = FuzzVocabularies.PRE.get((flags >> 3 & 15) % FuzzVocabularies.PRE.size());
        FuzzSupport.bounded(() -> {
            ByteLevelBpe tok = FuzzVocabularies.byteLevel(flags >> 2 & 1, pre);
            int[] ids = tok.encode(text, addBos, parseSpecial);
            String decoded = checkIdsAndDecode(tok, ids);
            if (!parseSpecial && FuzzVocabularies.wellFormed(text)) {
                assertEquals(text, decoded, () -> "pre " + pre + ", ids " + Arrays.toString(ids));
            }
        });
    }

    /** Ids from the input's bytes after the flags, two bytes each (big-endian), modulo the vocabulary size. */
    @FuzzTest
    void streamDecode(byte[] data) {
        int flags = data.length > 0 ? data[0] & 0xFF : 0;
        boolean atStart = (flags & 4) == 0;
        FuzzSupport.bounded(() -> {
            Tokenizer tok = FuzzVocabularies.any(flags);
            int[] ids = new int[Math.max(0, (data.length - 1) / 2)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = (((data[1 + 2 * i] & 0xFF) << 8) | (data[2 + 2 * i] & 0xFF)) % tok.vocabSize();
            }
            String whole = atStart ? tok.decode(ids) : utf8(tok, ids);
            assertStreamsAs(tok, ids, atStart, whole);
        });
    }

    /** Ids in the vocabulary, and the stream decoder agreeing with decode; returns decode's text. */
    private static String checkIdsAndDecode(Tokenizer tok, int[] ids) {
        for (int id : ids) assertTrue(id >= 0 && id < tok.vocabSize(), () -> "id " + id + " of " + Arrays.toString(ids));
        String decoded = tok.decode(ids);
        assertStreamsAs(tok, ids, true, decoded);
        return decoded;
    }

    static void assertStreamsAs(Tokenizer tok, int[] ids, boolean atStart, String whole) {
        var stream = new StreamDecoder(tok, atStart);
        var shown = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            String piece = stream.accept(ids[i]);
            shown.append(piece);
            int at = i;
            assertTrue(whole.startsWith(shown.toString()), () -> "after id #" + at + " (" + ids[at] + ") the stream showed '"
                    + escape(shown) + "', not a prefix of '" + escape(whole) + "'; ids " + Arrays.toString(ids));
            assertFalse(!piece.isEmpty() && Character.isHighSurrogate(piece.charAt(piece.length() - 1)),
                    () -> "a piece ends inside a surrogate pair after id #" + at);
        }
        shown.append(stream.flush());
        assertEquals(whole, shown.toString(), () -> "ids " + Arrays.toString(ids));
    }

    /** What a decoder that continues earlier text shows: every token's bytes, as UTF-8. */
    private static String utf8(Tokenizer tok, int[] ids) {
        var out = new ByteArrayOutputStream();
        for (int id : ids) out.writeBytes(tok.tokenBytes(id));
        return out.toString(StandardCharsets.UTF_8);
    }

    // ---- the seed corpus ------------------------------------------------------------------------------------

    /** Texts for the seeds besides llama.cpp's test strings. */
    static final java.util.List<String> TEXTS = java.util.List.of(
            "Once upon a time, there was a little girl named Lily.",
            "<s>[INST] hi [/INST] hello</s>", "<|endoftext|>a<tool>b<|im_start|>", "<tool><tool>",
            "héllo wörld é 🦙🦙 日本語 한국어 ▁▁x", "I'm don't WE'LL you'VE", "12345678901 3.14 ½ ٣",
            "    \n\n\t\t  \r\n  x  ", "\u00a0\u2009\u3000 narrow and wide spaces", "a\u0000b\u0001c", "▁");

    /**
     * Writes the hand-made seeds into {@code -Dinfercl.fuzz.writeSeeds=DIR} (one folder per fuzz test), from
     * {@link #TEXTS} and the .inp files of ../shared/vocab; does nothing otherwise.
     */
    @org.junit.jupiter.api.Test
    void writeSeeds() throws java.io.IOException {
        String dir = System.getProperty("infercl.fuzz.writeSeeds");
        if (dir == null) return;
        var texts = new java.util.ArrayList<>(TEXTS.stream().map(t -> t.translateEscapes()).toList());
        for (String f : new String[] {"ggml-vocab-gpt-2.gguf.inp", "ggml-vocab-llama-spm.gguf.inp"}) {
            java.nio.file.Path p = dev.infercl.SharedData.root().resolve("vocab").resolve(f);
            if (java.nio.file.Files.isRegularFile(p)) {
                for (String t : java.nio.file.Files.readString(p).split("\n__ggml_vocab_test__\n")) {
                    if (!texts.contains(t)) texts.add(t);
                }
            }
        }
        var out = java.nio.file.Path.of(dir);
        var spm = out.resolve("sentencePiece");
        var bpe = out.resolve("byteLevel");
        var stream = out.resolve("streamDecode");
        for (var d : new java.nio.file.Path[] {spm, bpe, stream}) java.nio.file.Files.createDirectories(d);
        for (int i = 0; i < texts.size(); i++) {
            byte[] text = texts.get(i).getBytes(StandardCharsets.UTF_8);
            int spmFlags = (i % 4) | (i / 4 % 2) << 2;                   // BOS, special, vocabulary
            int bpeFlags = (i % 4) | (i / 4 % 2) << 2 | (i % FuzzVocabularies.PRE.size()) << 3;
            java.nio.file.Files.write(spm.resolve(String.format("text-%02d", i)), concat(spmFlags, text));
            java.nio.file.Files.write(bpe.resolve(String.format("text-%02d", i)), concat(bpeFlags, text));
            Tokenizer tok = FuzzVocabularies.any(i);
            int[] ids = tok.encode(texts.get(i), (i & 4) == 0, true);
            var b = new ByteArrayOutputStream();
            b.write((i & 3) | (i / 4 % 2) << 2);
            for (int id : ids) {
                b.write(id >> 8);
                b.write(id);
            }
            java.nio.file.Files.write(stream.resolve(String.format("ids-%02d", i)), b.toByteArray());
        }
        // UTF-16 texts (bit 7): a lone high surrogate, a lone low one, a reversed pair
        byte[] utf16 = {(byte) 0xD8, 0x3D, 0x00, 0x61, (byte) 0xDE, 0x00, (byte) 0xDC, 0x00, (byte) 0xD8, 0x00};
        java.nio.file.Files.write(spm.resolve("utf16-surrogates"), concat(0x80, utf16));
        java.nio.file.Files.write(bpe.resolve("utf16-surrogates"), concat(0x80 | 2 << 3, utf16));
    }

    private static byte[] concat(int flags, byte[] rest) {
        byte[] b = new byte[rest.length + 1];
        b[0] = (byte) flags;
        System.arraycopy(rest, 0, b, 1, rest.length);
        return b;
    }

    private static String escape(CharSequence s) {
        var sb = new StringBuilder();
        s.codePoints().forEach(c -> sb.append(c < 0x20 || c > 0x7E ? String.format("\\u{%x}", c) : Character.toString(c)));
        return sb.toString();
    }
}
