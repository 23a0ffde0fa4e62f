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
 */
public record Weights(Tensor tokenEmbedding, Tensor positionEmbedding, Layer[] layers, Tensor outputNorm,
                      Tensor outputNormBias, Tensor output, float[] ropeFreqs) {

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
        boolean layerNorm = a.norm() == Architecture.Norm.LAYER;
        int qkv = c.qDim() + 2 * c.kvDim();
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            boolean gated = a.ffn() != Architecture.Ffn.GELU;
            boolean fusedUp = a.ffn() == Architecture.Ffn.SWIGLU_FUSED;
            layers[l] = new Layer(
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
                    a.postNorms() ? ld.vector(p + "post_ffw_norm.weight", c.dim()) : null);
        }
        Tensor embedding = ld.matrix("token_embd.weight", c.vocabSize(), c.dim());
        Tensor positions = a.learnedPositions() ? ld.matrix("position_embd.weight", c.contextLength(), c.dim()) : null;
        Tensor output = file.weight("output.weight").isPresent()
                ? ld.matrix("output.weight", c.vocabSize(), c.dim())
                : embedding; // tied: the classifier reuses the embedding table
        float[] ropeFreqs = null;
        if (file.weight("rope_freqs.weight").isPresent() && a.rope() != Architecture.Rope.NONE) {
            WeightData f = ld.check("rope_freqs.weight", 1, c.ropeDims() / 2, true);
            ropeFreqs = new float[c.ropeDims() / 2];
            Dequant.row(f.type(), f.bytes(), 0, ropeFreqs, 0, ropeFreqs.length);
        }
        return new Weights(embedding, positions, layers, ld.vector("output_norm.weight", c.dim()),
                layerNorm ? ld.vector("output_norm.bias", c.dim()) : null, output, ropeFreqs);
    }

    private record Loader(ModelFile file, Backend backend) {
        Tensor matrix(String name, int rows, int cols) throws ModelLoadException {
            WeightData w = check(name, rows, cols, false);
            return backend.upload(name, w.type(), rows, cols, w.bytes());
        }

        Tensor vector(String name, int length) throws ModelLoadException {
            WeightData w = check(name, 1, length, true);
            return backend.upload(name, w.type(), 1, length, w.bytes());
        }

        Tensor optionalVector(String name, int length) throws ModelLoadException {
            return file.weight(name).isPresent() ? vector(name, length) : null;
        }

        WeightData check(String name, int rows, int cols, boolean vector) throws ModelLoadException {
            String f = file.path().getFileName().toString();
            WeightData w = file.weight(name).orElseThrow(() -> new ModelLoadException(f + ": tensor '" + name + "' is missing"));
            if (!w.type().computable()) {
                throw new UnsupportedModelException(f + ": tensor '" + name + "' has unsupported type " + w.type()
                        + " (InferCL computes with F32, F16, BF16, Q8_0, Q4_0)");
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
