package dev.infercl.tokenizer;

import dev.infercl.gguf.GgufFile;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * GPT-2 style byte-level BPE, as llama.cpp runs it for GGUF files with {@code tokenizer.ggml.model = "gpt2"}
 * (GPT-2, Llama 3, Qwen, DeepSeek, Falcon, StarCoder …).
 *
 * <p>Encoding: special tokens written literally in the text are cut out first (user-defined ones always, control
 * ones only when asked); each remaining run is split into words by the {@link PreTokenizer} named by
 * {@code tokenizer.ggml.pre}; each word's UTF-8 bytes are spelled in the byte-to-unicode alphabet (below) and merged
 * pairwise, always taking the adjacent pair with the lowest merge rank ({@code tokenizer.ggml.merges}, rank = index;
 * ties: leftmost), until no adjacent pair has a rank. Each resulting symbol is its vocabulary id; a symbol missing
 * from the vocabulary falls back to its single-byte tokens.
 *
 * <p>The byte-to-unicode alphabet: the printable bytes {@code !..~}, {@code ¡..¬}, {@code ®..ÿ} stand for
 * themselves; the other 68 bytes, in increasing order, become U+0100, U+0101, … (so space is 'Ġ', newline 'Ċ').
 * Every byte is one char, so a word of n bytes starts as n one-char symbols.
 *
 * <p>Decoding concatenates token bytes: normal tokens mapped back through the alphabet, user-defined tokens as
 * their text, control tokens as nothing (llama.cpp's default). No clean-up of spaces is applied, so
 * {@code decode} equals what {@link StreamDecoder} prints piece by piece.
 *
 * <p>Immutable and thread-safe (the word cache is concurrent and bounded).
 */
public final class ByteLevelBpe extends VocabularyTokenizer {

    private static final Logger LOG = Logger.getLogger(ByteLevelBpe.class.getName());

    /** Token texts that mark an end of turn when the vocabulary has them as special tokens. */
    private static final Set<String> END_OF_TURN_NAMES = Set.of("<|endoftext|>", "<|im_end|>", "<|eot_id|>",
            "<|eom_id|>", "<|end|>", "<end_of_turn>", "<|end_of_text|>", "<EOT>", "<|end▁of▁sentence|>",
            "<｜end▁of▁sentence｜>");

    private static final int CACHE_LIMIT = 65_536;   // words
    private static final int CACHE_WORD_LIMIT = 64;  // chars; longer words are not cached

    /** byte -> its char in the byte-level alphabet. */
    private static final char[] BYTE_TO_CHAR = new char[256];
    /** char (0..0x143) -> its byte, or -1. */
    private static final int[] CHAR_TO_BYTE = new int[0x200];

    static {
        Arrays.fill(CHAR_TO_BYTE, -1);
        int next = 0x100;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) next++;
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private final Map<String, Integer> ranks; // "left right" -> merge rank
    private final int[] byteIds;              // (256) id of each single-byte symbol, or -1
    private final boolean ignoreMerges;
    private final PreTokenizer preTokenizer;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * A tokenizer over the given vocabulary.
     *
     * @param pieces the token strings in the byte-level alphabet (user-defined and control tokens as plain text)
     * @param types token types; null means all {@link TokenType#NORMAL}
     * @param merges "left right" pairs, highest priority first
     * @param bosId beginning-of-sequence id or -1
     * @param eosId end-of-sequence id or -1
     * @param eotId an extra end-of-turn id or -1
     * @param preTokenizer the word split
     * @param ignoreMerges look whole words up in the vocabulary before merging (Llama 3)
     */
    public ByteLevelBpe(String[] pieces, TokenType[] types, String[] merges, int bosId, int eosId, int eotId,
                        boolean addBos, boolean addEos, PreTokenizer preTokenizer, boolean ignoreMerges) {
        super(pieces, types, bosId, eosId, eotId, addBos, addEos, ByteLevelBpe::pieceBytes, t -> t == TokenType.CONTROL || t == TokenType.USER_DEFINED,
                END_OF_TURN_NAMES, true);
        this.preTokenizer = preTokenizer;
        this.ignoreMerges = ignoreMerges;

        ranks = HashMap.newHashMap(merges.length);
        for (int r = 0; r < merges.length; r++) {
            String m = merges[r];
            int sp = m.indexOf(' ', 1);
            if (sp < 0) {
                throw new IllegalArgumentException("merge " + r + " is not two symbols separated by a space: '" + m + "'");
            }
            ranks.putIfAbsent(m, r);
        }

        byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            byteIds[b] = ids.getOrDefault(String.valueOf(BYTE_TO_CHAR[b]), -1);
        }
    }

    /** Reads {@code tokenizer.ggml.*} metadata; warnings (an unknown pre-tokenizer) go to java.util.logging. */
    public static ByteLevelBpe fromGguf(GgufFile file) throws IOException {
        return fromGguf(file, msg -> LOG.warning(file.path() + ": " + msg));
    }

    /** Reads {@code tokenizer.ggml.*} metadata, reporting warnings to {@code warn}. */
    public static ByteLevelBpe fromGguf(GgufFile file, Consumer<String> warn) throws IOException {
        String[] tokens = GgufTokenizerKeys.requireStringArray(file, "tokenizer.ggml.tokens");
        String[] merges = GgufTokenizerKeys.requireStringArray(file, "tokenizer.ggml.merges");
        TokenType[] types = null;
        if (file.has("tokenizer.ggml.token_type")) {
            int[] codes = file.getIntArray("tokenizer.ggml.token_type");
            types = new TokenType[codes.length];
            for (int i = 0; i < codes.length; i++) {
                types[i] = TokenType.of(codes[i]);
            }
        }
        String pre = file.has("tokenizer.ggml.pre") ? file.getString("tokenizer.ggml.pre") : null;
        try {
            return new ByteLevelBpe(tokens, types, merges,
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.bos_token_id", -1, tokens.length),
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.eos_token_id", -1, tokens.length),
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.eot_token_id", -1, tokens.length),
                    file.getBoolean("tokenizer.ggml.add_bos_token", PreTokenizer.addsBosByDefault(pre)),
                    file.getBoolean("tokenizer.ggml.add_eos_token", false),
                    PreTokenizer.forName(pre, warn),
                    PreTokenizer.ignoresMerges(pre));
        } catch (IllegalArgumentException e) {
            throw new TokenizerException(file.path() + ": bad tokenizer metadata: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // encoding

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        var out = new IntList(text.length() / 3 + 4);
        if (addBos && bosId >= 0) {
            out.add(bosId);
        }
        for (SpecialTokens.Fragment f : SpecialTokens.partition(text, specials, pieces, types, parseSpecial)) {
            if (f.token() >= 0) {
                out.add(f.token());
                continue;
            }
            for (String word : preTokenizer.split(text.substring(f.start(), f.end()))) {
                encodeWord(word, out);
            }
        }
        if (addBos && addEos && eosId >= 0) {
            out.add(eosId);
        }
        return out.toArray();
    }

    /** The byte-level spelling of a string: its UTF-8 bytes, one alphabet char each. */
    static String toByteLevel(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        char[] c = new char[b.length];
        for (int i = 0; i < b.length; i++) {
            c[i] = BYTE_TO_CHAR[b[i] & 0xFF];
        }
        return new String(c);
    }

    private void encodeWord(String word, IntList out) {
        int[] cached = cache.get(word);
        if (cached == null) {
            cached = bpe(toByteLevel(word));
            if (word.length() <= CACHE_WORD_LIMIT && cache.size() < CACHE_LIMIT) {
                cache.putIfAbsent(word, cached);
            }
        }
        for (int id : cached) {
            out.add(id);
        }
    }

    /** A candidate merge of symbol {@code left} with its right neighbour {@code right}. */
    private record Bigram(int left, int right, int rank, int length) {}

    private static final Comparator<Bigram> BEST_FIRST = (a, b) -> {
        int c = Integer.compare(a.rank, b.rank);               // lower rank first
        return c != 0 ? c : Integer.compare(a.left, b.left);   // ties: leftmost first
    };

    /** Merges one word (in the byte-level alphabet): symbols in a linked list, candidate merges in a heap. */
    private int[] bpe(String s) {
        var out = new IntList(s.length());
        if (ignoreMerges) {
            Integer whole = ids.get(s);
            if (whole != null) {
                out.add(whole);
                return out.toArray();
            }
        }
        int n = s.length();
        // symbol i covers s[start[i], start[i] + len[i]); len 0 means merged away
        int[] start = new int[n], len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            start[i] = i;
            len[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        var queue = new PriorityQueue<Bigram>(Math.max(1, n), BEST_FIRST);
        for (int i = 1; i < n; i++) {
            offer(queue, s, start, len, i - 1, i);
        }
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            int l = b.left, r = b.right;
            if (len[l] == 0 || len[r] == 0 || next[l] != r || len[l] + len[r] != b.length) {
                continue; // stale: one side has merged with something else since
            }
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) {
                prev[next[r]] = l;
            }
            offer(queue, s, start, len, prev[l], l);
            offer(queue, s, start, len, l, next[l]);
        }
        for (int i = n == 0 ? -1 : 0; i >= 0; i = next[i]) {
            String sym = s.substring(start[i], start[i] + len[i]);
            Integer id = ids.get(sym);
            if (id != null) {
                out.add(id);
            } else {
                for (int k = 0; k < sym.length(); k++) {
                    int bid = byteIds[CHAR_TO_BYTE[sym.charAt(k)]];
                    if (bid >= 0) {
                        out.add(bid);
                    }
                }
            }
        }
        return out.toArray();
    }

    private void offer(PriorityQueue<Bigram> queue, String s, int[] start, int[] len, int left, int right) {
        if (left < 0 || right < 0) {
            return;
        }
        String key = s.substring(start[left], start[left] + len[left]) + ' '
                + s.substring(start[right], start[right] + len[right]);
        Integer rank = ranks.get(key);
        if (rank != null) {
            queue.add(new Bigram(left, right, rank, len[left] + len[right]));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // decoding

    /** The raw bytes of a piece in the byte-level alphabet (chars outside it stand for their own UTF-8). */
    static byte[] fromByteLevel(String piece) {
        var out = new ByteArrayOutputStream(piece.length());
        for (int i = 0; i < piece.length(); ) {
            int cp = piece.codePointAt(i);
            int b = cp < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[cp] : -1;
            if (b >= 0) {
                out.write(b);
            } else {
                out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
            }
            i += Character.charCount(cp);
        }
        return out.toByteArray();
    }

    private static byte[] pieceBytes(String piece, TokenType type) {
        return switch (type) {
            case NORMAL, BYTE, UNDEFINED -> fromByteLevel(piece);
            case USER_DEFINED -> piece.getBytes(StandardCharsets.UTF_8);
            default -> new byte[0]; // control, unknown, unused: printed as nothing
        };
    }

    @Override
    public String decode(int[] ids) {
        var out = new ByteArrayOutputStream(ids.length * 4);
        for (int i = 0; i < ids.length; i++) {
            if (i == 0 && ids[0] == bosId) {
                continue;
            }
            out.writeBytes(bytes[check(ids[i])]);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** The merge rank of "left right", or -1. */
    public int mergeRank(String left, String right) {
        return ranks.getOrDefault(left + " " + right, -1);
    }

    public PreTokenizer preTokenizer() {
        return preTokenizer;
    }
}
