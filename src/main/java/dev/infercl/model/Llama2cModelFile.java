package dev.infercl.model;

import dev.infercl.gguf.GgmlType;
import dev.infercl.tokenizer.Llama2cTokenizer;
import dev.infercl.tokenizer.ChatTemplate;
import dev.infercl.tokenizer.Tokenizer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A llama2.c checkpoint ({@code run.c}'s format): a header of seven int32 — dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size (negative when the classifier is not shared with the embedding), seq_len — then F32
 * arrays in this order: token embedding (vocab, dim), attention RMS weights (layers, dim), wq (layers, dim,
 * dim), wk and wv (layers, kvDim, dim), wo (layers, dim, dim), FFN RMS weights (layers, dim), w1 (layers,
 * hidden, dim), w2 (layers, dim, hidden), w3 (layers, hidden, dim), final RMS weight (dim), two RoPE tables
 * (seq_len · headDim / 2 each, unused: RoPE is computed), and the classifier (vocab, dim) when not shared.
 * Weights are exposed under their GGUF names; RoPE pairs adjacent values as GGUF's llama layout does.
 */
final class Llama2cModelFile implements ModelFile {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final ModelConfig config;
    private final Tokenizer tokenizer;
    private final Map<String, WeightData> weights = new HashMap<>();

    private Llama2cModelFile(Path path, Arena arena, ModelConfig config, Tokenizer tokenizer) {
        this.path = path;
        this.arena = arena;
        this.config = config;
        this.tokenizer = tokenizer;
    }

    static Llama2cModelFile open(Path path, Path tokenizerPath) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 28) throw new ModelLoadException(path + ": " + size + " bytes is too short for a llama2.c header (28 bytes)");
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            int[] h = new int[7];
            for (int i = 0; i < 7; i++) h[i] = seg.get(I32, i * 4L);
            int dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kvHeads = h[4], vocab = Math.abs(h[5]), seqLen = h[6];
            boolean shared = h[5] > 0;
            String[] names = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
            for (int i = 0; i < 7; i++) {
                if (h[i] == 0 || (i != 5 && h[i] < 0) || h[i] == Integer.MIN_VALUE) {
                    throw new ModelLoadException(path + ": llama2.c header field " + names[i] + " = " + h[i] + " at offset " + i * 4 + " is not a positive size");
                }
            }
            if (dim % heads != 0 || heads % kvHeads != 0) {
                throw new ModelLoadException(path + ": llama2.c header: dim " + dim + ", heads " + heads + ", kv heads " + kvHeads + " are inconsistent");
            }
            int headDim = dim / heads, kvDim = kvHeads * headDim;
            // the size the header implies, checked before anything is sized from the header (the tokenizer's arrays,
            // the weight views); exact arithmetic, so a header of huge counts cannot wrap around to the file's size
            long expected;
            try {
                long perLayer = Math.addExact(Math.addExact(2L * dim, Math.multiplyExact(2L * dim, (long) dim)),
                        Math.addExact(Math.multiplyExact(2L * kvDim, (long) dim), Math.multiplyExact(3L * dim, (long) hidden)));
                long floats = Math.addExact(Math.addExact(Math.multiplyExact((long) vocab, dim), Math.multiplyExact((long) layers, perLayer)),
                        Math.addExact(dim, Math.multiplyExact((long) seqLen, headDim)));
                if (!shared) floats = Math.addExact(floats, Math.multiplyExact((long) vocab, dim));
                expected = Math.addExact(28, Math.multiplyExact(4L, floats));
            } catch (ArithmeticException e) {
                expected = -1;
            }
            if (size != expected) {
                throw new ModelLoadException(path + ": llama2.c checkpoint of this header (" + String.join(", ",
                        java.util.stream.IntStream.range(0, 7).mapToObj(i -> names[i] + " " + h[i]).toList())
                        + ") must be " + (expected < 0 ? "more than 2^63" : expected) + " bytes, the file has " + size);
            }
            ModelConfig config = ModelConfig.llama(path.getFileName().toString(), dim, layers, hidden, heads, kvHeads, 10000f, 1e-5f, seqLen, vocab);
            Tokenizer tok = Llama2cTokenizer.load(tokenizerPath, vocab);
            var m = new Llama2cModelFile(path, arena, config, tok);

            long[] off = {28};
            m.add(seg, off, "token_embd.weight", dim, vocab, 1);
            m.add(seg, off, "attn_norm.weight", dim, 1, layers);
            m.add(seg, off, "attn_q.weight", dim, dim, layers);
            m.add(seg, off, "attn_k.weight", dim, kvDim, layers);
            m.add(seg, off, "attn_v.weight", dim, kvDim, layers);
            m.add(seg, off, "attn_output.weight", dim, dim, layers);
            m.add(seg, off, "ffn_norm.weight", dim, 1, layers);
            m.add(seg, off, "ffn_gate.weight", dim, hidden, layers);
            m.add(seg, off, "ffn_down.weight", hidden, dim, layers);
            m.add(seg, off, "ffn_up.weight", dim, hidden, layers);
            m.add(seg, off, "output_norm.weight", dim, 1, 1);
            off[0] += 4L * seqLen * headDim; // RoPE tables: not used
            if (!shared) m.add(seg, off, "output.weight", dim, vocab, 1);
            return m;
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Registers {@code count} consecutive F32 matrices of [rows × cols] (one per layer when count is the layer count). */
    private void add(MemorySegment seg, long[] off, String name, int cols, int rows, int count) {
        long bytes = 4L * cols * rows;
        for (int l = 0; l < count; l++) {
            String full = name.startsWith("attn_") || name.startsWith("ffn_") ? "blk." + l + "." + name : name;
            long[] dims = rows == 1 ? new long[] {cols} : new long[] {cols, rows};
            weights.put(full, new WeightData(full, GgmlType.F32, dims, seg.asSlice(off[0], bytes)));
            off[0] += bytes;
        }
    }

    @Override public Path path() { return path; }
    @Override public String format() { return "llama2.c"; }
    @Override public ModelConfig config() { return config; }
    @Override public Tokenizer tokenizer() { return tokenizer; }

    @Override
    public ChatTemplate chatTemplate(String name) {
        return name != null ? ChatTemplate.builtin(name) : ChatTemplate.detect(tokenizer);
    }

    @Override
    public Optional<WeightData> weight(String name) {
        return Optional.ofNullable(weights.get(name));
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
