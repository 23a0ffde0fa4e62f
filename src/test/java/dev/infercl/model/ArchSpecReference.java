package dev.infercl.model;

import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * An independent float64 forward pass over a GGUF file, written from the architectures' specifications as
 * llama.cpp computes them (its {@code llm_build_*} graphs), sharing no code with InferCL's Transformer, Reference
 * or backends: weights are read straight from {@link GgufFile} and decoded with plain loops; the whole sequence
 * is processed at once (teacher forcing), one causal attention per layer.
 *
 * <p>Per architecture (x = residual stream, RMS(x) = x / √(mean x² + ε) · w, LN(x) = (x − μ)/√(σ² + ε) · w + b):
 * <ul>
 *   <li>llama: RMS; q, k, v; RoPE on adjacent pairs (2i, 2i+1), angle pos · base^(−2i/n_rot) / rope_freqs[i];
 *       SwiGLU; untied or tied output.</li>
 *   <li>qwen2: as llama with Q/K/V biases and NEOX RoPE (pairs (i, i + n_rot/2)).</li>
 *   <li>qwen3: as llama with NEOX RoPE, and q, k RMS-normalised per head by attn_q_norm / attn_k_norm before RoPE.</li>
 *   <li>phi3: fused attn_qkv rows Q | K | V; NEOX; ffn_up rows gate | up, silu(gate)·up. (Current llama.cpp
 *       disables Phi-3's sliding window; the generated model's 2047 never masks here anyway.)</li>
 *   <li>gemma2: x = E[t]·√dim; NEOX; q scaled by 1/√head_dim (1/√(dim/heads) for the 46-layer 27B); scores soft-capped c·tanh(s/c)
 *       (attn_logit_softcapping); layers with il % 2 == 0 see only positions p with pos − p &lt; sliding_window;
 *       attention output RMS-normed by post_attention_norm before the residual add; FFN gelu_tanh(gate)·up,
 *       RMS-normed by post_ffw_norm before the add; output tied, logits soft-capped (final_logit_softcapping).</li>
 *   <li>gpt2: x = E[t] + P[pos]; LN with bias; fused attn_qkv + bias; attn_output + bias; FFN
 *       down(gelu_tanh(up·h + b) ) + b; output LN, then output.weight.</li>
 * </ul>
 *
 * <p>RoPE scaling as llama.cpp reads and ggml applies it ({@code load_hparams}, the context's cparams,
 * {@code rope_yarn}): type (absent: linear), factor (rope.scaling.factor, else rope.scale_linear; 0 or absent: 1),
 * freq_scale = 1/factor except for type none; ext_factor 1 for yarn, else 0 (rope.scaling.yarn_ext_factor when the
 * file has it); θ_extrap = pos · base^(−2i/n_rot) / ff_i, θ_interp = freq_scale · θ_extrap, and with ext_factor ≠ 0
 * θ = θ_interp (1 − r) + θ_extrap r, r = ext_factor · (1 − clamp((i − lo)/max(0.001, hi − lo), 0, 1)) over
 * YaRN's correction range lo = max(0, ⌊c(β_fast)⌋), hi = min(n_rot − 1, ⌈c(β_slow)⌉),
 * c(β) = n_rot · ln(n_ctx_orig / (2πβ)) / (2 ln base), β 32 and 1 unless the file says; cos and sin times
 * rope.scaling.attn_factor, and times 1 + 0.1 ln(factor) (factor &gt; 1) when ext_factor ≠ 0. The frequency factors
 * ff are rope_freqs.weight, else Phi-3's rope_factors_long.weight when the session holds more than
 * rope.scaling.original_context_length positions, rope_factors_short.weight otherwise.
 */
final class ArchSpecReference {
    private final GgufFile f;
    private final String arch;
    final int dim, layers, heads, kvHeads, headDim, ffn, vocab, ropeDims;
    final double eps, base, attnCap, finalCap, attnScale;
    final int window;
    final String ropeType;
    final double ropeFactor, ropeAttnFactor, betaFast, betaSlow, extFactor;
    final int contextLength, originalContext;
    private final Map<String, double[]> cache = new HashMap<>();

