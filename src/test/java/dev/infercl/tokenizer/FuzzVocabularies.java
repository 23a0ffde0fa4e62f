package dev.infercl.tokenizer;

import dev.infercl.SharedData;
import dev.infercl.Stories;
import dev.infercl.gguf.GgufFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The vocabularies the tokenizer fuzz tests run on, and how they read a text out of the fuzzer's bytes. An input
 * names its vocabulary by a number; those from ../shared stand in for a built-in one where ../shared is absent,
 * so every committed input runs in every clone.
 */
final class FuzzVocabularies {
    private FuzzVocabularies() {}

    /** The pre-tokenizers a byte-level input may pick (all expressions InferCL knows, and an unknown name). */
    static final List<String> PRE = List.of("default", "gpt2", "llama-bpe", "qwen2", "deepseek-llm",
            "deepseek-coder", "falcon", "starcoder", "no-such-pre");

    private static final Map<String, Tokenizer> CACHE = new ConcurrentHashMap<>();

    /** SentencePiece: 0 stories260K (512 pieces, byte fallback), 1 llama's 32000 (../shared/vocab) or stories. */
    static SentencePieceBpe sentencePiece(int which) {
        Path shared = SharedData.root().resolve("vocab/ggml-vocab-llama-spm.gguf");
        Path file = which % 2 == 1 && Files.isRegularFile(shared) ? shared : Stories.MODEL;
        return (SentencePieceBpe) CACHE.computeIfAbsent("spm:" + file, k -> read(file));
    }

    /** Byte-level BPE: 0 the vocabulary {@link #builtinByteLevel} makes, 1 GPT-2's (../shared/vocab) or that one. */
    static ByteLevelBpe byteLevel(int which, String pre) {
        Path shared = SharedData.root().resolve("vocab/ggml-vocab-gpt-2.gguf");
        boolean gpt2 = which % 2 == 1 && Files.isRegularFile(shared);
        return (ByteLevelBpe) CACHE.computeIfAbsent((gpt2 ? "gpt2:" : "builtin:") + pre, k -> {
            PreTokenizer p = PreTokenizer.forName(pre, msg -> { });
            if (!gpt2) return builtinByteLevel(p);
            ByteLevelBpe file = (ByteLevelBpe) read(shared);
            String[] pieces = new String[file.vocabSize()];
            TokenType[] types = new TokenType[pieces.length];
            for (int i = 0; i < pieces.length; i++) {
                pieces[i] = file.piece(i);
                types[i] = file.type(i);
            }
            try (GgufFile g = GgufFile.open(shared)) {
                return new ByteLevelBpe(pieces, types, g.getStringArray("tokenizer.ggml.merges"), file.bosId(),
                        file.eosId(), -1, false, false, p, PreTokenizer.ignoresMerges(pre));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** Any of the four, by number (for the stream decoder). */
    static Tokenizer any(int which) {
        return switch (which & 3) {
            case 0 -> sentencePiece(0);
            case 1 -> sentencePiece(1);
            case 2 -> byteLevel(0, "gpt2");
            default -> byteLevel(1, "gpt2");
        };
    }

    private static Tokenizer read(Path file) {
        try (GgufFile g = GgufFile.open(file)) {
            return Tokenizer.fromGguf(g);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A small byte-level vocabulary: the 256 byte symbols, merges for common English pairs and for the UTF-8 bytes
     * of é and of the first three bytes of 🦙 (so a character can end inside a token), a normal token spelled outside
     * the byte alphabet, two control tokens and a user-defined one.
     */
    static ByteLevelBpe builtinByteLevel(PreTokenizer pre) {
        Map<String, TokenType> vocab = new LinkedHashMap<>();
        // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other 68 become U+0100.. in order
        int next = 0x100;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            vocab.put(String.valueOf((char) (printable ? b : next++)), TokenType.NORMAL);
        }
        String[][] merges = {{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"i", "n"}, {"Ġ", "a"}, {"e", "r"}, {"a", "n"},
                {"Ġ", "s"}, {"o", "n"}, {"r", "e"}, {"in", "g"}, {"Ġ", "w"}, {"o", "u"}, {"Ġ", "Ġ"}, {"ĠĠ", "ĠĠ"},
                {"Ċ", "Ċ"}, {"Ã", "©"}, {"ð", "Ł"}, {"ðŁ", "¦"}, {"1", "2"}, {"12", "3"}};
        List<String> mergeList = new ArrayList<>();
        for (String[] m : merges) {
            mergeList.add(m[0] + " " + m[1]);
            vocab.putIfAbsent(m[0] + m[1], TokenType.NORMAL);
        }
        vocab.put("é", TokenType.NORMAL); // outside the alphabet: prints its own UTF-8
        vocab.put("<|endoftext|>", TokenType.CONTROL);
        vocab.put("<|im_start|>", TokenType.CONTROL);
        vocab.put("<tool>", TokenType.USER_DEFINED);
        String[] pieces = vocab.keySet().toArray(String[]::new);
        TokenType[] types = vocab.values().toArray(TokenType[]::new);
        int eos = List.of(pieces).indexOf("<|endoftext|>");
        return new ByteLevelBpe(pieces, types, mergeList.toArray(String[]::new), eos, eos, -1, false, false, pre, false);
    }

    /**
     * The text of an input after its flag byte: UTF-8 (malformed bytes become U+FFFD) when bit 7 of the flags is
     * clear, else UTF-16BE read char by char, so lone surrogates and every other char can occur.
     */
    static String text(byte[] data, int from) {
        if (data.length <= from) return "";
        if ((data[0] & 0x80) == 0) {
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                        .onUnmappableCharacter(CodingErrorAction.REPLACE)
                        .decode(ByteBuffer.wrap(data, from, data.length - from)).toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                throw new AssertionError(e); // REPLACE never throws
            }
        }
        var sb = new StringBuilder();
        for (int i = from; i + 1 < data.length; i += 2) sb.append((char) (((data[i] & 0xFF) << 8) | (data[i + 1] & 0xFF)));
        return sb.toString();
    }

    /** Whether every surrogate of the text is part of a pair (only such texts have a UTF-8 form to come back to). */
    static boolean wellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return false;
            }
        }
        return true;
    }
}
