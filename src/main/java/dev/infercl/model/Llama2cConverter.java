package dev.infercl.model;

import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufWriter;
import dev.infercl.tokenizer.SentencePieceBpe;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Converts a llama2.c checkpoint and its {@code tokenizer.bin} into a self-contained GGUF: llama architecture
 * metadata from the checkpoint's header, the vocabulary as {@code tokenizer.ggml.*} keys, and the weights under
 * their GGUF names (read through {@link Llama2cModelFile}, so the GGUF computes exactly what the checkpoint does).
 *
 * <p>The output depends only on the inputs and the options — no dates, paths or host details — so converting the
 * same files again gives the same bytes. A tied classifier stays tied (no {@code output.weight}); norm vectors
 * stay F32 whatever the matrix type, as llama.cpp's converters keep them.
 */
public final class Llama2cConverter {
    private Llama2cConverter() {}

    /**
     * What to write besides the weights.
     *
     * @param type      matrix type: F32 (the checkpoint's values exactly) or F16
     * @param name      {@code general.name}; null: the checkpoint's file name without its extension
     * @param license   {@code general.license}, or null for none
     * @param sourceUrl {@code general.source.url}, or null for none
     */
    public record Options(GgmlType type, String name, String license, String sourceUrl) {
        public Options {
            if (type != GgmlType.F32 && type != GgmlType.F16) {
                throw new IllegalArgumentException("a llama2.c checkpoint converts to F32 or F16, not " + type
                        + " (quantize the converted file with 'infercl quantize')");
            }
        }

        public static Options f32() {
            return new Options(GgmlType.F32, null, null, null);
        }
    }

    /** What was written: the file's size, its config and the number of tensors. */
    public record Result(long bytes, ModelConfig config, int tensors) {}

    /** Reads {@code checkpoint} with {@code tokenizer} and writes {@code out} (replaced if it exists). */
    public static Result convert(Path checkpoint, Path tokenizer, Path out, Options options) throws IOException {
        for (Path in : new Path[] {checkpoint, tokenizer}) {
            if (in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())
                    || (Files.exists(in) && Files.exists(out) && Files.isSameFile(in, out))) {
                throw new IllegalArgumentException("the output " + out + " is an input file; write to another path");
            }
        }
        try (Llama2cModelFile file = Llama2cModelFile.open(checkpoint, tokenizer)) {
            ModelConfig c = file.config();
            if (!(file.tokenizer() instanceof SentencePieceBpe tok)) {
                throw new IllegalStateException("a llama2.c tokenizer is SentencePiece-style, got " + file.tokenizer().getClass().getSimpleName());
            }
            String name = options.name() != null ? options.name() : stem(checkpoint);
            var w = new GgufWriter()
                    .putString("general.architecture", "llama")
                    .putString("general.name", name);
            if (options.license() != null) w.putString("general.license", options.license());
            if (options.sourceUrl() != null) w.putString("general.source.url", options.sourceUrl());
            w.putUInt32("general.file_type", options.type() == GgmlType.F32 ? 0 : 1)
                    .putUInt32("llama.context_length", c.contextLength())
                    .putUInt32("llama.embedding_length", c.dim())
                    .putUInt32("llama.block_count", c.layers())
                    .putUInt32("llama.feed_forward_length", c.ffnDim())
                    .putUInt32("llama.attention.head_count", c.heads())
                    .putUInt32("llama.attention.head_count_kv", c.kvHeads())
                    .putUInt32("llama.rope.dimension_count", c.ropeDims())
                    .putFloat32("llama.rope.freq_base", c.ropeBase())
                    .putFloat32("llama.attention.layer_norm_rms_epsilon", c.normEps())
                    .putUInt32("llama.vocab_size", c.vocabSize());
            vocabulary(w, tok);

            List<String> names = new ArrayList<>();
            names.add("token_embd.weight");
            for (int l = 0; l < c.layers(); l++) {
                for (String t : new String[] {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"}) {
                    names.add("blk." + l + "." + t + ".weight");
                }
            }
            names.add("output_norm.weight");
            if (file.weight("output.weight").isPresent()) names.add("output.weight");
            for (String n : names) {
                WeightData d = file.weight(n).orElseThrow(() -> new IllegalStateException("the checkpoint reader gave no '" + n + "'"));
                tensor(w, d, options.type());
            }
            w.write(out);
            return new Result(Files.size(out), c, names.size());
        }
    }

    /** The llama2.c vocabulary as llama.cpp's SentencePiece keys; ids 0, 1, 2 are unknown, BOS and EOS. */
    private static void vocabulary(GgufWriter w, SentencePieceBpe tok) {
        int n = tok.vocabSize();
        String[] pieces = new String[n];
        float[] scores = new float[n];
        int[] types = new int[n];
        for (int i = 0; i < n; i++) {
            pieces[i] = tok.piece(i);
            scores[i] = tok.score(i);
            types[i] = tok.type(i).code();
        }
        w.putString("tokenizer.ggml.model", "llama")
                .putStringArray("tokenizer.ggml.tokens", pieces)
                .putFloat32Array("tokenizer.ggml.scores", scores)
                .putInt32Array("tokenizer.ggml.token_type", types)
                .putUInt32("tokenizer.ggml.bos_token_id", tok.bosId())
                .putUInt32("tokenizer.ggml.eos_token_id", tok.eosId())
                .putUInt32("tokenizer.ggml.unknown_token_id", tok.unknownId())
                // llama2.c's training data separates texts by BOS, so its run.c ends a text where the model emits
                // BOS; as end-of-text token, generation stops there too instead of starting the next story
                .putUInt32("tokenizer.ggml.eot_token_id", tok.bosId())
                .putBool("tokenizer.ggml.add_bos_token", tok.addBosByDefault())
                .putBool("tokenizer.ggml.add_eos_token", tok.addEosByDefault())
                .putBool("tokenizer.ggml.add_space_prefix", tok.addSpacePrefix());
    }

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One weight: vectors and F32 matrices as the checkpoint holds them; F16 matrices rounded row by row. */
    private static void tensor(GgufWriter w, WeightData d, GgmlType type) {
        MemorySegment src = d.bytes();
        if (d.dims().length == 1 || type == GgmlType.F32) {
            w.addTensor(d.name(), GgmlType.F32, d.dims(), sink -> sink.write(src.asByteBuffer()));
            return;
        }
        int cols = (int) d.rowLength();
        long rows = d.rows();
        w.addTensor(d.name(), type, d.dims(), sink -> {
            float[] row = new float[cols];
            for (long r = 0; r < rows; r++) {
                MemorySegment.copy(src, F32, r * cols * 4, row, 0, cols);
                sink.write(java.nio.ByteBuffer.wrap(SyntheticModel.encode(type, row)));
            }
        });
    }

    private static String stem(Path p) {
        String f = p.getFileName().toString();
        int dot = f.lastIndexOf('.');
        return dot > 0 ? f.substring(0, dot) : f;
    }
}
