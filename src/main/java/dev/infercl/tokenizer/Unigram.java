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
 *   <li>Whitespace: with {@code remove_extra_whitespaces} (T5's default) spaces are dropped and a {@code ▁} is put before
 *       each maximal run of non-space characters; without it each space becomes {@code ▁} and, with
 *       {@code add_space_prefix}, one {@code ▁} starts the text.</li>
 *   <li>Viterbi over the normalised text, one character at a time: from each character boundary every piece of type
 *       normal, user-defined (score 0) or unused that matches there is a candidate; a path scores the sum of its piece
 *       scores (added in double, kept as float, as llama.cpp does); only a strictly greater score replaces the best path
 *       ending at a position, so on a tie the shorter, earlier candidate wins. A character no piece covers becomes
 *       {@code <unk>} scored (lowest normal score − 10); consecutive unknowns merge into one.</li>
 *   <li>With special tokens ({@code encode(text, true, …)}, the default when the file's {@code add_eos_token} is true):
 *       no BOS, {@code </s>} appended.</li>
 * </ol>
 *
 * <p>Not supported: {@code tokenizer.ggml.precompiled_charsmap} (SentencePiece's NFKC-style normalisation table, which
 * real T5/mT5 files carry). A file that has one is refused with a {@link TokenizerException} naming the key rather than
 * tokenized differently from llama.cpp. Also not done: {@code escape_whitespaces = false} and
 * {@code treat_whitespace_as_suffix} (both absent from T5 files). Decoding is {@link SentencePieceBpe}'s (▁ as space,
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

    public Unigram(String[] pieces, float[] scores, TokenType[] types, int eosId, int unkId, int padId,
                   boolean addEos, boolean addSpacePrefix, boolean removeExtraWhitespace) {
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
        if (file.has("tokenizer.ggml.precompiled_charsmap")) {
            throw new TokenizerException(file.path().getFileName() + ": metadata 'tokenizer.ggml.precompiled_charsmap' is present; InferCL's"
                    + " unigram (t5) tokenizer does not implement SentencePiece's precompiled normalisation, so it refuses the file"
                    + " rather than tokenize it differently from llama.cpp");
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
                    file.getBoolean("tokenizer.ggml.remove_extra_whitespaces", true));
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
        boolean first = true;
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
            if (end > from) segment(normalize(text.substring(from, end), first), out);
            if (at < 0) break;
            out.add(id);
            first = false;
            from = at + vocab.piece(id).length();
        }
        if (addSpecial && addEos && eosId >= 0) out.add(eosId);
        return out.toArray();
    }

    private boolean hasUserDefined() {
        for (int s : specials) if (vocab.type(s) == TokenType.USER_DEFINED) return true;
        return false;
    }

    /** T5's whitespace handling (see the class comment). */
    String normalize(String text, boolean startsText) {
        var sb = new StringBuilder(text.length() + 8);
        if (removeExtraWhitespace) {
            boolean inWord = false;
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c == ' ') {
                    inWord = false;
                } else {
                    if (!inWord && (sb.length() > 0 || addSpacePrefix || !startsText)) sb.append(SentencePieceBpe.SPACE);
                    sb.append(c);
                    inWord = true;
                }
            }
            return sb.toString();
        }
        if (addSpacePrefix && startsText) sb.append(SentencePieceBpe.SPACE);
        return sb.append(text.replace(' ', SentencePieceBpe.SPACE)).toString();
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
