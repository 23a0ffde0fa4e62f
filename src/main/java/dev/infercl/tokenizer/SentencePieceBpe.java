package dev.infercl.tokenizer;

import dev.infercl.gguf.GgufFile;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * The SentencePiece BPE tokenizer as llama.cpp runs it for GGUF files with {@code tokenizer.ggml.model = "llama"}
 * ("SPM"): spaces become '▁', a '▁' is prefixed to the text, and the adjacent pair of symbols whose concatenation
 * is the highest-scoring vocabulary piece is merged until no pair forms a piece; leftovers fall back to
 * {@code <0xNN>} byte tokens.
 *
 * <p>Immutable and thread-safe.
 */
public final class SentencePieceBpe extends VocabularyTokenizer {

    /** The escaped space, U+2581 LOWER ONE EIGHTH BLOCK. */
    public static final char SPACE = '\u2581';

    /** Control tokens whose name marks an end of turn; they end generation like EOS. */
    private static final Set<String> END_OF_TURN_NAMES =
            Set.of("<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "<EOT>");

    private final float[] scores;           // (vocab)
    private final int[] byteIds;            // (256) token id of each byte, or the unknown id, or -1
    private final int unkId, padId;
    private final boolean addSpacePrefix;

    /**
     * A tokenizer over the given vocabulary.
     *
     * @param pieces the token strings, '▁' for space
     * @param scores merge priorities (higher merges first); null means all 0
     * @param types token types; null means all {@link TokenType#NORMAL}
     * @param bosId beginning-of-sequence id or -1
     * @param eosId end-of-sequence id or -1
     * @param unkId unknown id or -1
     * @param padId padding id or -1
     * @param eotId an extra end-of-turn id or -1
     */
    public SentencePieceBpe(String[] pieces, float[] scores, TokenType[] types, int bosId, int eosId, int unkId,
                            int padId, int eotId, boolean addBos, boolean addEos, boolean addSpacePrefix) {
        super(pieces, types, bosId, eosId, eotId, addBos, addEos, SentencePieceBpe::pieceBytes, t -> t == TokenType.CONTROL || t == TokenType.USER_DEFINED || t == TokenType.UNKNOWN,
                END_OF_TURN_NAMES, false);
        int n = pieces.length;
        if (scores != null && scores.length != n) {
            throw new IllegalArgumentException("scores has " + scores.length + " entries for " + n + " tokens");
        }
        this.scores = scores == null ? new float[n] : scores.clone();
        this.unkId = checkId("unknown", unkId, n);
        this.padId = checkId("padding", padId, n);
        this.addSpacePrefix = addSpacePrefix;

        byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = ids.get(String.format("<0x%02X>", b));
            if (id == null && b < 0x80) {
                id = ids.get(String.valueOf((char) b));
            }
            byteIds[b] = id != null ? id : this.unkId;
        }
    }

