package dev.infercl.quant;

import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * llama.cpp's choice of a type per tensor for its K-quant file types (src/llama-quant.cpp of the llama.cpp build in
 * ../shared/anchors: which tensors llama-quantize converts, llama_tensor_get_type's rules, and the fallback for rows
 * that are not a multiple of 256), for a dense model and no importance matrix. {@link #plan} visits the tensors in
 * llama.cpp's order (by layer, then by name) and keeps its counters, so the layer-dependent rules see the same
 * indices; {@link #type} is the rule for one tensor.
 *
 * <p>llama.cpp also has rules for mixture-of-experts models (8 experts), Falcon and its IQ file types; InferCL runs
 * none of them, so they are not here.
 */
public final class KQuantMix {
    private KQuantMix() {}

    /**
     * What the rules read from the model's metadata.
     *
     * @param arch      {@code general.architecture}
     * @param layers    {@code <arch>.block_count} (llama.cpp's n_ffn_down)
     * @param heads     {@code <arch>.attention.head_count} of the first layer
     * @param kvHeads   {@code <arch>.attention.head_count_kv} of the first layer (heads when absent)
     */
    public record ModelInfo(String arch, int layers, int heads, int kvHeads) {
        /** llama.cpp's n_gqa(): query heads per KV head (integer division; 0 without KV heads). */
        public int gqa() {
            return kvHeads == 0 ? 0 : heads / kvHeads;
        }

        /** llama.cpp's LLM_TYPE_70B for the architectures InferCL runs: llama with 80 layers and GQA, qwen2 with 80 layers. */
        boolean is70B() {
            return layers == 80 && (arch.equals("llama") && heads != kvHeads || arch.equals("qwen2"));
        }

        /** The fields from a GGUF file's metadata. */
        public static ModelInfo of(GgufFile f) {
            String arch = f.get("general.architecture").orElse("") instanceof String a ? a : "";
            int heads = firstInt(f, arch + ".attention.head_count", 0);
            return new ModelInfo(arch, firstInt(f, arch + ".block_count", 0), heads, firstInt(f, arch + ".attention.head_count_kv", heads));
        }

        /** An integer key, or the first element of an integer array (per-layer head counts). */
        private static int firstInt(GgufFile f, String key, int dflt) {
            Object v = f.get(key).orElse(null);
            if (v instanceof GgufFile.MetadataArray a && a.length() > 0) v = Array.get(a.values(), 0);
            return v instanceof Number n ? n.intValue() : dflt;
        }
    }

    /** Substrings of the 2-D weights llama-quantize leaves in their type (besides norms): gating, positions, small mixers. */
    private static final List<String> KEPT = List.of("_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight",
            "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
            "attn_rel_b.weight");

    /**
     * Whether llama-quantize converts the tensor: its name ends in "weight", it has at least two dimensions larger
     * than 1 (ggml_n_dims), it is not a norm, position or token-type embedding, or one of the small weights in
     * {@link #KEPT}.
     */
    public static boolean converts(String name, long[] dims) {
        int nDims = 1;
        for (int i = dims.length - 1; i > 0; i--) {
            if (dims[i] != 1) {
                nDims = i + 1;
                break;
            }
        }
        if (!name.endsWith("weight") || nDims < 2) return false;
        if (name.equals("position_embd.weight") || name.equals("token_types.weight")) return false;
        for (String k : KEPT) if (name.contains(k)) return false;
        return true;
    }

    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");

    /**
     * One tensor's type.
     *
     * @param wanted what the rules pick
     * @param type   what is written: {@code wanted}, or its fallback when the rows are not a multiple of its block
     */
    public record Choice(GgmlType wanted, GgmlType type) {
        public boolean fellBack() {
            return wanted != type;
        }
    }

    /**
     * The type of every tensor llama-quantize converts under {@code scheme} (absent: the tensor keeps its type), in
     * the file's order. Visits the tensors in llama.cpp's order — by layer number (tensors outside a layer first),
     * then by name — counting attn_v and ffn_down tensors as llama.cpp does.
     */
    public static Map<String, Choice> plan(Scheme scheme, ModelInfo model, List<TensorInfo> tensors) {
        if (!scheme.kMix()) throw new IllegalArgumentException(scheme.id() + " is not a K-quant mix");
        boolean hasOutput = false;
        int nAttnV = 0;
        for (TensorInfo t : tensors) {
            if (t.name().contains("attn_v.weight") || t.name().contains("attn_qkv.weight") || t.name().contains("attn_kv_b.weight")) nAttnV++;
            else if (t.name().equals("output.weight")) hasOutput = true;
        }
        var order = new ArrayList<>(tensors);
        order.sort(Comparator.comparingInt((TensorInfo t) -> layerOf(t.name())).thenComparing(TensorInfo::name));
        var chosen = new LinkedHashMap<String, Choice>();
        int iAttnV = 0, iFfnDown = 0;
        for (TensorInfo t : order) {
            if (!converts(t.name(), t.dims())) continue;
            String n = t.name();
            int index = 0, count = 0;
            if (n.contains("attn_v.weight")) {
                index = iAttnV++;
                count = nAttnV;
            } else if (n.contains("ffn_down")) {
                index = iFfnDown++;
                count = model.layers();
            }
            GgmlType wanted = rule(scheme, n, t.rowLength(), index, count, hasOutput, model);
            chosen.put(n, new Choice(wanted, fallback(wanted, t.rowLength())));
        }
        var inFileOrder = new LinkedHashMap<String, Choice>();
        for (TensorInfo t : tensors) if (chosen.containsKey(t.name())) inFileOrder.put(t.name(), chosen.get(t.name()));
        return inFileOrder;
    }

    /** The layer number of a {@code blk.N.} tensor, −1 for the others (llama.cpp's weight_name_comparer). */
    private static int layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between. */
    static boolean useMoreBits(int i, int n) {
        return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    }

    /** llama_tensor_get_type for one tensor that llama-quantize converts: {@link #rule}, then {@link #fallback}. */
    static GgmlType type(Scheme scheme, String name, long rowLength, int index, int count, boolean hasOutput, ModelInfo model) {
        return fallback(rule(scheme, name, rowLength, index, count, hasOutput, model), rowLength);
    }

    /**
     * llama_tensor_get_type's rules for one tensor that llama-quantize converts, before the fallback for short rows.
     *
     * @param rowLength ne0, the length of the tensor's rows
     * @param index     for attn_v its place among the attn_v tensors, for ffn_down among the ffn_down tensors (in
     *                  llama.cpp's order: the layer number in a dense model); unused otherwise
     * @param count     the number of attn_v (and attn_qkv) tensors, or for ffn_down the number of layers
     * @param hasOutput whether the model has an {@code output.weight} (without one, {@code token_embd} is the output
     *                  matrix and gets its type)
     */
    static GgmlType rule(Scheme scheme, String name, long rowLength, int index, int count, boolean hasOutput, ModelInfo model) {
        GgmlType t = scheme.baseType();
        if (name.equals("output.weight") || !hasOutput && name.equals("token_embd.weight")) {
            // the output matrix: Q6_K, or Q8_0 when its rows do not fill 256-value blocks
            t = rowLength % t.blockSize != 0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
        } else if (name.equals("token_embd.weight")) {
            // the K mixes keep their base type for the embedding table
        } else if (name.contains("attn_v.weight")) {
            t = switch (scheme) {
                case Q2_K -> model.gqa() >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
                case Q3_K_M -> index < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
                case Q4_K_M, Q5_K_M -> useMoreBits(index, count) ? GgmlType.Q6_K : t;
                case Q4_K_S -> index < 4 ? GgmlType.Q5_K : t;
                default -> t;
            };
            // a 70B model's attn_v is 8× smaller than attn_q (8 query heads per KV head): more bits cost little
            if (model.is70B() && (t == GgmlType.Q3_K || t == GgmlType.Q4_K)) t = GgmlType.Q5_K;
        } else if (name.contains("attn_k.weight") || name.contains("attn_q.weight")) {
            // the K mixes keep their base type (llama.cpp's rules here are for IQ types and 8-expert models)
        } else if (name.contains("ffn_down")) {
            t = switch (scheme) {
                case Q2_K -> GgmlType.Q3_K;
                case Q3_K_M -> index < count / 16 ? GgmlType.Q5_K : GgmlType.Q4_K;
                case Q4_K_M, Q5_K_M -> useMoreBits(index, count) ? GgmlType.Q6_K : t;
                case Q4_K_S -> index < count / 8 ? GgmlType.Q5_K : t;
                default -> t;
            };
        } else if (name.contains("attn_output.weight")) {
            t = switch (scheme) {
                case Q2_K -> GgmlType.Q3_K;
                case Q3_K_M -> GgmlType.Q4_K;
                default -> t;
            };
        } else if (name.contains("attn_qkv.weight")) {
            t = switch (scheme) {
                case Q3_K_M -> GgmlType.Q4_K;
                case Q4_K_M -> GgmlType.Q5_K;
                case Q5_K_M -> GgmlType.Q6_K;
                default -> t;
            };
        }
        return t;
    }

    /**
     * llama.cpp's fallback for rows that are not a multiple of the type's block: Q2_K and Q3_K to IQ4_NL, Q4_K to
     * Q5_0, Q5_K to Q5_1, Q6_K to Q8_0 (blocks of 32), and F16 where the rows do not fill those either. (For a
     * 32-value type llama.cpp has no fallback and refuses the model; InferCL writes F16 there too.)
     */
    static GgmlType fallback(GgmlType t, long rowLength) {
        if (rowLength % t.blockSize == 0) return t;
        GgmlType f = switch (t) {
            case Q2_K, Q3_K -> GgmlType.IQ4_NL;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> GgmlType.F16;
        };
        return rowLength % f.blockSize == 0 ? f : GgmlType.F16;
    }
}
