package dev.infercl.model;

import dev.infercl.backend.Backend;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.util.Arrays;

/**
 * A model's weights, uploaded once to a backend in their file types. Matrices are [rows × cols] = (out, in);
 * vectors are one row. Tensors an architecture does not have are null.
 *
 * @param tokenEmbedding    (vocab, dim)
 * @param positionEmbedding (context, dim), learned positions (GPT-2)
 * @param layers            one entry per block
 * @param outputNorm        (1, dim), and its bias for LayerNorm
 * @param output            (vocab, dim): {@code output.weight}, or the embedding itself when the file ties them
 * @param ropeFreqs         Llama 3's RoPE frequency factors ({@code rope_freqs.weight}, ropeDims/2 values), on the host
 * @param ropeLong          Phi-3's LongRoPE factors for contexts past the original one ({@code rope_factors_long.weight},
 *                          ropeDims/2 values), on the host; null when the file has none
 * @param ropeShort         and for contexts within it ({@code rope_factors_short.weight})
 */
public record Weights(Tensor tokenEmbedding, Tensor positionEmbedding, Layer[] layers, Tensor outputNorm,
                      Tensor outputNormBias, Tensor output, float[] ropeFreqs, float[] ropeLong, float[] ropeShort,
                      Seq2Seq seq2seq) {

    /** A decoder-only model's weights. */
    public Weights(Tensor tokenEmbedding, Tensor positionEmbedding, Layer[] layers, Tensor outputNorm,
                   Tensor outputNormBias, Tensor output, float[] ropeFreqs, float[] ropeLong, float[] ropeShort) {
        this(tokenEmbedding, positionEmbedding, layers, outputNorm, outputNormBias, output, ropeFreqs, ropeLong, ropeShort, null);
    }

    /**
     * What an encoder–decoder model (T5) adds: {@link #layers()} and {@link #outputNorm()} are then the decoder's
     * ({@code dec.blk.N.*}, {@code dec.output_norm}).
     *
     * @param encoder       the encoder's blocks ({@code enc.blk.N.*}; attention, FFN and their norms)
     * @param encoderNorm   (1, dim) {@code enc.output_norm}: the encoder output E = RMS(x)·encoderNorm
     * @param encoderBias   per encoder layer, (buckets, heads) F32: the layer's {@code attn_rel_b}, or layer 0's
     * @param decoderBias   per decoder layer, likewise
     * @param cross         per decoder layer: cross-attention norm and projections
     * @param buckets       {@code t5.attention.relative_buckets_count}
     * @param decoderStart  {@code t5.decoder_start_token_id}: the decoder's first input
     */
    public record Seq2Seq(Layer[] encoder, Tensor encoderNorm, Tensor[] encoderBias, Tensor[] decoderBias, Cross[] cross,
                          int buckets, int decoderStart) {}

    /** One decoder layer's cross-attention: norm (1, dim); wq (qDim, dim); wk, wv (kvDim, dim) applied to E; wo (dim, qDim). */
    public record Cross(Tensor norm, Tensor wq, Tensor wk, Tensor wv, Tensor wo) {}

    /**
     * One transformer block; unused tensors are null.
     *
     * @param attnNorm, attnNormBias  (1, dim)
     * @param wqkv, bqkv              fused (qDim + 2·kvDim, dim) and its bias
     * @param wq, bq                  (qDim, dim); wk, bk and wv, bv (kvDim, dim)
     * @param wo, bo                  (dim, qDim)
     * @param qNorm, kNorm            (1, headDim) per-head RMSNorm weights
     * @param postAttnNorm            (1, dim)
     * @param ffnNorm, ffnNormBias    (1, dim)
     * @param gate                    (ffn, dim)
     * @param up, bUp                 (ffn, dim), or (2·ffn, dim) when gate and up are fused
     * @param down, bDown             (dim, ffn)
     * @param postFfnNorm             (1, dim)
     */
    public record Layer(Tensor attnNorm, Tensor attnNormBias, Tensor wqkv, Tensor bqkv, Tensor wq, Tensor bq,
                        Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo, Tensor bo, Tensor qNorm, Tensor kNorm,
                        Tensor postAttnNorm, Tensor ffnNorm, Tensor ffnNormBias, Tensor gate, Tensor up, Tensor bUp,
                        Tensor down, Tensor bDown, Tensor postFfnNorm) {}

    /**
     * Bytes one decode step reads from the weights: every layer tensor and the classifier (the embedding
     * table contributes one row, negligible, unless it is also the classifier).
     */
    public long streamedBytes() {
        long sum = bytes(output) + bytes(outputNorm) + bytes(outputNormBias);
        for (Layer l : layers) {
            for (var c : Layer.class.getRecordComponents()) {
                try {
                    sum += bytes((Tensor) c.getAccessor().invoke(l));
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        if (seq2seq != null) {   // a decode step also reads each decoder layer's cross-attention (K/V come from the cache)
            for (Cross c : seq2seq.cross()) sum += bytes(c.norm()) + bytes(c.wq()) + bytes(c.wo());
        }
        return sum;
    }

    /**
     * Multiply-adds per token of the layers' matrix products, by weight type (each matrix's rows × columns; norms and
     * biases, one row each, are not products): with the classifier's and attention's, a prefill's arithmetic.
     */
    public java.util.Map<dev.infercl.gguf.GgmlType, Long> layerMultiplyAdds() {
        var sum = new java.util.EnumMap<dev.infercl.gguf.GgmlType, Long>(dev.infercl.gguf.GgmlType.class);
        for (Layer l : layers) {
            for (var c : Layer.class.getRecordComponents()) {
                Tensor t;
                try {
                    t = (Tensor) c.getAccessor().invoke(l);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
                if (t != null && t.rows() > 1) sum.merge(t.type(), (long) t.rows() * t.cols(), Long::sum);
            }
        }
        return sum;
    }

    private static long bytes(Tensor t) {
        return t == null ? 0 : t.type().byteSize(t.cols()) * t.rows();
    }

    /** Uploads every weight the config's architecture needs, checking each tensor's presence, shape and type. */
    public static Weights upload(ModelFile file, Backend backend) throws ModelLoadException {
        ModelConfig c = file.config();
        Architecture a = c.arch();
        var ld = new Loader(file, backend);
        if (a.encoderDecoder()) return uploadSeq2Seq(file, backend, ld, c);
        boolean layerNorm = a.norm() == Architecture.Norm.LAYER;
        int qkv = c.qDim() + 2 * c.kvDim();
        // grown layer by layer: the config's count is checked against the blk.N tensors, but a file with none at all
        // (block_count unchecked) then fails on the first missing tensor, not on an array of block_count entries
        var layers = new java.util.ArrayList<Layer>();
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            boolean gated = a.gatedFfn();
            boolean fusedUp = a.ffn() == Architecture.Ffn.SWIGLU_FUSED;
            layers.add(new Layer(
                    ld.vector(p + "attn_norm.weight", c.dim()),
                    layerNorm ? ld.vector(p + "attn_norm.bias", c.dim()) : null,
                    a.fusedQkv() ? ld.matrix(p + "attn_qkv.weight", qkv, c.dim()) : null,
                    a.fusedQkv() ? ld.optionalVector(p + "attn_qkv.bias", qkv) : null,
                    a.fusedQkv() ? null : ld.matrix(p + "attn_q.weight", c.qDim(), c.dim()),
                    a.fusedQkv() ? null : ld.optionalVector(p + "attn_q.bias", c.qDim()),
                    a.fusedQkv() ? null : ld.matrix(p + "attn_k.weight", c.kvDim(), c.dim()),
                    a.fusedQkv() ? null : ld.optionalVector(p + "attn_k.bias", c.kvDim()),
                    a.fusedQkv() ? null : ld.matrix(p + "attn_v.weight", c.kvDim(), c.dim()),
                    a.fusedQkv() ? null : ld.optionalVector(p + "attn_v.bias", c.kvDim()),
                    ld.matrix(p + "attn_output.weight", c.dim(), c.qDim()),
                    ld.optionalVector(p + "attn_output.bias", c.dim()),
                    a.qkNorm() ? ld.vector(p + "attn_q_norm.weight", c.headDim()) : null,
                    a.qkNorm() ? ld.vector(p + "attn_k_norm.weight", c.headDim()) : null,
                    a.postNorms() ? ld.vector(p + "post_attention_norm.weight", c.dim()) : null,
                    ld.vector(p + "ffn_norm.weight", c.dim()),
                    layerNorm ? ld.vector(p + "ffn_norm.bias", c.dim()) : null,
                    gated && !fusedUp ? ld.matrix(p + "ffn_gate.weight", c.ffnDim(), c.dim()) : null,
                    ld.matrix(p + "ffn_up.weight", fusedUp ? 2 * c.ffnDim() : c.ffnDim(), c.dim()),
                    ld.optionalVector(p + "ffn_up.bias", fusedUp ? 2 * c.ffnDim() : c.ffnDim()),
                    ld.matrix(p + "ffn_down.weight", c.dim(), c.ffnDim()),
                    ld.optionalVector(p + "ffn_down.bias", c.dim()),
                    a.postNorms() ? ld.vector(p + "post_ffw_norm.weight", c.dim()) : null));
        }
        Tensor embedding = ld.table("token_embd.weight", c.vocabSize(), c.dim());
        Tensor positions = a.learnedPositions() ? ld.table("position_embd.weight", c.contextLength(), c.dim()) : null;
        Tensor output = file.weight("output.weight").isPresent()
                ? ld.matrix("output.weight", c.vocabSize(), c.dim())
                : embedding; // tied: the classifier reuses the embedding table
        float[] ropeFreqs = null, ropeLong = null, ropeShort = null;
        if (a.rope() != Architecture.Rope.NONE) {
            ropeFreqs = ld.ropeFactors("rope_freqs.weight", c.ropeDims());
            ropeLong = ld.ropeFactors("rope_factors_long.weight", c.ropeDims());
            ropeShort = ld.ropeFactors("rope_factors_short.weight", c.ropeDims());
            checkRopeFactors(file, c, ropeFreqs, ropeLong, ropeShort);
        }
        return new Weights(embedding, positions, layers.toArray(Layer[]::new), ld.vector("output_norm.weight", c.dim()),
                layerNorm ? ld.vector("output_norm.bias", c.dim()) : null, output, ropeFreqs, ropeLong, ropeShort);
    }

    /** T5 as llama.cpp writes it: {@code enc.blk.N.*}, {@code dec.blk.N.*} with {@code cross_attn_*}, shared embedding. */
    private static Weights uploadSeq2Seq(ModelFile file, Backend backend, Loader ld, ModelConfig c) throws ModelLoadException {
        String f = file.path().getFileName().toString(), arch = c.arch().name();
        int buckets = intKey(file, arch + ".attention.relative_buckets_count", 32);
        int start = intKey(file, arch + ".decoder_start_token_id", intKey(file, "tokenizer.ggml.bos_token_id", 0));
        if (buckets < 4 || start < 0 || start >= c.vocabSize()) {
            throw new ModelLoadException(f + ": metadata " + arch + ".attention.relative_buckets_count = " + buckets + " (≥ 4) or decoder start token "
                    + start + " (within the vocabulary of " + c.vocabSize() + ") is out of range");
        }
        Layer[] enc = new Layer[c.layers()], dec = new Layer[c.layers()];
        Tensor[] encBias = new Tensor[c.layers()], decBias = new Tensor[c.layers()];
        Cross[] cross = new Cross[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            enc[l] = t5Layer(ld, "enc.blk." + l + ".", c);
            dec[l] = t5Layer(ld, "dec.blk." + l + ".", c);
            String p = "dec.blk." + l + ".cross_attn_";
            cross[l] = new Cross(ld.vector("dec.blk." + l + ".cross_attn_norm.weight", c.dim()), ld.matrix(p + "q.weight", c.qDim(), c.dim()),
                    ld.matrix(p + "k.weight", c.kvDim(), c.dim()), ld.matrix(p + "v.weight", c.kvDim(), c.dim()), ld.matrix(p + "o.weight", c.dim(), c.qDim()));
            // a layer without its own table uses layer 0's (llama.cpp; T5 has a table in layer 0 only)
            encBias[l] = l > 0 && file.weight("enc.blk." + l + ".attn_rel_b.weight").isEmpty() ? encBias[0] : biasTable(ld, backend, "enc.blk." + l + ".attn_rel_b.weight", buckets, c.heads());
            decBias[l] = l > 0 && file.weight("dec.blk." + l + ".attn_rel_b.weight").isEmpty() ? decBias[0] : biasTable(ld, backend, "dec.blk." + l + ".attn_rel_b.weight", buckets, c.heads());
        }
        Tensor embedding = ld.table("token_embd.weight", c.vocabSize(), c.dim());
        Tensor output = file.weight("output.weight").isPresent() ? ld.matrix("output.weight", c.vocabSize(), c.dim()) : embedding;
        return new Weights(embedding, null, dec, ld.vector("dec.output_norm.weight", c.dim()), null, output, null, null, null,
                new Seq2Seq(enc, ld.vector("enc.output_norm.weight", c.dim()), encBias, decBias, cross, buckets, start));
    }

    private static Layer t5Layer(Loader ld, String p, ModelConfig c) throws ModelLoadException {
        return new Layer(ld.vector(p + "attn_norm.weight", c.dim()), null, null, null,
                ld.matrix(p + "attn_q.weight", c.qDim(), c.dim()), null, ld.matrix(p + "attn_k.weight", c.kvDim(), c.dim()), null,
                ld.matrix(p + "attn_v.weight", c.kvDim(), c.dim()), null, ld.matrix(p + "attn_o.weight", c.dim(), c.qDim()), null,
                null, null, null, ld.vector(p + "ffn_norm.weight", c.dim()), null,
                c.arch().gatedFfn() ? ld.matrix(p + "ffn_gate.weight", c.ffnDim(), c.dim()) : null, ld.matrix(p + "ffn_up.weight", c.ffnDim(), c.dim()), null,
                ld.matrix(p + "ffn_down.weight", c.dim(), c.ffnDim()), null, null);
    }

    /** A relative-position bias table ggml {heads, buckets}, as the F32 (buckets, heads) activation the attention op reads. */
    private static Tensor biasTable(Loader ld, Backend backend, String name, int buckets, int heads) throws ModelLoadException {
        Tensor w = ld.table(name, buckets, heads);
        float[] v = new float[buckets * heads];
        backend.read(w, v);
        Tensor t = backend.allocate(name, buckets, heads);
        backend.write(t, v);
        return t;
    }

    private static int intKey(ModelFile file, String key, int dflt) {
        Object v = file.metadata(key).orElse(null);
        return v instanceof Number n && !(v instanceof Float) && !(v instanceof Double) ? (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, n.longValue())) : dflt;
    }

    /**
     * Frequency-factor tensors that can be carried out without guessing: Phi-3's long and short factors come as a pair
     * with {@code rope.scaling.original_context_length} (which of them a session uses depends on it), never together
     * with {@code rope_freqs.weight}; a declared {@code longrope} scaling has them.
     */
    private static void checkRopeFactors(ModelFile file, ModelConfig c, float[] freqs, float[] longF, float[] shortF) throws ModelLoadException {
        String f = file.path().getFileName().toString(), key = c.arch().name() + ".rope.scaling.original_context_length";
        if ((longF == null) != (shortF == null)) {
            throw new ModelLoadException(f + ": tensor '" + (longF == null ? "rope_factors_long.weight" : "rope_factors_short.weight")
                    + "' is missing: LongRoPE factors come as a pair (rope_factors_long.weight and rope_factors_short.weight)");
        }
        if (longF != null && freqs != null) {
            throw new UnsupportedModelException(f + ": both 'rope_freqs.weight' and LongRoPE factors (rope_factors_long/short.weight): which divides the frequencies is ambiguous");
        }
        if (longF != null && c.ropeScaling().originalContext() == 0) {
            throw new ModelLoadException(f + ": LongRoPE factors (rope_factors_long/short.weight) need metadata '" + key
                    + "' (long factors apply past it, short ones within it), which is missing");
        }
        if (longF == null && c.ropeScaling().type() == RopeScaling.Type.LONGROPE) {
            throw new ModelLoadException(f + ": metadata '" + c.arch().name() + ".rope.scaling.type' is 'longrope' but the tensors "
                    + "'rope_factors_long.weight' and 'rope_factors_short.weight' are missing");
        }
    }

    private record Loader(ModelFile file, Backend backend) {
        Tensor matrix(String name, int rows, int cols) throws ModelLoadException {
            var raw = file.weight(name);
            if (raw.isPresent() && raw.get().type() == GgmlType.I8) return int8(raw.get(), rows, cols);
            WeightData w = check(name, rows, cols, false);
            return backend.upload(name, w.type(), rows, cols, w.bytes());
        }

        /** A lookup table (embeddings): any computable type, never I8 (embed has no INT8 path). */
        Tensor table(String name, int rows, int cols) throws ModelLoadException {
            WeightData w = check(name, rows, cols, false);
            return backend.upload(name, w.type(), rows, cols, w.bytes());
        }

        /** ropeDims/2 frequency divisors on the host (a float vector), or null when the file has no such tensor. */
        float[] ropeFactors(String name, int ropeDims) throws ModelLoadException {
            if (file.weight(name).isEmpty()) return null;
            WeightData w = check(name, 1, ropeDims / 2, true);
            float[] v = new float[ropeDims / 2];
            Dequant.row(w.type(), w.bytes(), 0, v, 0, v.length);
            for (float x : v) {
                if (!(x > 0) || !Float.isFinite(x)) {
                    throw new ModelLoadException(file.path().getFileName() + ": tensor '" + name + "' holds " + x + " (frequency divisors must be positive and finite)");
                }
            }
            return v;
        }

        Tensor vector(String name, int length) throws ModelLoadException {
            WeightData w = check(name, 1, length, true);
            return backend.upload(name, w.type(), 1, length, w.bytes());
        }

        Tensor optionalVector(String name, int length) throws ModelLoadException {
            return file.weight(name).isPresent() ? vector(name, length) : null;
        }

        /**
         * An INT8 linear weight (docs/QUANT-FORMAT.md): {@code X.weight} I8 [cols, rows], {@code X.weight_scale} F32
         * [groups, rows] and, for W8A8 only, an optional {@code X.weight_smooth} F32 [cols]. The scheme comes from
         * {@code infercl.quant.scheme} ("w8a16" or "w8a8") and the group size from {@code infercl.quant.group_size}
         * (0 or absent: per channel); a scale tensor of one column is per channel whatever the file's group size.
         */
        Tensor int8(WeightData w, int rows, int cols) throws ModelLoadException {
            String f = file.path().getFileName().toString(), name = w.name();
            long[] d = w.dims();
            if (d.length != 2 || d[0] != cols || d[1] != rows) {
                throw new ModelLoadException(f + ": tensor '" + name + "' has shape " + Arrays.toString(d) + ", expected [" + cols + ", " + rows + "] (ne0 first)");
            }
            Object scheme = file.metadata("infercl.quant.scheme").orElse(null);
            if (!"w8a16".equals(scheme) && !"w8a8".equals(scheme)) {
                throw new UnsupportedModelException(f + ": tensor '" + name + "' has type I8 but metadata 'infercl.quant.scheme' is "
                        + (scheme == null ? "absent" : scheme instanceof String str ? dev.infercl.gguf.GgufFile.quote(str) : String.valueOf(scheme)) + " (expected 'w8a16' or 'w8a8'); raw I8 tensors are not computable");
            }
            boolean w8a8 = scheme.equals("w8a8");
            Object gsRaw = file.metadata("infercl.quant.group_size").orElse(0L);
            if (!(gsRaw instanceof Number gsNum) || gsNum.longValue() < 0 || gsNum.longValue() > cols) {
                throw new ModelLoadException(f + ": metadata 'infercl.quant.group_size' is " + gsRaw + ", expected 0 or a divisor of the input width");
            }
            int fileGroup = gsNum.intValue();
            String scaleName = name + "_scale", smoothName = name + "_smooth";
            WeightData s = file.weight(scaleName).orElseThrow(() -> new ModelLoadException(
                    f + ": I8 tensor '" + name + "' needs its scale tensor '" + scaleName + "', which is missing"));
            long[] sd = s.dims();
            if (s.type() != GgmlType.F32 || sd.length != 2 || sd[1] != rows) {
                throw new ModelLoadException(f + ": scale tensor '" + scaleName + "' is " + s.type() + " " + Arrays.toString(sd)
                        + ", expected F32 [groups, " + rows + "]");
            }
            int group;
            if (sd[0] == 1) {
                group = 0;
            } else if (fileGroup > 0 && cols % fileGroup == 0 && sd[0] == cols / fileGroup && !w8a8) {
                group = fileGroup;
            } else {
                throw new ModelLoadException(f + ": scale tensor '" + scaleName + "' has shape " + Arrays.toString(sd) + ", expected [1, " + rows + "]"
                        + (fileGroup > 0 && !w8a8 && cols % fileGroup == 0 ? " or [" + cols / fileGroup + ", " + rows + "] (group size " + fileGroup + ")" : "")
                        + (w8a8 ? " (W8A8 weights have one scale per output channel)" : ""));
            }
            float[] smooth = null;
            var sm = file.weight(smoothName);
            if (sm.isPresent()) {
                WeightData m = sm.get();
                if (!w8a8) throw new ModelLoadException(f + ": smoothing tensor '" + smoothName + "' in a " + scheme + " file (smoothing is W8A8 only)");
                if (m.type() != GgmlType.F32 || m.dims().length != 1 || m.dims()[0] != cols) {
                    throw new ModelLoadException(f + ": smoothing tensor '" + smoothName + "' is " + m.type() + " " + Arrays.toString(m.dims())
                            + ", expected F32 [" + cols + "]");
                }
                smooth = floats(m, cols);
                for (float v : smooth) {
                    if (!(v > 0) || !Float.isFinite(v)) throw new ModelLoadException(f + ": smoothing tensor '" + smoothName + "' holds " + v + " (must be positive and finite)");
                }
            }
            float[] scales = floats(s, (int) (sd[0] * rows));
            for (float v : scales) {
                if (!Float.isFinite(v)) throw new ModelLoadException(f + ": scale tensor '" + scaleName + "' holds " + v);
            }
            return backend.upload(new dev.infercl.backend.Int8Weight(name, rows, cols, w.bytes(), scales, group, smooth, w8a8));
        }

        private static float[] floats(WeightData w, int count) {
            float[] v = new float[count];
            Dequant.row(GgmlType.F32, w.bytes(), 0, v, 0, count);
            return v;
        }

        WeightData check(String name, int rows, int cols, boolean vector) throws ModelLoadException {
            String f = file.path().getFileName().toString();
            WeightData w = file.weight(name).orElseThrow(() -> new ModelLoadException(f + ": tensor '" + name + "' is missing"));
            if (!w.type().computable()) {
                throw new UnsupportedModelException(f + ": tensor '" + name + "' has unsupported type " + w.type()
                        + " (InferCL computes with " + GgmlType.computableNames() + ")");
            }
            if (vector && w.type() != GgmlType.F32 && w.type() != GgmlType.F16 && w.type() != GgmlType.BF16) {
                throw new UnsupportedModelException(f + ": vector '" + name + "' has type " + w.type() + " (expected F32, F16 or BF16)");
            }
            long[] d = w.dims();
            boolean ok = vector ? d[0] == cols && w.rows() == 1 : d.length == 2 && d[0] == cols && d[1] == rows;
            if (!ok) {
                throw new ModelLoadException(f + ": tensor '" + name + "' has shape " + Arrays.toString(d) + ", expected "
                        + (vector ? "[" + cols + "]" : "[" + cols + ", " + rows + "] (ne0 first)"));
            }
            return w;
        }
    }
}