    /** Features that can be switched off to prove a test is sensitive to them. */
    boolean useWindow = true, useSoftcaps = true, useFreqFactors = true, useQkNorm = true, usePostNorms = true, useRopeScaling = true;
    /** Positions the session holds (chooses Phi-3's long or short factors); the file's context length unless set. */
    int sessionContext;

    ArchSpecReference(GgufFile f) throws IOException {
        this.f = f;
        arch = f.getString("general.architecture");
        String p = arch + ".";
        dim = f.getInt(p + "embedding_length");
        layers = f.getInt(p + "block_count");
        heads = f.getInt(p + "attention.head_count");
        kvHeads = f.getInt(p + "attention.head_count_kv", heads);
        headDim = f.getInt(p + "attention.key_length", dim / heads);
        ffn = f.getInt(p + "feed_forward_length");
        vocab = f.getStringArray("tokenizer.ggml.tokens").length;
        ropeDims = f.getInt(p + "rope.dimension_count", headDim);
        eps = arch.equals("gpt2") ? f.getFloat(p + "attention.layer_norm_epsilon") : f.getFloat(p + "attention.layer_norm_rms_epsilon");
        base = f.getFloat(p + "rope.freq_base", 10000f);
        boolean gemma2 = arch.equals("gemma2");
        // llama.cpp: only Gemma 2 reads these; absent keys mean 50, 30 and 4096 (llama_hparams, load_hparams)
        attnCap = gemma2 ? f.getFloat(p + "attn_logit_softcapping", 50f) : 0;
        finalCap = gemma2 ? f.getFloat(p + "final_logit_softcapping", 30f) : 0;
        window = gemma2 ? f.getInt(p + "attention.sliding_window", 4096) : 0;
        // llama.cpp: Gemma 2 "27B" (46 layers) scales queries by 1/√(n_embd / n_head), others by 1/√head_dim
        attnScale = 1 / Math.sqrt(gemma2 && layers == 46 ? dim / heads : headDim);
        contextLength = f.getInt(p + "context_length");
        sessionContext = contextLength;
        ropeType = f.getString(p + "rope.scaling.type", "linear");
        double factor = f.has(p + "rope.scaling.factor") ? f.getFloat(p + "rope.scaling.factor") : f.getFloat(p + "rope.scale_linear", 0f);
        ropeFactor = factor == 0 ? 1 : factor;
        originalContext = f.getInt(p + "rope.scaling.original_context_length", contextLength);
        ropeAttnFactor = f.getFloat(p + "rope.scaling.attn_factor", 1f);
        betaFast = f.getFloat(p + "rope.scaling.yarn_beta_fast", 32f);
        betaSlow = f.getFloat(p + "rope.scaling.yarn_beta_slow", 1f);
        double ext = f.getFloat(p + "rope.scaling.yarn_ext_factor", -1f);
        extFactor = ext >= 0 ? ext : ropeType.equals("yarn") ? 1 : 0;
    }

    /** The rows after the final norm (the classifier's input) of the last {@link #forward}, [tokens.length][dim]. */
    double[][] hidden;

