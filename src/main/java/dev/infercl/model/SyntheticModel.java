package dev.infercl.model;

import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufWriter;
import dev.infercl.tensor.Dequant;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

/**
 * Deterministic random-weight Llama models: real shapes, real metadata and a working SentencePiece-style
 * vocabulary, weights ~N(0, 0.02) (norms 1). The text they produce is meaningless; their cost is realistic.
 * Every tensor draws from its own generator seeded by (seed, name), so files are byte-reproducible.
 */
public final class SyntheticModel {
    private SyntheticModel() {}

    /**
     * @param type weight type of the matrices (norm vectors are always F32)
     */
    public record Spec(String name, int dim, int layers, int heads, int kvHeads, int ffn, int vocab, int contextLength,
                       GgmlType type, long seed) {
        public Spec {
            if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || ffn <= 0 || contextLength <= 0) {
                throw new IllegalArgumentException("every size must be positive");
            }
            if (dim % heads != 0 || heads % kvHeads != 0) {
                throw new IllegalArgumentException("dim " + dim + " must be a multiple of heads " + heads + ", and heads of kv heads " + kvHeads);
            }
            if (vocab < 259 + 1) throw new IllegalArgumentException("vocab must be ≥ 260 (3 control + 256 byte tokens + text), got " + vocab);
            if (type != GgmlType.F32 && type != GgmlType.F16 && type != GgmlType.BF16 && type != GgmlType.Q8_0 && type != GgmlType.Q4_0) {
                throw new IllegalArgumentException("synthetic weights can be F32, F16, BF16, Q8_0 or Q4_0, not " + type);
            }
            if (type.blockSize > 1 && (dim % 32 != 0 || ffn % 32 != 0)) {
                throw new IllegalArgumentException(type + " needs dim and ffn multiples of 32 (got " + dim + ", " + ffn + ")");
            }
        }

