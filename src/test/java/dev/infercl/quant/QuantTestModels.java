package dev.infercl.quant;

import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.api.BackendKind;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.engine.SamplerOptions;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufWriter;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.tensor.Dequant;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Shared material of the quantization tests: the story model, text sampled from it, and its outlier twin. */
final class QuantTestModels {
    private QuantTestModels() {}

    static Path f32() {
        return SharedData.require("models/stories260K-f32.gguf");
    }

    static LoadOptions options(String backend) {
        if (backend.equals("OPENCL")) dev.infercl.backend.opencl.ClTestSupport.requireOpenCl();
        // F32 KV cache on OpenCL too: the comparisons are about the weights, not the cache's FP16 rounding
        return LoadOptions.defaults().withBackend(BackendKind.valueOf(backend)).withKvCacheF32(true);
    }

    /** The reference sequence of ../shared/reference/stories260K-f32.json: prompt ids then the 200 greedy ids. */
    static int[] referenceIds() throws Exception {
        var r = Oracles.json(SharedData.require("reference/stories260K-f32.json"));
        return Oracles.concat(Oracles.ints(r.get("prompt_ids")), Oracles.ints(r.get("greedy_ids")));
    }

    /**
     * Stories sampled from the F32 model at temperature 1 (no top-k/p, min-p), seeds seed0 … seed0+count−1: each a
     * window of BOS, "Once upon a time" and up to {@code tokens} sampled ids.
     */
    static List<int[]> sampledWindows(long seed0, int count, int tokens) throws Exception {
        var windows = new ArrayList<int[]>();
        try (Model m = Model.load(f32(), LoadOptions.defaults().withBackend(BackendKind.CPU))) {
            for (int i = 0; i < count; i++) {
                try (Session s = m.newSession()) {
                    var sampler = new SamplerOptions(1f, 0, 1f, 0f, 1f, 64, seed0 + i);
                    var g = s.generate("Once upon a time", new GenerateOptions(tokens, sampler, null, true), null);
                    int[] w = Oracles.concat(g.promptTokens(), g.tokens());
                    if (w.length >= 2) windows.add(w);
                }
            }
        }
        return windows;
    }

    /** The same stories as text (for the CLI). */
    static String sampledText(long seed0, int count, int tokens) throws Exception {
        var sb = new StringBuilder();
        try (Model m = Model.load(f32(), LoadOptions.defaults().withBackend(BackendKind.CPU))) {
            for (int i = 0; i < count; i++) {
                try (Session s = m.newSession()) {
                    var sampler = new SamplerOptions(1f, 0, 1f, 0f, 1f, 64, seed0 + i);
                    sb.append("Once upon a time").append(s.generate("Once upon a time", new GenerateOptions(tokens, sampler, null, true), null).text()).append('\n');
                }
            }
        }
        return sb.toString();
    }

    /** Channels given outliers in every layer. */
    static final int[] OUTLIER_CHANNELS = {5, 22, 41};
    static final float OUTLIER_FACTOR = 40f;

    /**
     * A function-preserving outlier model: 3 channels of every attn_norm and ffn_norm weight multiplied by 40 and
     * the matching input columns of attn_q/k/v and ffn_gate/up divided by 40. The F32 logits do not change, but the
     * normalised activations now carry outlier channels, as those of large LLMs do.
     */
    static void writeOutlierModel(Path src, Path dst) throws Exception {
        try (GgufFile f = GgufFile.open(src)) {
            var w = new GgufWriter();
            for (var e : f.metadata()) {
                if (e.value() instanceof GgufFile.MetadataArray a) w.putArray(e.key(), a.elementType(), a.values());
                else w.put(e.key(), e.type(), e.value());
            }
            Set<String> norms = Set.of("attn_norm", "ffn_norm");
            Set<String> inputs = Set.of("attn_q", "attn_k", "attn_v", "ffn_gate", "ffn_up");
            for (TensorInfo t : f.tensors()) {
                String[] parts = t.name().split("\\.");
                String role = parts.length == 4 && parts[0].equals("blk") ? parts[2] : "";
                float[] v = new float[(int) t.elementCount()];
                Dequant.row(t.type(), f.data(t), 0, v, 0, v.length);
                if (t.type() != GgmlType.F32) throw new IllegalStateException("expected an F32 model");
                int cols = (int) t.dim(0);
                if (norms.contains(role)) {
                    for (int c : OUTLIER_CHANNELS) v[c] *= OUTLIER_FACTOR;
                } else if (inputs.contains(role)) {
                    for (int r = 0; r < t.rows(); r++) for (int c : OUTLIER_CHANNELS) v[r * cols + c] /= OUTLIER_FACTOR;
                }
                ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : v) b.putFloat(x);
                w.addTensor(t.name(), GgmlType.F32, t.dims(), b.array());
            }
            w.write(dst);
        }
    }

    /** Max |a − b| over all logits of the sequence. */
    static double maxLogitDifference(Path a, Path b, String backend, int[] ids) throws Exception {
        try (Model ma = Model.load(a, options(backend)); Model mb = Model.load(b, options(backend));
             Session sa = ma.newSession(ids.length); Session sb = mb.newSession(ids.length)) {
            float[][] x = sa.logits(ids), y = sb.logits(ids);
            double worst = 0;
            for (int p = 0; p < x.length; p++) for (int v = 0; v < x[p].length; v++) worst = Math.max(worst, Math.abs(x[p][v] - y[p][v]));
            return worst;
        }
    }

    /** Evaluates {@code model} against {@code reference} over one window holding {@code ids}. */
    static Evaluator.Result evaluate(Path model, Path reference, String backend, List<int[]> windows) throws Exception {
        try (Model m = Model.load(model, options(backend)); Model r = Model.load(reference, options(backend))) {
            return Evaluator.evaluate(m, r, windows, null);
        }
    }
}
