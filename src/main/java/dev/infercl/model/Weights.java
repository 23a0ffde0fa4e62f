package dev.infercl.model;

import dev.infercl.backend.Backend;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;

/**
 * A model's weights, uploaded once to a backend in their file types. Shapes as [rows × cols] (out × in).
 *
 * @param tokenEmbedding (vocab, dim)
 * @param layers         one entry per block
 * @param outputNorm     (1, dim)
 * @param output         (vocab, dim): {@code output.weight}, or the embedding itself when the file ties them
 */
public record Weights(Tensor tokenEmbedding, Layer[] layers, Tensor outputNorm, Tensor output) {

    /**
     * One transformer block.
     *
     * @param attnNorm (1, dim)
     * @param wq       (heads·headDim, dim)
     * @param wk       (kvHeads·headDim, dim)
     * @param wv       (kvHeads·headDim, dim)
     * @param wo       (dim, heads·headDim)
     * @param ffnNorm  (1, dim)
     * @param gate     (ffn, dim)
     * @param up       (ffn, dim)
     * @param down     (dim, ffn)
     */
    public record Layer(Tensor attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo,
                        Tensor ffnNorm, Tensor gate, Tensor up, Tensor down) {}

    /** Uploads every weight the config needs, checking each tensor's presence, shape and type. */
    public static Weights upload(ModelFile file, Backend backend) throws ModelLoadException {
        ModelConfig c = file.config();
        var loader = new Loader(file, backend);
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            layers[l] = new Layer(
                    loader.vector(p + "attn_norm.weight", c.dim()),
                    loader.matrix(p + "attn_q.weight", c.qDim(), c.dim()),
                    loader.matrix(p + "attn_k.weight", c.kvDim(), c.dim()),
                    loader.matrix(p + "attn_v.weight", c.kvDim(), c.dim()),
                    loader.matrix(p + "attn_output.weight", c.dim(), c.qDim()),
                    loader.vector(p + "ffn_norm.weight", c.dim()),
                    loader.matrix(p + "ffn_gate.weight", c.ffnDim(), c.dim()),
                    loader.matrix(p + "ffn_up.weight", c.ffnDim(), c.dim()),
                    loader.matrix(p + "ffn_down.weight", c.dim(), c.ffnDim()));
        }
        Tensor embedding = loader.matrix("token_embd.weight", c.vocabSize(), c.dim());
        Tensor output = file.weight("output.weight").isPresent()
                ? loader.matrix("output.weight", c.vocabSize(), c.dim())
                : embedding; // tied: the classifier reuses the embedding table
        return new Weights(embedding, layers, loader.vector("output_norm.weight", c.dim()), output);
    }

    private record Loader(ModelFile file, Backend backend) {
        Tensor matrix(String name, int rows, int cols) throws ModelLoadException {
            WeightData w = file.weight(name).orElseThrow(() -> new ModelLoadException(file.path().getFileName() + ": tensor '" + name + "' is missing"));
            if (!w.type().computable()) {
                throw new UnsupportedModelException(file.path().getFileName() + ": tensor '" + name + "' has unsupported type " + w.type()
                        + " (InferCL computes with F32, F16, BF16, Q8_0, Q4_0)");
            }
            long[] d = w.dims();
            if (d.length != 2 || d[0] != cols || d[1] != rows) {
                throw new ModelLoadException(file.path().getFileName() + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(d)
                        + ", expected [" + cols + ", " + rows + "] (ne0 first)");
            }
            return backend.upload(name, w.type(), rows, cols, w.bytes());
        }

        Tensor vector(String name, int length) throws ModelLoadException {
            WeightData w = file.weight(name).orElseThrow(() -> new ModelLoadException(file.path().getFileName() + ": tensor '" + name + "' is missing"));
            long[] d = w.dims();
            boolean ok = d[0] == length && w.rows() == 1;
            if (!ok) {
                throw new ModelLoadException(file.path().getFileName() + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(d) + ", expected [" + length + "]");
            }
            if (w.type() != GgmlType.F32 && w.type() != GgmlType.F16 && w.type() != GgmlType.BF16) {
                throw new UnsupportedModelException(file.path().getFileName() + ": norm tensor '" + name + "' has type " + w.type() + " (expected F32, F16 or BF16)");
            }
            return backend.upload(name, w.type(), 1, length, w.bytes());
        }
    }
}