    /** The logits after each token, [tokens.length][vocab]. */
    double[][] forward(int[] tokens) {
        int n = tokens.length, qd = heads * headDim, kvd = kvHeads * headDim;
        boolean gpt2 = arch.equals("gpt2"), gemma2 = arch.equals("gemma2");
        double[][] x = new double[n][];
        double[] emb = t("token_embd.weight");
        for (int t = 0; t < n; t++) {
            x[t] = new double[dim];
            for (int i = 0; i < dim; i++) x[t][i] = emb[tokens[t] * dim + i];
            if (gemma2) for (int i = 0; i < dim; i++) x[t][i] *= Math.sqrt(dim);
            if (gpt2) {
                double[] pe = t("position_embd.weight");
                for (int i = 0; i < dim; i++) x[t][i] += pe[t * dim + i];
            }
        }
        for (int l = 0; l < layers; l++) {
            String b = "blk." + l + ".";
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] h = norm(x[t], b + "attn_norm");
                if (gpt2 || arch.equals("phi3")) {
                    double[] all = linear(b + "attn_qkv", h, qd + 2 * kvd);
                    q[t] = slice(all, 0, qd);
                    k[t] = slice(all, qd, kvd);
                    v[t] = slice(all, qd + kvd, kvd);
                } else {
                    q[t] = linear(b + "attn_q", h, qd);
                    k[t] = linear(b + "attn_k", h, kvd);
                    v[t] = linear(b + "attn_v", h, kvd);
                }
                if (arch.equals("qwen3") && useQkNorm) {
                    perHeadRms(q[t], t(b + "attn_q_norm.weight"));
                    perHeadRms(k[t], t(b + "attn_k_norm.weight"));
                }
                if (!gpt2) {
                    rope(q[t], t);
                    rope(k[t], t);
                }
            }
            boolean sliding = gemma2 && l % 2 == 0 && useWindow;
            double scale = attnScale;
            int group = heads / kvHeads;
            for (int t = 0; t < n; t++) {
                double[] att = new double[qd];
                for (int hh = 0; hh < heads; hh++) {
                    int g = hh / group;
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int p = 0; p <= t; p++) {
                        if (sliding && t - p >= window) {
                            s[p] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int i = 0; i < headDim; i++) dot += q[t][hh * headDim + i] * k[p][g * headDim + i];
                        dot *= scale;
                        if (attnCap > 0 && useSoftcaps) dot = attnCap * Math.tanh(dot / attnCap);
                        s[p] = dot;
                        max = Math.max(max, dot);
                    }
                    double sum = 0;
                    for (int p = 0; p <= t; p++) sum += s[p] = Math.exp(s[p] - max);
                    for (int p = 0; p <= t; p++) {
                        for (int i = 0; i < headDim; i++) att[hh * headDim + i] += s[p] / sum * v[p][g * headDim + i];
                    }
                }
                double[] o = linear(b + "attn_output", att, dim);
                if (gemma2 && usePostNorms) o = rms(o, t(b + "post_attention_norm.weight"));
                for (int i = 0; i < dim; i++) x[t][i] += o[i];
            }
            for (int t = 0; t < n; t++) {
                double[] h = norm(x[t], b + "ffn_norm"), act = new double[ffn];
                switch (arch) {
                    case "gpt2" -> {
                        double[] u = linear(b + "ffn_up", h, ffn);
                        for (int i = 0; i < ffn; i++) act[i] = gelu(u[i]);
                    }
                    case "phi3" -> {
                        double[] u = linear(b + "ffn_up", h, 2 * ffn);
                        for (int i = 0; i < ffn; i++) act[i] = silu(u[i]) * u[ffn + i];
                    }
                    default -> {
                        double[] gt = linear(b + "ffn_gate", h, ffn), u = linear(b + "ffn_up", h, ffn);
                        for (int i = 0; i < ffn; i++) act[i] = (gemma2 ? gelu(gt[i]) : silu(gt[i])) * u[i];
                    }
                }
                double[] o = linear(b + "ffn_down", act, dim);
                if (gemma2 && usePostNorms) o = rms(o, t(b + "post_ffw_norm.weight"));
                for (int i = 0; i < dim; i++) x[t][i] += o[i];
            }
        }
        String out = f.tensor("output.weight").isPresent() ? "output.weight" : "token_embd.weight";
        double[] w = t(out);
        double[][] logits = new double[n][vocab];
        hidden = new double[n][];
        for (int t = 0; t < n; t++) {
            double[] h = norm(x[t], "output_norm");
            hidden[t] = h;
            for (int o = 0; o < vocab; o++) {
                double acc = 0;
                for (int i = 0; i < dim; i++) acc += w[o * dim + i] * h[i];
                if (finalCap > 0 && useSoftcaps) acc = finalCap * Math.tanh(acc / finalCap);
                logits[t][o] = acc;
            }
        }
        return logits;
    }

    // ----------------------------------------------------------------------------------------------- pieces

    private double[] norm(double[] x, String stem) {
        if (!arch.equals("gpt2")) return rms(x, t(stem + ".weight"));
        double[] w = t(stem + ".weight"), b = t(stem + ".bias"), out = new double[x.length];
        double mean = 0, var = 0;
        for (double v : x) mean += v;
        mean /= x.length;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= x.length;
        for (int i = 0; i < x.length; i++) out[i] = (x[i] - mean) / Math.sqrt(var + eps) * w[i] + b[i];
        return out;
    }

    private double[] rms(double[] x, double[] w) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double inv = 1 / Math.sqrt(ss / x.length + eps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] * inv * w[i];
        return out;
    }

    private void perHeadRms(double[] x, double[] w) {
        for (int h = 0; h < x.length / headDim; h++) {
            double[] one = rms(slice(x, h * headDim, headDim), w);
            System.arraycopy(one, 0, x, h * headDim, headDim);
        }
    }

    /** Rotates every head of x (one token at position pos) in place. */
    private void rope(double[] x, int pos) {
        boolean neox = !arch.equals("llama");
        double[] ff = null;
        if (useFreqFactors && f.tensor("rope_freqs.weight").isPresent()) {
            ff = t("rope_freqs.weight");
        } else if (useRopeScaling && f.tensor("rope_factors_long.weight").isPresent()) {
            ff = t(sessionContext > originalContext ? "rope_factors_long.weight" : "rope_factors_short.weight");
        }
        boolean scaled = useRopeScaling;
        double freqScale = scaled && !ropeType.equals("none") ? 1 / ropeFactor : 1, ext = scaled ? extFactor : 0;
        double mscale = scaled ? ropeAttnFactor * (ext != 0 && ropeFactor > 1 ? 1 + 0.1 * Math.log(ropeFactor) : 1) : 1;
        double lo = Math.max(0, Math.floor(correctionDim(betaFast))), hi = Math.min(ropeDims - 1, Math.ceil(correctionDim(betaSlow)));
        for (int h = 0; h < x.length / headDim; h++) {
            int o = h * headDim;
            for (int i = 0; i < ropeDims / 2; i++) {
                double extrap = pos * Math.pow(base, -2.0 * i / ropeDims) / (ff == null ? 1 : ff[i]), theta = freqScale * extrap;
                if (ext != 0) {
                    double r = ext * (1 - Math.min(1, Math.max(0, (i - lo) / Math.max(0.001, hi - lo))));
                    theta = theta * (1 - r) + extrap * r;
                }
                double cos = Math.cos(theta) * mscale, sin = Math.sin(theta) * mscale;
                int a = neox ? o + i : o + 2 * i, c = neox ? o + i + ropeDims / 2 : o + 2 * i + 1;
                double x0 = x[a], x1 = x[c];
                x[a] = x0 * cos - x1 * sin;
                x[c] = x0 * sin + x1 * cos;
            }
        }
    }

    /** YaRN's correction dimension: the pair whose wavelength fits {@code rotations} times into the original context. */
    private double correctionDim(double rotations) {
        return ropeDims * Math.log(originalContext / (2 * Math.PI * rotations)) / (2 * Math.log(base));
    }

    /** W·x (+ bias when the file has one), W = stem.weight with {@code rows} rows of x.length values. */
    private double[] linear(String stem, double[] x, int rows) {
        double[] w = t(stem + ".weight"), out = new double[rows];
        int in = x.length;
        if (w.length != (long) rows * in) throw new IllegalStateException(stem + ": " + w.length + " values, expected " + rows + "×" + in);
        for (int o = 0; o < rows; o++) {
            double acc = 0;
            for (int i = 0; i < in; i++) acc += w[o * in + i] * x[i];
            out[o] = acc;
        }
        if (f.tensor(stem + ".bias").isPresent()) {
            double[] b = t(stem + ".bias");
            for (int o = 0; o < rows; o++) out[o] += b[o];
        }
        return out;
    }

    private static double[] slice(double[] a, int from, int len) {
        double[] out = new double[len];
        System.arraycopy(a, from, out, 0, len);
        return out;
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    /** A tensor's values in file order (ne0 fastest), decoded from F32 or F16 by hand. */
    private double[] t(String name) {
        return cache.computeIfAbsent(name, nm -> {
            TensorInfo ti = f.tensor(nm).orElseThrow(() -> new IllegalStateException("no tensor " + nm));
            MemorySegment seg = f.data(ti);
            long count = 1;
            for (long d : ti.dims()) count *= d;
            double[] out = new double[Math.toIntExact(count)];
            var f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            var i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < out.length; i++) {
                out[i] = switch (ti.type()) {
                    case F32 -> seg.get(f32, 4L * i);
                    case F16 -> Float.float16ToFloat(seg.get(i16, 2L * i));
                    default -> throw new IllegalStateException(nm + ": type " + ti.type() + " not decoded by the test");
                };
            }
            return out;
        });
    }
}
