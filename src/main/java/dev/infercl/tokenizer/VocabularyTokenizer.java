package dev.infercl.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Predicate;

/**
 * What every vocabulary-based tokenizer shares: the pieces and their types, the bytes each prints, the piece →
 * id map, the special tokens matched before the model's own algorithm, the BOS/EOS ids and which ids end
 * generation. Subclasses add their segmentation (SentencePiece scores, byte-level merges).
 */
abstract class VocabularyTokenizer implements Tokenizer {
    protected final String[] pieces;          // (vocab)
    protected final TokenType[] types;        // (vocab)
    protected final byte[][] bytes;           // (vocab) what each token prints when it follows other text
    protected final Map<String, Integer> ids; // piece -> id (the last id wins on duplicates, as in llama.cpp)
    protected final int[] specials;           // ids of the special types, longest piece first
    protected final boolean[] endOfGeneration; // (vocab)
    protected final int bosId, eosId;
    protected final boolean addBos, addEos;

    /**
     * @param types           null means all {@link TokenType#NORMAL}
     * @param eotId           an extra end-of-turn id or -1
     * @param pieceBytes      what a piece of a type prints
     * @param special         which token types are matched whole, before segmentation
     * @param endOfTurnNames  texts of control (or user-defined, when {@code userDefinedEnds}) tokens that end a turn
     */
    VocabularyTokenizer(String[] pieces, TokenType[] types, int bosId, int eosId, int eotId, boolean addBos, boolean addEos,
                        BiFunction<String, TokenType, byte[]> pieceBytes, Predicate<TokenType> special,
                        Set<String> endOfTurnNames, boolean userDefinedEnds) {
        int n = pieces.length;
        if (types != null && types.length != n) {
            throw new IllegalArgumentException("token types has " + types.length + " entries for " + n + " tokens");
        }
        this.pieces = pieces.clone();
        if (types == null) {
            types = new TokenType[n];
            Arrays.fill(types, TokenType.NORMAL);
        }
        this.types = types.clone();
        this.bosId = checkId("bos", bosId, n);
        this.eosId = checkId("eos", eosId, n);
        checkId("eot", eotId, n);
        this.addBos = addBos;
        this.addEos = addEos;

        ids = HashMap.newHashMap(n);
        bytes = new byte[n][];
        endOfGeneration = new boolean[n];
        var specialIds = new ArrayList<Integer>();
        for (int id = 0; id < n; id++) {
            String p = this.pieces[id];
            TokenType t = this.types[id];
            ids.put(p, id);
            bytes[id] = pieceBytes.apply(p, t);
            if (special.test(t) && !p.isEmpty()) specialIds.add(id);
            boolean named = t == TokenType.CONTROL || (userDefinedEnds && t == TokenType.USER_DEFINED);
            endOfGeneration[id] = id == eosId || id == eotId || (named && endOfTurnNames.contains(p));
        }
        specialIds.sort(Comparator.comparingInt((Integer id) -> -this.pieces[id].length()).thenComparingInt(id -> id));
        specials = specialIds.stream().mapToInt(Integer::intValue).toArray();
    }

    static int checkId(String what, int id, int n) {
        if (id < -1 || id >= n) {
            throw new IllegalArgumentException(what + " token id " + id + " is outside the vocabulary of " + n);
        }
        return id;
    }

    protected int check(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + pieces.length);
        }
        return id;
    }

    @Override
    public byte[] tokenBytes(int id) {
        return bytes[check(id)].clone();
    }

    @Override
    public String piece(int id) {
        return pieces[check(id)];
    }

    public TokenType type(int id) {
        return types[check(id)];
    }

    /** The id of a piece as stored, or -1. */
    public int id(String piece) {
        return ids.getOrDefault(piece, -1);
    }

    @Override
    public boolean addBosByDefault() {
        return addBos;
    }

    public boolean addEosByDefault() {
        return addEos;
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return id >= 0 && id < endOfGeneration.length && endOfGeneration[id];
    }
}
