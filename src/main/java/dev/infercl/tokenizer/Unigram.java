package dev.infercl.tokenizer;

import dev.infercl.gguf.GgufFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * SentencePiece's unigram model ({@code tokenizer.ggml.model = "t5"}, llama.cpp's UGM tokenizer), as T5 uses it:
 *
 * <ol>
 *   <li>Normalisation, per text fragment between special tokens, as llama.cpp's {@code normalize}: with a
 *       {@code tokenizer.ggml.precompiled_charsmap} (SentencePiece's normaliser: a darts-clone double array of UTF-8
 *       prefixes, then their NUL-terminated replacements) the longest matching prefix is replaced, else one character is
 *       kept. Whitespace, on the result: with {@code remove_extra_whitespaces} (T5's default) spaces are dropped and a
 *       {@code ▁} is put before each maximal run of non-space characters; without it each space becomes {@code ▁} and,
 *       with {@code add_space_prefix}, one {@code ▁} goes before the fragment's first non-space character.</li>
 *   <li>Viterbi over the normalised text, one character at a time: from each character boundary every piece of type
 *       normal, user-defined (score 0) or unused that matches there is a candidate; a path scores the sum of its piece
 *       scores (added in double, kept as float, as llama.cpp does); only a strictly greater score replaces the best path
 *       ending at a position, so on a tie the shorter, earlier candidate wins. A character no piece covers becomes
 *       {@code <unk>} scored (lowest normal score − 10); consecutive unknowns merge into one.</li>
 *   <li>With special tokens ({@code encode(text, true, …)}, the default when the file's {@code add_eos_token} is true):
 *       no BOS, {@code </s>} appended.</li>
 * </ol>
 *
 * <p>Not supported: {@code escape_whitespaces = false} and {@code treat_whitespace_as_suffix} (both absent from T5
 * files; llama.cpp reads them only from a SentencePiece model, not from GGUF). Decoding is {@link SentencePieceBpe}'s (▁ as space,
 * byte pieces as bytes). Immutable and thread-safe.
 */
public final class Unigram implements Tokenizer {
    private static final double UNKNOWN_PENALTY = 10.0;

    private final SentencePieceBpe vocab;        // decoding and the piece table
    private final Map<String, Integer> matchable; // normal, user-defined and unused pieces -> id (the last id wins)
    private final float[] scores;                // (vocab) the score a piece adds to a path
    private final int maxPieceChars;
    private final int unkId, eosId;
    private final float unknownScore;
    private final boolean addEos, removeExtraWhitespace, addSpacePrefix;
    private final int[] specials;                // ids matched literally in the text, longest piece first
    private final int[] xcda;                    // precompiled charsmap: the double array's units (empty: none)
    private final byte[] replacements;           // and its NUL-terminated replacement strings

    public Unigram(String[] pieces, float[] scores, TokenType[] types, int eosId, int unkId, int padId,
                   boolean addEos, boolean addSpacePrefix, boolean removeExtraWhitespace) {
        this(pieces, scores, types, eosId, unkId, padId, addEos, addSpacePrefix, removeExtraWhitespace, null);
    }

    /**
     * @param charsmap {@code tokenizer.ggml.precompiled_charsmap}: a little-endian uint32 byte count of the double
     *                 array, its units (uint32 each), then the replacement strings; null or empty: no normalisation
     */
    public Unigram(String[] pieces, float[] scores, TokenType[] types, int eosId, int unkId, int padId,
                   boolean addEos, boolean addSpacePrefix, boolean removeExtraWhitespace, byte[] charsmap) {
        if (charsmap != null && charsmap.length > 0) {
            if (charsmap.length < 4) throw new IllegalArgumentException("precompiled_charsmap of " + charsmap.length + " bytes has no size");
            var bb = java.nio.ByteBuffer.wrap(charsmap).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            long size = Integer.toUnsignedLong(bb.getInt());
            if (size % 4 != 0 || 4 + size >= charsmap.length) {
                throw new IllegalArgumentException("precompiled_charsmap: a double array of " + size + " bytes does not fit " + charsmap.length + " bytes with its replacements");
            }
            xcda = new int[(int) (size / 4)];
            for (int i = 0; i < xcda.length; i++) xcda[i] = bb.getInt();
            replacements = Arrays.copyOfRange(charsmap, 4 + (int) size, charsmap.length);
        } else {
            xcda = new int[0];
            replacements = new byte[0];
        }
        this.vocab = new SentencePieceBpe(pieces, scores, types, -1, eosId, unkId, padId, -1, false, false, addSpacePrefix);
        int n = pieces.length;
        if (scores == null || scores.length != n) {
            throw new IllegalArgumentException("a unigram vocabulary needs one score per piece: " + (scores == null ? "none" : scores.length + " for " + n));
        }
        this.scores = new float[n];
        this.matchable = HashMap.newHashMap(n);
        float minScore = Float.MAX_VALUE;
        int longest = 1;
        var special = new ArrayList<Integer>();
        for (int id = 0; id < n; id++) {
            TokenType t = vocab.type(id);
            if (t == TokenType.NORMAL) minScore = Math.min(minScore, scores[id]);
            if (t == TokenType.NORMAL || t == TokenType.USER_DEFINED || t == TokenType.UNUSED) {
                if (!pieces[id].isEmpty()) {
                    matchable.put(pieces[id], id);
                    longest = Math.max(longest, pieces[id].length());
                }
                this.scores[id] = t == TokenType.USER_DEFINED ? 0f : scores[id];
            }
            if ((t == TokenType.CONTROL || t == TokenType.USER_DEFINED) && !pieces[id].isEmpty()) special.add(id);
        }
        special.sort((a, b) -> a.equals(b) ? 0 : pieces[b].length() != pieces[a].length() ? pieces[b].length() - pieces[a].length() : a - b);
        this.specials = special.stream().mapToInt(Integer::intValue).toArray();
        this.maxPieceChars = longest;
        this.unkId = unkId;
        this.eosId = eosId;
        this.unknownScore = (float) ((minScore == Float.MAX_VALUE ? 0 : minScore) - UNKNOWN_PENALTY);
        this.addEos = addEos;
        this.addSpacePrefix = addSpacePrefix;
        this.removeExtraWhitespace = removeExtraWhitespace;
    }

    /** Reads {@code tokenizer.ggml.*} metadata (the caller has checked that the model is "t5"). */
    public static Unigram fromGguf(GgufFile file) throws IOException {
        byte[] charsmap = null;
        Object cm = file.get("tokenizer.ggml.precompiled_charsmap").orElse(null);
        if (cm != null) {
            if (!(cm instanceof GgufFile.MetadataArray a) || !(a.values() instanceof long[] v)
                    || (a.elementType() != dev.infercl.gguf.GgufValueType.UINT8 && a.elementType() != dev.infercl.gguf.GgufValueType.INT8)) {
                throw new TokenizerException(file.path().getFileName() + ": metadata 'tokenizer.ggml.precompiled_charsmap' is not an array of bytes");
            }
            charsmap = new byte[v.length];
            for (int i = 0; i < v.length; i++) charsmap[i] = (byte) v[i];
        }
        String[] tokens = GgufTokenizerKeys.requireStringArray(file, "tokenizer.ggml.tokens");
        if (!file.has("tokenizer.ggml.scores")) throw GgufTokenizerKeys.missing(file, "tokenizer.ggml.scores");
        float[] scores = file.getFloatArray("tokenizer.ggml.scores");
        TokenType[] types = null;
        if (file.has("tokenizer.ggml.token_type")) {
            int[] codes = file.getIntArray("tokenizer.ggml.token_type");
            types = new TokenType[codes.length];
            for (int i = 0; i < codes.length; i++) types[i] = TokenType.of(codes[i]);
        }
        try {
            return new Unigram(tokens, scores, types,
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.eos_token_id", 1, tokens.length),
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.unknown_token_id", 2, tokens.length),
                    GgufTokenizerKeys.tokenId(file, "tokenizer.ggml.padding_token_id", 0, tokens.length),
                    file.getBoolean("tokenizer.ggml.add_eos_token", true),
                    file.getBoolean("tokenizer.ggml.add_space_prefix", true),
                    file.getBoolean("tokenizer.ggml.remove_extra_whitespaces", true), charsmap);
        } catch (IllegalArgumentException e) {
            throw new TokenizerException(file.path() + ": bad tokenizer metadata: " + e.getMessage(), e);
        }
    }

    /**
     * Encodes text; {@code addSpecial} (the {@code addBos} argument: llama.cpp's {@code add_special}) appends {@code </s>}
     * when the vocabulary asks for it. There is never a BOS.
     */
    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        var out = new IntList(text.length() / 2 + 4);
        int from = 0;
        while (from <= text.length()) {
            int at = -1, id = -1;
            if (parseSpecial || hasUserDefined()) {
                for (int s : specials) {
                    if (!parseSpecial && vocab.type(s) != TokenType.USER_DEFINED) continue;
                    int i = text.indexOf(vocab.piece(s), from);
                    if (i >= 0 && (at < 0 || i < at)) {
                        at = i;
                        id = s;
                    }
                }
            }
            int end = at < 0 ? text.length() : at;
            if (end > from) segment(normalize(text.substring(from, end)), out);
            if (at < 0) break;
            out.add(id);
            from = at + vocab.piece(id).length();
        }
        if (addSpecial && addEos && eosId >= 0) out.add(eosId);
        return out.toArray();
    }

    private boolean hasUserDefined() {
        for (int s : specials) if (vocab.type(s) == TokenType.USER_DEFINED) return true;
        return false;
    }

    private static final byte[] ESCAPED_SPACE = String.valueOf(SentencePieceBpe.SPACE).getBytes(java.nio.charset.StandardCharsets.UTF_8);

    /** llama.cpp's UGM {@code normalize} of one text fragment (see the class comment). */
    String normalize(String text) {
        byte[] in = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        var out = new java.io.ByteArrayOutputStream(in.length * 3 / 2 + 8);
        boolean prepended = false, inWord = false;
        for (int off = 0; off < in.length; ) {
            int[] match = longestPrefix(in, off);   // {consumed bytes, replacement offset}, or null
            int consumed, from, to;
            byte[] src;
            if (match != null) {
                consumed = match[0];
                src = replacements;
                from = match[1];
                to = from;
                while (to < replacements.length && replacements[to] != 0) to++;
            } else {
                consumed = utf8Length(in[off]);
                src = in;
                from = off;
                to = Math.min(in.length, off + consumed);
            }
            for (int i = from; i < to; i++) {
                byte c = src[i];
                if (c != ' ') {
                    if (!inWord) {
                        inWord = true;
                        if ((addSpacePrefix && !prepended) || removeExtraWhitespace) {
                            out.writeBytes(ESCAPED_SPACE);
                            prepended = true;
                        }
                    }
                    out.write(c);
                } else {
                    inWord = false;
                    if (!removeExtraWhitespace) out.writeBytes(ESCAPED_SPACE);
                }
            }
            off += consumed;
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * The longest prefix of in[off..] the charsmap's double array holds (darts-clone units: base = (u &gt;&gt; 10) &lt;&lt;
     * ((u &amp; 512) &gt;&gt; 6), label and value flag = u &amp; (2³¹ | 0xFF), has-leaf = bit 8, value = u &amp; (2³¹ − 1)),
     * as {consumed bytes, offset of its replacement}; null when none (or no charsmap).
     */
    private int[] longestPrefix(byte[] in, int off) {
        if (xcda.length == 0) return null;
        int[] best = null;
        int node = base(0);
        for (int p = off; p < in.length; p++) {
            int c = in[p] & 0xFF;
            if (c == 0) break;
            node ^= c;
            if (node < 0 || node >= xcda.length || (xcda[node] & (0x80000000 | 0xFF)) != c) break;
            boolean leaf = ((xcda[node] >>> 8) & 1) != 0;
            node ^= base(node);
            if (node < 0 || node >= xcda.length) break;
            if (leaf) {
                int value = xcda[node] & 0x7FFFFFFF;
                if (value >= replacements.length) {
                    throw new IllegalStateException("precompiled_charsmap: replacement offset " + value + " is past its " + replacements.length + " bytes");
                }
                best = new int[] {p - off + 1, value};
            }
        }
        return best;
    }

    private int base(int index) {
        int u = xcda[index];
        return (u >>> 10) << ((u & (1 << 9)) >>> 6);
    }

    /** Bytes of the UTF-8 sequence a lead byte starts (1 for a stray continuation byte). */
    private static int utf8Length(byte lead) {
        int b = lead & 0xFF;
        return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    }

    /** Viterbi over the normalised text: the best-scoring split into pieces (llama.cpp's {@code llm_tokenizer_ugm}). */
    private void segment(String s, IntList out) {
        int n = s.length();
        if (n == 0) return;
        float[] best = new float[n + 1];
        int[] token = new int[n + 1], start = new int[n + 1];
        Arrays.fill(best, -Float.MAX_VALUE);
        best[0] = 0;
        int i = 0;
        while (i < n) {
            int charLen = Character.charCount(s.codePointAt(i));
            boolean single = false;
            for (int len = 1; len <= Math.min(maxPieceChars, n - i); len++) {
                Integer id = matchable.get(s.substring(i, i + len));
                if (id == null) continue;
                float score = (float) ((double) best[i] + scores[id]);
                if (score > best[i + len]) {
                    best[i + len] = score;
                    token[i + len] = id;
                    start[i + len] = i;
                }
                if (len == charLen) single = true;
            }
            if (!single) {
                float score = (float) ((double) best[i] + unknownScore);
                if (score > best[i + charLen]) {
                    best[i + charLen] = score;
                    token[i + charLen] = unkId;
                    start[i + charLen] = i;
                }
            }
            i += charLen;
        }
        List<Integer> rev = new ArrayList<>();
        boolean prevUnknown = false;
        for (int at = n; at > 0; at = start[at]) {
            boolean unknown = token[at] == unkId;
            if (!(unknown && prevUnknown)) rev.add(token[at]);
            prevUnknown = unknown;
        }
        for (int k = rev.size() - 1; k >= 0; k--) out.add(rev.get(k));
    }

    /** True: a T5 prompt gets its specials ({@code </s>} appended) by default; the flag is llama.cpp's add_special. */
    @Override
    public boolean addBosByDefault() {
        return addEos;
    }

    @Override
    public String decode(int[] ids) {
        return vocab.decode(ids);
    }

    @Override
    public byte[] tokenBytes(int id) {
        return vocab.tokenBytes(id);
    }

    @Override
    public String piece(int id) {
        return vocab.piece(id);
    }

    @Override
    public int vocabSize() {
        return vocab.vocabSize();
    }

    @Override
    public int bosId() {
        return -1;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return vocab.isEndOfGeneration(id);
    }

    @Override
    public boolean stripsLeadingSpace() {
        return vocab.stripsLeadingSpace();
    }

    public int unknownId() {
        return unkId;
    }
}
