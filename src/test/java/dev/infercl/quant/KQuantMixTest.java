package dev.infercl.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.SharedData;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link KQuantMix}'s rules as a table, written here from llama.cpp's llama_tensor_get_type (no llama.cpp needed),
 * and against the mixes of the four K-quant files in ../shared/kquant that llama-quantize wrote.
 * (KQuantSchemesTest compares whole files with llama-quantize's output.)
 */
class KQuantMixTest {

    /**
     * The tensors of a Llama-layout model (F16 matrices, F32 norms), in the order InferCL's synth writes them;
     * {@code tied}: without output.weight.
     */
    static List<TensorInfo> llama(int layers, int dim, int kvDim, int ffn, int vocab, boolean tied) {
        var ts = new ArrayList<TensorInfo>();
        ts.add(t("token_embd.weight", dim, vocab));
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            ts.add(new TensorInfo(p + "attn_norm.weight", GgmlType.F32, new long[] {dim}, 0, 0));
            ts.add(t(p + "attn_q.weight", dim, dim));
            ts.add(t(p + "attn_k.weight", dim, kvDim));
            ts.add(t(p + "attn_v.weight", dim, kvDim));
            ts.add(t(p + "attn_output.weight", dim, dim));
            ts.add(new TensorInfo(p + "ffn_norm.weight", GgmlType.F32, new long[] {dim}, 0, 0));
            ts.add(t(p + "ffn_gate.weight", dim, ffn));
            ts.add(t(p + "ffn_down.weight", ffn, dim));
            ts.add(t(p + "ffn_up.weight", dim, ffn));
        }
        ts.add(new TensorInfo("output_norm.weight", GgmlType.F32, new long[] {dim}, 0, 0));
        if (!tied) ts.add(t("output.weight", dim, vocab));
        return ts;
    }

    static TensorInfo t(String name, long cols, long rows) {
        return new TensorInfo(name, GgmlType.F16, new long[] {cols, rows}, 0, 0);
    }

    /**
     * One row per rule: scheme, model (layers, query heads / KV heads, width, FFN width, tied output), tensor,
     * expected type. The 32-layer model's use_more_bits layers are 0–3, 6, 9, …, 27 and 28–31 (n/8 = 4, 7n/8 = 28,
     * (i − 4) mod 3 = 2); the 8-layer model's 0, 3, 6, 7; the 80-layer model's 0–9, 12, 15, … (layer 11 is not one).
     */
    @ParameterizedTest(name = "{0} {1}L gqa {2} dim {3} ffn {4}{5}: {6} → {7}")
    @CsvSource(delimiter = '|', textBlock = """
            # the output matrix: Q6_K in every K mix; Q8_0 for rows that do not fill 256; F16 where not even 32
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | output.weight           | Q6_K
            q2_k   | 32 | 4 | 4096 | 11008 | -    | output.weight           | Q6_K
            q6_k   | 32 | 4 | 4096 | 11008 | -    | output.weight           | Q6_K
            q4_k_m | 4  | 2 | 128  | 384   | -    | output.weight           | Q8_0
            q3_k_m | 4  | 2 | 100  | 384   | -    | output.weight           | F16
            # token_embd keeps the base type, unless there is no output.weight: then it is the output matrix
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | token_embd.weight       | Q4_K
            q2_k   | 32 | 4 | 4096 | 11008 | -    | token_embd.weight       | Q2_K
            q4_k_m | 32 | 4 | 4096 | 11008 | tied | token_embd.weight       | Q6_K
            q3_k_m | 4  | 2 | 128  | 384   | tied | token_embd.weight       | Q8_0
            q2_k   | 4  | 2 | 128  | 384   | -    | token_embd.weight       | IQ4_NL
            # attn_v: Q4_K_M/Q5_K_M Q6_K on use_more_bits layers
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | blk.0.attn_v.weight     | Q6_K
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | blk.4.attn_v.weight     | Q4_K
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | blk.6.attn_v.weight     | Q6_K
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | blk.7.attn_v.weight     | Q4_K
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | blk.27.attn_v.weight    | Q6_K
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | blk.28.attn_v.weight    | Q6_K
            q5_k_m | 32 | 4 | 4096 | 11008 | -    | blk.9.attn_v.weight     | Q6_K
            q5_k_m | 32 | 4 | 4096 | 11008 | -    | blk.10.attn_v.weight    | Q5_K
            q5_k_m | 8  | 4 | 256  | 768   | -    | blk.3.attn_v.weight     | Q6_K
            q5_k_m | 8  | 4 | 256  | 768   | -    | blk.4.attn_v.weight     | Q5_K
            # attn_v: Q4_K_S Q5_K on the first four; Q3_K_M Q5_K on the first two, Q4_K after; Q2_K Q4_K with GQA ≥ 4
            q4_k_s | 32 | 4 | 4096 | 11008 | -    | blk.3.attn_v.weight     | Q5_K
            q4_k_s | 32 | 4 | 4096 | 11008 | -    | blk.4.attn_v.weight     | Q4_K
            q3_k_m | 32 | 4 | 4096 | 11008 | -    | blk.1.attn_v.weight     | Q5_K
            q3_k_m | 32 | 4 | 4096 | 11008 | -    | blk.2.attn_v.weight     | Q4_K
            q2_k   | 32 | 4 | 4096 | 11008 | -    | blk.5.attn_v.weight     | Q4_K
            q2_k   | 32 | 2 | 4096 | 11008 | -    | blk.5.attn_v.weight     | Q3_K
            q6_k   | 32 | 4 | 4096 | 11008 | -    | blk.0.attn_v.weight     | Q6_K
            # a 70B (llama, 80 layers, GQA): attn_v of Q3_K or Q4_K becomes Q5_K
            q4_k_m | 80 | 8 | 8192 | 28672 | -    | blk.11.attn_v.weight    | Q5_K
            q4_k_m | 80 | 8 | 8192 | 28672 | -    | blk.0.attn_v.weight     | Q6_K
            q2_k   | 80 | 8 | 8192 | 28672 | -    | blk.40.attn_v.weight    | Q5_K
            q4_k_m | 80 | 1 | 8192 | 28672 | -    | blk.11.attn_v.weight    | Q4_K
            # ffn_down
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | blk.9.ffn_down.weight   | Q6_K
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | blk.10.ffn_down.weight  | Q4_K
            q5_k_m | 32 | 4 | 4096 | 11008 | -    | blk.31.ffn_down.weight  | Q6_K
            q4_k_s | 32 | 4 | 4096 | 11008 | -    | blk.3.ffn_down.weight   | Q5_K
            q4_k_s | 32 | 4 | 4096 | 11008 | -    | blk.4.ffn_down.weight   | Q4_K
            q3_k_m | 32 | 4 | 4096 | 11008 | -    | blk.1.ffn_down.weight   | Q5_K
            q3_k_m | 32 | 4 | 4096 | 11008 | -    | blk.2.ffn_down.weight   | Q4_K
            q2_k   | 32 | 4 | 4096 | 11008 | -    | blk.2.ffn_down.weight   | Q3_K
            # attn_output: Q3_K for Q2_K, Q4_K for Q3_K_M, the base type otherwise
            q2_k   | 32 | 4 | 4096 | 11008 | -    | blk.2.attn_output.weight | Q3_K
            q3_k_m | 32 | 4 | 4096 | 11008 | -    | blk.2.attn_output.weight | Q4_K
            q4_k_m | 32 | 4 | 4096 | 11008 | -    | blk.2.attn_output.weight | Q4_K
            # the other matrices keep the base type
            q3_k_m | 32 | 4 | 4096 | 11008 | -    | blk.2.attn_q.weight     | Q3_K
            q2_k   | 32 | 4 | 4096 | 11008 | -    | blk.2.attn_k.weight     | Q2_K
            q4_k_s | 32 | 4 | 4096 | 11008 | -    | blk.2.ffn_gate.weight   | Q4_K
            q5_k_m | 32 | 4 | 4096 | 11008 | -    | blk.2.ffn_up.weight     | Q5_K
            # rows that are not a multiple of 256: Q2_K/Q3_K → IQ4_NL, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, else F16
            q2_k   | 4  | 2 | 256  | 704   | -    | blk.0.ffn_down.weight   | IQ4_NL
            q3_k_m | 4  | 2 | 256  | 704   | -    | blk.0.ffn_down.weight   | Q5_0
            q4_k_m | 4  | 2 | 256  | 704   | -    | blk.0.ffn_down.weight   | Q5_0
            q4_k_m | 4  | 2 | 256  | 704   | -    | blk.3.ffn_down.weight   | Q8_0
            q5_k_m | 4  | 2 | 256  | 704   | -    | blk.0.ffn_down.weight   | Q5_1
            q6_k   | 4  | 2 | 256  | 704   | -    | blk.0.ffn_down.weight   | Q8_0
            q3_k_m | 4  | 2 | 128  | 384   | -    | blk.0.attn_q.weight     | IQ4_NL
            q4_k_m | 5  | 2 | 64   | 172   | -    | blk.0.ffn_down.weight   | F16
            q6_k   | 5  | 2 | 64   | 172   | -    | blk.0.ffn_down.weight   | F16
            """)
    void rule(String scheme, int layers, int gqa, int dim, int ffn, String tied, String tensor, GgmlType expected) {
        int heads = 8 * gqa, kvDim = dim / gqa;
        var model = new KQuantMix.ModelInfo("llama", layers, heads, heads / gqa);
        Map<String, KQuantMix.Choice> plan = KQuantMix.plan(Scheme.parse(scheme), model, llama(layers, dim, kvDim, ffn, 1000, tied.equals("tied")));
        KQuantMix.Choice c = plan.get(tensor);
        assertNotNull(c, tensor + " is not converted");
        assertEquals(expected, c.type(), tensor);
    }

    @Test
    void useMoreBitsLayers() {
        var got = new ArrayList<Integer>();
        for (int i = 0; i < 32; i++) if (KQuantMix.useMoreBits(i, 32)) got.add(i);
        assertEquals(List.of(0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31), got);
        got.clear();
        for (int i = 0; i < 8; i++) if (KQuantMix.useMoreBits(i, 8)) got.add(i);
        assertEquals(List.of(0, 3, 6, 7), got);
    }

    @Test
    void whatIsConverted() {
        assertTrue(KQuantMix.converts("blk.0.attn_q.weight", new long[] {256, 256}));
        assertTrue(KQuantMix.converts("token_embd.weight", new long[] {256, 1000}));
        assertFalse(KQuantMix.converts("blk.0.attn_norm.weight", new long[] {256}), "1-D");
        assertFalse(KQuantMix.converts("blk.0.attn_q.bias", new long[] {256, 2}), "not a weight");
        assertFalse(KQuantMix.converts("blk.0.attn_q.weight", new long[] {256, 1}), "one row is 1-D to ggml");
        assertFalse(KQuantMix.converts("position_embd.weight", new long[] {256, 1024}), "position embeddings");
        assertFalse(KQuantMix.converts("blk.0.ffn_gate_inp.weight", new long[] {256, 8}), "expert gating");
        assertFalse(KQuantMix.converts("blk.0.attn_q_norm.weight", new long[] {64, 2}), "a norm");
    }

    /** The files llama-quantize wrote (mixed mode) in ../shared/kquant: every tensor's type as the rules give it. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"q4_k_m", "q5_k_m", "q3_k_m", "q2_k"})
    void llamaQuantizeFilesInSharedData(String scheme) throws Exception {
        try (GgufFile f = GgufFile.open(SharedData.require("kquant/llama2k-" + scheme + ".gguf"))) {
            Scheme s = Scheme.parse(scheme);
            assertEquals(s.fileType(), f.getInt("general.file_type"), "general.file_type");
            Map<String, KQuantMix.Choice> plan = KQuantMix.plan(s, KQuantMix.ModelInfo.of(f), f.tensors());
            var counts = new TreeMap<String, Integer>();
            for (TensorInfo t : f.tensors()) {
                KQuantMix.Choice c = plan.get(t.name());
                GgmlType want = c == null ? GgmlType.F32 : c.type();
                assertEquals(t.type(), want, t.name());
                counts.merge(t.type().name(), 1, Integer::sum);
            }
            System.out.println("llama2k-" + scheme + ": " + counts + " as llama-quantize wrote it");
        }
    }
}
