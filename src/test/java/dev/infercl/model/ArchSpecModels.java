package dev.infercl.model;

import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Test-only writers of tiny random-weight GGUF models, one per architecture, with the metadata keys and tensor
 * names llama.cpp's converters write ({@code convert_hf_to_gguf.py}, gguf-py's {@code constants.py}):
 *
 * <ul>
 *   <li>llama — Llama 3 style: rope base 500000, {@code rope_freqs.weight} frequency factors, untied output</li>
 *   <li>mistral — written as {@code llama}: head dim 32 ≠ dim/heads ({@code attention.key_length}), base 1e6, tied</li>
 *   <li>qwen2 — Q/K/V biases, tied output, rope base 1e6, eps 1e-6</li>
 *   <li>qwen3 — {@code attn_q_norm}/{@code attn_k_norm}, {@code attention.key_length} ≠ dim/heads</li>
 *   <li>phi3 — fused {@code attn_qkv} and fused gate/up {@code ffn_up}, {@code attention.sliding_window} 2047</li>
 *   <li>gemma2 — post-attention/post-FFN norms, soft-caps, sliding window 8 (masks within 40 tokens),
 *       {@code attention.key_length} ≠ dim/heads, tied output</li>
 *   <li>gpt2 — LayerNorm with bias, fused QKV with bias, learned positions, GELU MLP with biases</li>
 * </ul>
 *
 * Weights are N(0, g/√in) so every activation stays O(1), norms 1 + N(0, 0.2²), biases N(0, 0.2²); the output
 * matrix is scaled so logits spread over a few units (clear top-1 at most positions). The vocabulary is
 * SentencePiece-style ({@link SyntheticModel#vocabulary}) whatever the architecture, so the SPM tokenizer loads.
 */
final class ArchSpecModels {
    private ArchSpecModels() {}


    /** Shapes of one model; headDim may differ from dim / heads (written as attention.key_length then). */
    record Spec(String arch, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, int vocab, int context,
                GgmlType type, long seed, boolean llama3) {
        Spec(String arch, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, int vocab, int context,
             GgmlType type, long seed) {
            this(arch, dim, layers, heads, kvHeads, headDim, ffn, vocab, context, type, seed, arch.equals("llama"));
        }

        int qDim() { return heads * headDim; }
        int kvDim() { return kvHeads * headDim; }
    }

    static Spec spec(String arch) {
        return switch (arch) {
            case "llama" -> new Spec(arch, 96, 2, 6, 2, 16, 160, 300, 128, GgmlType.F32, 11);
            // Mistral files are GGUF "llama": here Nemo-like, head dim 32 with dim/heads 24, rope base 1e6, tied output
            case "mistral" -> new Spec("llama", 96, 2, 4, 2, 32, 160, 300, 128, GgmlType.F16, 17, false);
            case "qwen2" -> new Spec(arch, 64, 3, 4, 2, 16, 128, 300, 128, GgmlType.F16, 12);
            case "qwen3" -> new Spec(arch, 64, 2, 4, 2, 32, 160, 300, 128, GgmlType.F16, 13);
            case "phi3" -> new Spec(arch, 96, 2, 6, 2, 16, 128, 300, 128, GgmlType.F32, 14);
            case "gemma2" -> new Spec(arch, 64, 3, 4, 2, 32, 128, 300, 128, GgmlType.F16, 15);
            case "gpt2" -> new Spec(arch, 64, 2, 4, 4, 16, 256, 300, 64, GgmlType.F32, 16);
            default -> throw new IllegalArgumentException(arch);
        };
    }

    /** Gemma 2 settings of the generated model (deliberately small, so they bite on O(1) activations). */
    static final int GEMMA_WINDOW = 8;
    static final float GEMMA_ATTN_SOFTCAP = 3f, GEMMA_FINAL_SOFTCAP = 8f;

    static Path write(String arch, Path out) throws IOException {
        return write(spec(arch), out, Set.of(), Map.of());
    }

    /**
     * Writes the model of {@code s}, leaving out the tensors (and Gemma 2 soft-cap/window keys) named in {@code omit} and giving the tensors in
     * {@code reshape} those GGML dims instead (ne0 first; filled with small random values).
     */
    static Path write(Spec s, Path out, Set<String> omit, Map<String, long[]> reshape) throws IOException {
        return write(s, out, omit, reshape, g -> {});
    }

    /** As {@link #write(Spec, Path, Set, Map)}, {@code extra} adding metadata or tensors before the file is written. */
    static Path write(Spec s, Path out, Set<String> omit, Map<String, long[]> reshape, Consumer<GgufWriter> extra) throws IOException {
        var w = new Writer(s, omit, reshape);
        String a = s.arch(), p = a + ".";
        boolean gpt2 = a.equals("gpt2");
        String[] tokens = SyntheticModel.vocabulary(s.vocab());
        float[] scores = new float[tokens.length];
        int[] types = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            scores[i] = i < 259 ? 0f : -(i - 259);
            types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
        }
        var g = w.gguf
                .putString("general.architecture", a)
                .putString("general.name", "archspec-" + a + (s.llama3() ? "3" : ""))
                .putUInt32("general.file_type", s.type() == GgmlType.F32 ? 0 : 1)
                .putUInt32(p + "context_length", s.context())
                .putUInt32(p + "embedding_length", s.dim())
                .putUInt32(p + "block_count", s.layers())
                .putUInt32(p + "feed_forward_length", s.ffn())
                .putUInt32(p + "attention.head_count", s.heads())
                .putUInt32(p + "attention.head_count_kv", s.kvHeads())
                .putString("tokenizer.ggml.model", "llama")
                .putString("tokenizer.ggml.pre", "default")
                .putStringArray("tokenizer.ggml.tokens", tokens)
                .putFloat32Array("tokenizer.ggml.scores", scores)
                .putInt32Array("tokenizer.ggml.token_type", types)
                .putUInt32("tokenizer.ggml.bos_token_id", 1)
                .putUInt32("tokenizer.ggml.eos_token_id", 2)
                .putUInt32("tokenizer.ggml.unknown_token_id", 0)
                .putBool("tokenizer.ggml.add_bos_token", !gpt2);
        if (s.headDim() != s.dim() / s.heads()) {
            g.putUInt32(p + "attention.key_length", s.headDim()).putUInt32(p + "attention.value_length", s.headDim());
        }
        if (gpt2) {
            g.putFloat32(p + "attention.layer_norm_epsilon", 1e-5f);
        } else {
            g.putFloat32(p + "attention.layer_norm_rms_epsilon", a.startsWith("qwen") ? 1e-6f : 1e-5f);
            g.putUInt32(p + "rope.dimension_count", s.headDim());
            g.putFloat32(p + "rope.freq_base", switch (a) {
                case "llama" -> s.llama3() ? 500000f : 1000000f;
                case "qwen2", "qwen3" -> 1000000f;
                default -> 10000f;
            });
        }
        if (a.equals("phi3")) g.putUInt32(p + "attention.sliding_window", 2047);
        if (a.equals("gemma2")) {   // keys named in omit are left out (llama.cpp's defaults apply then)
            if (!omit.contains(p + "attention.sliding_window")) g.putUInt32(p + "attention.sliding_window", GEMMA_WINDOW);
            if (!omit.contains(p + "attn_logit_softcapping")) g.putFloat32(p + "attn_logit_softcapping", GEMMA_ATTN_SOFTCAP);
            if (!omit.contains(p + "final_logit_softcapping")) g.putFloat32(p + "final_logit_softcapping", GEMMA_FINAL_SOFTCAP);
        }

        int d = s.dim();
        // gemma multiplies the embedding by √dim: store it smaller so the scaled rows are O(1)
        w.matrix("token_embd.weight", d, s.vocab(), a.equals("gemma2") ? 1.0 / Math.sqrt(d) : 1.0);
        if (gpt2) w.matrix("position_embd.weight", d, s.context(), 0.5);
        if (s.llama3()) {
            // Llama 3's factors: 1 for the fast pairs, up to 8 for the slow ones; here spread over every pair
            float[] ff = new float[s.headDim() / 2];
            for (int i = 0; i < ff.length; i++) ff[i] = 1f + 7f * i / (ff.length - 1);
            w.f32("rope_freqs.weight", new long[] {ff.length}, ff);
        }
        for (int l = 0; l < s.layers(); l++) {
            String b = "blk." + l + ".";
            w.norm(b + "attn_norm.weight", d);
            if (gpt2) w.bias(b + "attn_norm.bias", d);
            if (gpt2 || a.equals("phi3")) {
                int rows = s.qDim() + 2 * s.kvDim();
                w.qkv(b + "attn_qkv.weight", d, s);
                if (gpt2) w.bias(b + "attn_qkv.bias", rows);
            } else {
                w.matrix(b + "attn_q.weight", d, s.qDim(), 1.5 / Math.sqrt(d));
                w.matrix(b + "attn_k.weight", d, s.kvDim(), 1.5 / Math.sqrt(d));
                w.matrix(b + "attn_v.weight", d, s.kvDim(), 1 / Math.sqrt(d));
                if (a.equals("qwen2")) {
                    w.bias(b + "attn_q.bias", s.qDim());
                    w.bias(b + "attn_k.bias", s.kvDim());
                    w.bias(b + "attn_v.bias", s.kvDim());
                }
            }
            if (a.equals("qwen3")) {
                w.norm(b + "attn_q_norm.weight", s.headDim());
                w.norm(b + "attn_k_norm.weight", s.headDim());
            }
            w.matrix(b + "attn_output.weight", s.qDim(), d, 1 / Math.sqrt(s.qDim()));
            if (gpt2) w.bias(b + "attn_output.bias", d);
            if (a.equals("gemma2")) w.norm(b + "post_attention_norm.weight", d);
            w.norm(b + "ffn_norm.weight", d);
            if (gpt2) w.bias(b + "ffn_norm.bias", d);
            switch (a) {
                case "gpt2" -> {
                    w.matrix(b + "ffn_up.weight", d, s.ffn(), 1 / Math.sqrt(d));
                    w.bias(b + "ffn_up.bias", s.ffn());
                }
                case "phi3" -> w.matrix(b + "ffn_up.weight", d, 2 * s.ffn(), 1.5 / Math.sqrt(d));
                default -> {
                    w.matrix(b + "ffn_gate.weight", d, s.ffn(), 1.5 / Math.sqrt(d));
                    w.matrix(b + "ffn_up.weight", d, s.ffn(), 1 / Math.sqrt(d));
                }
            }
            w.matrix(b + "ffn_down.weight", s.ffn(), d, 1 / Math.sqrt(s.ffn()));
            if (gpt2) w.bias(b + "ffn_down.bias", d);
            if (a.equals("gemma2")) w.norm(b + "post_ffw_norm.weight", d);
        }
        w.norm("output_norm.weight", d);
        if (gpt2) w.bias("output_norm.bias", d);
        boolean tied = a.equals("qwen2") || a.equals("gemma2") || (a.equals("llama") && !s.llama3());
        if (!tied) w.matrix("output.weight", d, s.vocab(), 3 / Math.sqrt(d));
        extra.accept(w.gguf);
        w.gguf.write(out);
        return out;
    }

    /** Adds tensors with per-name seeded values, honouring omissions and shape overrides. */
    private static final class Writer {
        final GgufWriter gguf = new GgufWriter();
        final Spec s;
        final Set<String> omit;
        final Map<String, long[]> reshape;

        Writer(Spec s, Set<String> omit, Map<String, long[]> reshape) {
            this.s = s;
            this.omit = omit;
            this.reshape = reshape;
        }

        SplittableRandom rnd(String name) {
            return new SplittableRandom(s.seed() * 1_000_003L + name.hashCode());
        }

        /** [rows × cols] in the spec's type, N(0, sigma²). */
        void matrix(String name, int cols, int rows, double sigma) {
            var r = rnd(name);
            float[] v = new float[cols * rows];
            for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * sigma);
            add(name, s.type(), new long[] {cols, rows}, v);
        }

        /** Fused Q, K, V rows: Q and K a bit larger than V so attention is peaked but not one-hot. */
        void qkv(String name, int cols, Spec s) {
            var r = rnd(name);
            int rows = s.qDim() + 2 * s.kvDim();
            float[] v = new float[cols * rows];
            for (int o = 0; o < rows; o++) {
                double sigma = (o < s.qDim() + s.kvDim() ? 1.5 : 1.0) / Math.sqrt(cols);
                for (int i = 0; i < cols; i++) v[o * cols + i] = (float) (r.nextGaussian() * sigma);
            }
            add(name, s.type(), new long[] {cols, rows}, v);
        }

        void norm(String name, int n) {
            var r = rnd(name);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float) (1 + 0.2 * r.nextGaussian());
            f32(name, new long[] {n}, v);
        }

        void bias(String name, int n) {
            var r = rnd(name);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float) (0.2 * r.nextGaussian());
            f32(name, new long[] {n}, v);
        }

        void f32(String name, long[] dims, float[] v) {
            add(name, GgmlType.F32, dims, v);
        }

        private void add(String name, GgmlType type, long[] dims, float[] v) {
            if (omit.contains(name)) return;
            long[] shape = reshape.get(name);
            if (shape != null) {
                long n = 1;
                for (long x : shape) n *= x;
                var r = rnd(name);
                v = new float[Math.toIntExact(n)];
                for (int i = 0; i < v.length; i++) v[i] = (float) (0.1 * r.nextGaussian());
                dims = shape;
            }
            ByteBuffer b = ByteBuffer.allocate(v.length * (type == GgmlType.F32 ? 4 : 2)).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) {
                if (type == GgmlType.F32) b.putFloat(f);
                else b.putShort(Float.floatToFloat16(f));
            }
            gguf.addTensor(name, type, dims, b.array());
        }
    }
}
