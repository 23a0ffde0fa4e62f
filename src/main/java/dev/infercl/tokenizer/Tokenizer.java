package dev.infercl.tokenizer;

import dev.infercl.gguf.GgufFile;
import java.io.IOException;

/**
 * Text to token ids and back. Implementations are immutable and thread-safe.
 */
public interface Tokenizer {

    /**
     * Encodes text. {@code addBos} prepends the BOS id (when the vocabulary has one); {@code parseSpecial}
     * lets control/user-defined tokens written literally in the text (e.g. {@code <s>}) become their ids.
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** Whether the model's metadata asks for BOS at the start of a prompt. */
    boolean addBosByDefault();

    /** Decodes ids to text as llama.cpp does (byte tokens joined into UTF-8, '▁' as space, no leading prefix space). */
    String decode(int[] ids);

    /** The raw bytes a token stands for when it follows other text ('▁' as space, byte tokens as their byte). */
    byte[] tokenBytes(int id);

    /** The token's string as stored in the vocabulary. */
    String piece(int id);

    int vocabSize();

    int bosId();

    int eosId();

    /** True for ids that end generation (EOS, end-of-turn). */
    boolean isEndOfGeneration(int id);

    /** A decoder that emits text as tokens arrive, holding back incomplete UTF-8 sequences. */
    default StreamDecoder streamDecoder() {
        return new StreamDecoder(this);
    }

    /**
     * Whether {@link #decode} drops one leading space of the first printed piece (SentencePiece vocabularies that
     * add a space prefix when encoding). {@link StreamDecoder} applies the same rule at the start of a stream.
     */
    default boolean stripsLeadingSpace() {
        return false;
    }

    /**
     * Reads the tokenizer from a GGUF file's {@code tokenizer.ggml.*} metadata, choosing the implementation by
     * {@code tokenizer.ggml.model}.
     *
     * @throws TokenizerException naming the file and key when tokenizer metadata is missing or malformed, or names a
     *         tokenizer model not implemented ("llama", "gpt2" and "t5" are)
     * @throws IOException a {@link dev.infercl.gguf.GgufFormatException} when a key has the wrong type
     */
    static Tokenizer fromGguf(GgufFile file) throws IOException {
        String model = GgufTokenizerKeys.requireString(file, "tokenizer.ggml.model");
        return switch (model) {
            case "llama" -> SentencePieceBpe.fromGguf(file);
            case "gpt2" -> ByteLevelBpe.fromGguf(file);
            case "t5" -> Unigram.fromGguf(file);
            default -> throw new TokenizerException(file.path().getFileName() + ": tokenizer model " + GgufFile.quote(model)
                    + " is not supported yet (metadata 'tokenizer.ggml.model'; InferCL implements 'llama', 'gpt2' and 't5')");
        };
    }
}