    /** Reads {@code tokenizer.ggml.*} metadata (the caller has checked that the model is "llama"). */
    public static SentencePieceBpe fromGguf(GgufFile file) throws IOException {
        String[] tokens = GgufTokenizerKeys.requireStringArray(file, "tokenizer.ggml.tokens");
        float[] scores = file.has("tokenizer.ggml.scores") ? file.getFloatArray("tokenizer.ggml.scores") : null;
        TokenType[] types = null;
        if (file.has("tokenizer.ggml.token_type")) {
            int[] codes = file.getIntArray("tokenizer.ggml.token_type");
            types = new TokenType[codes.length];
            for (int i = 0; i < codes.length; i++) {
                types[i] = TokenType.of(codes[i]);
            }
        }
        try {
            return new SentencePieceBpe(tokens, scores, types,
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.bos_token_id", 1, tokens.length),
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.eos_token_id", 2, tokens.length),
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.unknown_token_id", 0, tokens.length),
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.padding_token_id", -1, tokens.length),
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.eot_token_id", -1, tokens.length),
                    file.getBoolean("tokenizer.ggml.add_bos_token", true),
                    file.getBoolean("tokenizer.ggml.add_eos_token", false),
                    file.getBoolean("tokenizer.ggml.add_space_prefix", true));
        } catch (IllegalArgumentException e) {
            throw new TokenizerException(file.path() + ": bad tokenizer metadata: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // encoding

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        var out = new IntList(text.length() / 2 + 4);
        if (addBos && bosId >= 0) {
            out.add(bosId);
        }
        // like llama.cpp: a text fragment gets the '▁' prefix when it starts the text or follows a special token
        boolean afterSpecial = true;
        for (Fragment f : partition(text, parseSpecial)) {
            if (f.token >= 0) {
                out.add(f.token);
                afterSpecial = true;
            } else {
                String raw = text.substring(f.start, f.end);
                String escaped = ((addSpacePrefix && afterSpecial) ? " " + raw : raw).replace(' ', SPACE);
                encodeFragment(escaped, out);
                afterSpecial = false;
            }
        }
        if (addBos && addEos && eosId >= 0) {
            out.add(eosId);
        }
        return out.toArray();
    }

    /** A run of text [start, end) or, when token >= 0, a special token matched literally there. */
    private record Fragment(int start, int end, int token) {}

    /**
     * Splits the text at literal occurrences of special tokens, longest token first; each token splits every
     * remaining text fragment at all its non-overlapping occurrences, left to right. User-defined tokens are
     * always matched; control and unknown tokens only when {@code parseSpecial}.
     */
    private List<Fragment> partition(String text, boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (text.isEmpty()) {
            return fragments;
        }
        fragments.add(new Fragment(0, text.length(), -1));
        for (int id : specials) {
            if (!parseSpecial && types[id] != TokenType.USER_DEFINED) {
                continue;
            }
            String p = pieces[id];
            List<Fragment> next = null;
            for (int i = 0; i < fragments.size(); i++) {
                Fragment f = fragments.get(i);
                int at = f.token >= 0 ? -1 : text.indexOf(p, f.start, f.end);
                if (at < 0) {
                    if (next != null) {
                        next.add(f);
                    }
                    continue;
                }
                if (next == null) {
                    next = new ArrayList<>(fragments.subList(0, i));
                }
                int base = f.start;
                while (at >= 0) {
                    if (at > base) {
                        next.add(new Fragment(base, at, -1));
                    }
                    next.add(new Fragment(at, at + p.length(), id));
                    base = at + p.length();
                    at = text.indexOf(p, base, f.end);
                }
                if (base < f.end) {
                    next.add(new Fragment(base, f.end, -1));
                }
            }
            if (next != null) {
                fragments = next;
            }
        }
        return fragments;
    }

    /** A candidate merge of symbol {@code left} with its right neighbour {@code right}. */
    private record Bigram(int left, int right, float score, int length) {}

    private static final Comparator<Bigram> BEST_FIRST = (a, b) -> {
        int c = Float.compare(b.score, a.score);   // higher score first
        return c != 0 ? c : Integer.compare(a.left, b.left); // ties: leftmost first
    };

    /** The BPE merge loop over one escaped fragment: symbols in a linked list, candidate merges in a heap. */
    private void encodeFragment(String s, IntList out) {
        int n = s.codePointCount(0, s.length());
        // symbol i covers s[start[i], start[i] + len[i]); len 0 means merged away
        int[] start = new int[n], len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0, pos = 0; i < n; i++) {
            int cp = s.codePointAt(pos);
            start[i] = pos;
            len[i] = Character.charCount(cp);
            pos += len[i];
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
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.length) {
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
                for (byte b : sym.getBytes(StandardCharsets.UTF_8)) {
                    int bid = byteIds[b & 0xFF];
                    if (bid >= 0) {
                        out.add(bid);
                    }
                }
            }
        }
    }

    private void offer(PriorityQueue<Bigram> queue, String s, int[] start, int[] len, int left, int right) {
        if (left < 0 || right < 0) {
            return;
        }
        int length = len[left] + len[right];
        Integer id = ids.get(s.substring(start[left], start[left] + length));
        if (id != null) {
            queue.add(new Bigram(left, right, scores[id], length));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // decoding

    private static byte[] pieceBytes(String piece, TokenType type) {
        return switch (type) {
            case NORMAL -> piece.replace(SPACE, ' ').getBytes(StandardCharsets.UTF_8);
            case BYTE -> {
                int b = parseByteToken(piece);
                yield b >= 0 ? new byte[] {(byte) b} : piece.getBytes(StandardCharsets.UTF_8);
            }
            case USER_DEFINED -> piece.getBytes(StandardCharsets.UTF_8);
            default -> new byte[0]; // control, unknown, unused: printed as nothing (llama.cpp without "special")
        };
    }

    /** The byte of a piece spelled {@code <0xNN>}, or -1. */
    static int parseByteToken(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') {
            return -1;
        }
        int hi = Character.digit(piece.charAt(3), 16), lo = Character.digit(piece.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    /**
     * {@inheritDoc}
     *
     * <p>A leading BOS is skipped, and when the vocabulary adds a space prefix one leading space of the first
     * piece after it is dropped, so {@code decode(encode(text, true, false))} gives back {@code text}. (llama.cpp's
     * {@code llama_detokenize} drops that space only when the first id is not BOS.)
     */
    @Override
    public String decode(int[] ids) {
        var out = new ByteArrayOutputStream(ids.length * 4);
        boolean first = true;
        for (int i = 0; i < ids.length; i++) {
            if (i == 0 && ids[0] == bosId) {
                continue;
            }
            byte[] b = tokenBytes(ids[i]);
            int skip = first && addSpacePrefix && b.length > 0 && b[0] == ' ' ? 1 : 0;
            out.write(b, skip, b.length - skip);
            first = false;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public boolean stripsLeadingSpace() {
        return addSpacePrefix;
    }

    /** The token's merge score. */
    public float score(int id) {
        return scores[check(id)];
    }

    public boolean addSpacePrefix() {
        return addSpacePrefix;
    }

    public int unknownId() {
        return unkId;
    }

    public int paddingId() {
        return padId;
    }
}
