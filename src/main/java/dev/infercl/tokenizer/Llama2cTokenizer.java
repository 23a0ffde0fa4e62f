package dev.infercl.tokenizer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads llama2.c's {@code tokenizer.bin} as a {@link SentencePieceBpe}.
 *
 * <p>Format (little-endian): int32 max_token_length, then per token float32 score, int32 length and that many
 * UTF-8 bytes. llama2.c writes ' ' where SentencePiece (and GGUF) has '▁', spells BOS/EOS as "\n&lt;s&gt;\n" and
 * "\n&lt;/s&gt;\n", and keeps byte tokens as {@code <0xNN>}; ids 0, 1, 2 are unknown, BOS and EOS.
 */
public final class Llama2cTokenizer {
    private Llama2cTokenizer() {}

    /** Reads the first {@code vocabSize} tokens of a llama2.c tokenizer file. */
    public static SentencePieceBpe load(Path path, int vocabSize) throws IOException {
        if (vocabSize < 3) {
            throw new IllegalArgumentException("vocab size " + vocabSize + " < 3 (unk, bos, eos)");
        }
        var buf = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        String[] pieces = new String[vocabSize];
        float[] scores = new float[vocabSize];
        TokenType[] types = new TokenType[vocabSize];
        int maxLength = readInt(buf, path, "max_token_length");
        for (int id = 0; id < vocabSize; id++) {
            scores[id] = buf.remaining() >= 4 ? buf.getFloat() : fail(path, "score of token " + id, buf);
            int len = readInt(buf, path, "length of token " + id);
            if (len < 0 || len > buf.remaining() || len > Math.max(maxLength, 64)) {
                fail(path, "length " + len + " of token " + id, buf);
            }
            byte[] b = new byte[len];
            buf.get(b);
            String text = new String(b, StandardCharsets.UTF_8);
            switch (id) {
                case 0 -> { pieces[id] = "<unk>"; types[id] = TokenType.UNKNOWN; }
                case 1 -> { pieces[id] = "<s>"; types[id] = TokenType.CONTROL; }
                case 2 -> { pieces[id] = "</s>"; types[id] = TokenType.CONTROL; }
                default -> {
                    pieces[id] = text.replace(' ', SentencePieceBpe.SPACE);
                    types[id] = SentencePieceBpe.parseByteToken(text) >= 0 ? TokenType.BYTE : TokenType.NORMAL;
                }
            }
        }
        return new SentencePieceBpe(pieces, scores, types, 1, 2, 0, -1, -1, true, false, true);
    }

    private static int readInt(ByteBuffer buf, Path path, String what) throws IOException {
        if (buf.remaining() < 4) {
            fail(path, what, buf);
        }
        return buf.getInt();
    }

    private static float fail(Path path, String what, ByteBuffer buf) throws IOException {
        throw new IOException(path + ": bad or truncated " + what + " at offset " + buf.position());
    }
}