        /** The smoke model in test-models/ (infercl-tiny-random.gguf): tiny, F32, vocab 512. */
        public static Spec tiny() {
            return new Spec("infercl-tiny-random", 64, 2, 4, 2, 192, 512, 256, GgmlType.F32, 42);
        }
    }

    /** Bytes of the matrices the spec describes (what {@code write} reports progress against). */
    public static long weightBytes(Spec s) {
        int headDim = s.dim() / s.heads(), kv = s.kvHeads() * headDim;
        long perLayer = s.type().byteSize(s.dim()) * (s.dim() + 2L * kv + s.dim() + 2L * s.ffn()) + s.type().byteSize(s.ffn()) * s.dim();
        return s.type().byteSize(s.dim()) * 2L * s.vocab() + perLayer * s.layers();
    }

    /** Writes the model; {@code progress} receives bytes written so far (may be null). */
    public static void write(Spec s, Path out, LongConsumer progress) throws IOException {
        String[] tokens = vocabulary(s.vocab());
        float[] scores = new float[tokens.length];
        int[] types = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            scores[i] = i < 259 ? 0f : -(i - 259);
            types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;   // unknown, control, byte, normal
        }
        int headDim = s.dim() / s.heads();
        var w = new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("general.name", s.name())
                .putString("general.description", "random-weight smoke model (meaningless text), written by infercl synth")
                .putUInt32("general.file_type", fileType(s.type()))
                .putUInt32("llama.context_length", s.contextLength())
                .putUInt32("llama.embedding_length", s.dim())
                .putUInt32("llama.block_count", s.layers())
                .putUInt32("llama.feed_forward_length", s.ffn())
                .putUInt32("llama.attention.head_count", s.heads())
                .putUInt32("llama.attention.head_count_kv", s.kvHeads())
                .putUInt32("llama.rope.dimension_count", headDim)
                .putFloat32("llama.rope.freq_base", 10000f)
                .putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .putUInt32("llama.vocab_size", s.vocab())
                .putString("tokenizer.ggml.model", "llama")
                .putString("tokenizer.ggml.pre", "default")
                .putStringArray("tokenizer.ggml.tokens", tokens)
                .putFloat32Array("tokenizer.ggml.scores", scores)
                .putInt32Array("tokenizer.ggml.token_type", types)
                .putUInt32("tokenizer.ggml.bos_token_id", 1)
                .putUInt32("tokenizer.ggml.eos_token_id", 2)
                .putUInt32("tokenizer.ggml.unknown_token_id", 0)
                .putBool("tokenizer.ggml.add_bos_token", true)
                .putBool("tokenizer.ggml.add_eos_token", false);
        long[] written = {0};
        matrix(w, s, "token_embd.weight", s.dim(), s.vocab(), written, progress);
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            ones(w, p + "attn_norm.weight", s.dim());
            matrix(w, s, p + "attn_q.weight", s.dim(), s.dim(), written, progress);
            matrix(w, s, p + "attn_k.weight", s.dim(), s.kvHeads() * headDim, written, progress);
            matrix(w, s, p + "attn_v.weight", s.dim(), s.kvHeads() * headDim, written, progress);
            matrix(w, s, p + "attn_output.weight", s.dim(), s.dim(), written, progress);
            ones(w, p + "ffn_norm.weight", s.dim());
            matrix(w, s, p + "ffn_gate.weight", s.dim(), s.ffn(), written, progress);
            matrix(w, s, p + "ffn_down.weight", s.ffn(), s.dim(), written, progress);
            matrix(w, s, p + "ffn_up.weight", s.dim(), s.ffn(), written, progress);
        }
        ones(w, "output_norm.weight", s.dim());
        matrix(w, s, "output.weight", s.dim(), s.vocab(), written, progress);
        w.write(out);
    }

    /** GGUF general.file_type ("mostly" type) codes. */
    private static int fileType(GgmlType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException(t.name());
        };
    }

    private static void ones(GgufWriter w, String name, int n) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) b.putFloat(1f);
        w.addTensor(name, GgmlType.F32, new long[] {n}, b.array());
    }

    /** A [rows × cols] matrix of N(0, 0.02) values in the spec's type, produced row by row while the file is written. */
    private static void matrix(GgufWriter w, Spec s, String name, int cols, int rows, long[] written, LongConsumer progress) {
        GgmlType type = s.type();
        w.addTensor(name, type, new long[] {cols, rows}, sink -> {
            var rnd = new SplittableRandom(s.seed() * 1_000_003L + name.hashCode());
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < cols; i++) row[i] = (float) (rnd.nextGaussian() * 0.02);
                byte[] bytes = encode(type, row);
                sink.write(ByteBuffer.wrap(bytes));
                written[0] += bytes.length;
                if (progress != null) progress.accept(written[0]);
            }
        });
    }

    static byte[] encode(GgmlType type, float[] row) {
        return switch (type) {
            case Q8_0 -> Dequant.quantizeQ8_0(row, 0, row.length);
            case Q4_0 -> Dequant.quantizeQ4_0(row, 0, row.length);
            default -> {
                ByteBuffer b = ByteBuffer.allocate(row.length * (type == GgmlType.F32 ? 4 : 2)).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : row) {
                    if (type == GgmlType.F32) b.putFloat(f);
                    else if (type == GgmlType.F16) b.putShort(Float.floatToFloat16(f));
                    else b.putShort(Dequant.toBf16(f));
                }
                yield b.array();
            }
        };
    }

    /**
     * A SentencePiece-style vocabulary of exactly {@code size} pieces: {@code <unk> <s> </s>}, the 256 byte
     * tokens, '▁' and printable ASCII, then common English words (with every prefix, so merges can build them),
     * then filler syllables.
     */
    static String[] vocabulary(int size) {
        var pieces = new LinkedHashSet<String>();
        pieces.add("<unk>");
        pieces.add("<s>");
        pieces.add("</s>");
        for (int b = 0; b < 256; b++) pieces.add(String.format("<0x%02X>", b));
        pieces.add("▁");
        for (char c = 33; c < 127; c++) pieces.add(String.valueOf(c));
        String words = "the a and to of was he she it in is that on for his her with they you said one day "
                + "there time once upon little big girl boy dog cat sun tree park play happy sad friend mom dad "
                + "saw had wanted went very lily tom ball red blue home water fun look help toy bird fish run";
        List<String> more = new ArrayList<>();
        for (String word : words.split(" ")) {
            String piece = "▁" + word;
            for (int k = 2; k <= piece.length(); k++) more.add(piece.substring(0, k));
            for (int k = 2; k <= word.length(); k++) more.add(word.substring(0, k));
        }
        for (String p : more) if (pieces.size() < size) pieces.add(p);
        String letters = "abcdefghijklmnopqrstuvwxyz";
        for (int i = 26; pieces.size() < size; i++) {   // i ≥ 26: at least two letters, base 26
            var syl = new StringBuilder();
            for (int v = i; v > 0; v /= 26) syl.append(letters.charAt(v % 26));
            pieces.add("▁" + syl);
            if (pieces.size() < size) pieces.add(syl.toString());
        }
        return pieces.stream().limit(size).toArray(String[]::new);
    }
}
