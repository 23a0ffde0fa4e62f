package dev.infercl.model;

import dev.infercl.backend.Backend;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.FileChecks;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.tensor.Dequant;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A LoRA adapter in llama.cpp's GGUF format ({@code general.type = adapter}, {@code adapter.type = lora},
 * {@code adapter.lora.alpha}), checked against one loaded model and uploaded beside its weights, which it never
 * changes. For a base weight W named X (out × in) the file holds {@code X.lora_a}, ggml {in, r}, and
 * {@code X.lora_b}, ggml {r, out}; with the adapter active at user scale u the layer computes
 * W·x + s·B·(A·x), s = u·alpha / r, or u alone where alpha is 0 (llama.cpp's rule).
 *
 * <p>A is uploaded once in its own type as an (r, in) matrix. B is kept on the host and uploaded as F32 (out, r)
 * already multiplied by s, once per user scale it is used with ({@link #scaledB}): the two products then need no
 * separate scaling step. Adapter tensors stay on the backend until the model is closed.
 */
public final class LoraAdapter {
    /** The tensor-name suffixes of the down (A) and up (B) projections. */
    public static final String A = ".lora_a", B = ".lora_b";

    /** One adapted weight: the base tensor, A on the backend and as the file holds it (r rows of in values), B (out, r) on the host. */
    record Target(String name, Tensor base, Tensor a, GgmlType aType, byte[] aBytes, float[] b, int rank) {
        /** A as floats, (r, in). */
        float[] aFloats() {
            float[] v = new float[Math.multiplyExact(rank, base.cols())];
            Dequant.row(aType, MemorySegment.ofArray(aBytes), 0, v, 0, v.length);
            return v;
        }
    }

    private final Path path;
    private final float alpha;
    private final Weights weights;
    private final Backend backend;
    private final List<Target> targets;
    private final Map<Float, Tensor[]> scaled = new HashMap<>();   // user scale → each target's s·B, uploaded

    private LoraAdapter(Path path, float alpha, Weights weights, Backend backend, List<Target> targets) {
        this.path = path;
        this.alpha = alpha;
        this.weights = weights;
        this.backend = backend;
        this.targets = targets;
    }

    public Path path() {
        return path;
    }

    /** {@code adapter.lora.alpha} (0 where the file has none: the user scale is then s itself). */
    public float alpha() {
        return alpha;
    }

    /** The names of the base weights the adapter changes, in file order. */
    public List<String> targets() {
        return targets.stream().map(Target::name).toList();
    }

    /** The weights of the model this adapter was loaded for (it serves that model only). */
    public Weights weights() {
        return weights;
    }

    List<Target> targetList() {
        return targets;
    }

    /** s for one target: user scale × alpha / rank, or the user scale where alpha is 0. */
    float scale(float userScale, int rank) {
        return alpha == 0 ? userScale : userScale * alpha / rank;
    }

    /**
     * Each target's s·B as an F32 (out, r) weight on the backend, uploaded the first time this user scale is asked
     * for; the caller has the backend to itself.
     */
    Tensor[] scaledB(float userScale) {
        return scaled.computeIfAbsent(userScale, u -> {
            Tensor[] out = new Tensor[targets.size()];
            for (int i = 0; i < out.length; i++) {
                Target t = targets.get(i);
                float s = scale(u, t.rank());
                var bytes = ByteBuffer.allocate(4 * t.b().length).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : t.b()) bytes.putFloat(v * s);
                out[i] = backend.upload(t.name() + B + " ×" + s, GgmlType.F32, t.base().rows(), t.rank(), MemorySegment.ofArray(bytes.array()));
            }
            return out;
        });
    }

    /**
     * The linear weights an adapter may target, by GGUF name: every layer's projections and a classifier of its own.
     * A tied classifier is the embedding table, which is no linear weight here.
     */
    static Map<String, Tensor> linearWeights(Weights w) {
        var m = new LinkedHashMap<String, Tensor>();
        for (Weights.Layer l : w.layers()) {
            for (Tensor t : new Tensor[] {l.wqkv(), l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down()}) {
                if (t != null) m.put(t.name(), t);
            }
        }
        if (w.output() != w.tokenEmbedding()) m.put(w.output().name(), w.output());
        return m;
    }

    /**
     * Reads and checks an adapter against a loaded model, then uploads its A matrices to the model's backend (the
     * caller has the backend to itself). Refused with {@link AdapterException}, naming the field or tensor, when the
     * file is no LoRA adapter, is for another architecture, or holds a tensor the model has no weight for, a tensor
     * without its partner, of the wrong shape or of a type other than F32, F16 or BF16.
     */
    public static LoraAdapter load(Path path, ModelConfig config, Weights weights, Backend backend) throws IOException {
        if (weights.seq2seq() != null) {
            throw new UnsupportedModelException(path.getFileName() + ": LoRA adapters on an encoder–decoder model (" + config.arch().name() + ") are not supported");
        }
        FileChecks.requireRegularFile(path, "adapter file");
        String f = path.getFileName().toString();
        try (GgufFile file = GgufFile.open(path)) {
            requireString(file, f, "general.type", "adapter", "not a LoRA adapter file");
            requireString(file, f, "adapter.type", "lora", "only LoRA adapters are supported");
            requireString(file, f, "general.architecture", config.arch().name(), "the adapter is for another architecture than the model's");
            float alpha = 0;
            Object a = file.get("adapter.lora.alpha").orElse(null);
            if (a != null) {
                if (!(a instanceof Number n) || !Float.isFinite(n.floatValue())) {
                    throw new AdapterException(f + ": metadata 'adapter.lora.alpha' is " + a + ", expected a finite number");
                }
                alpha = n.floatValue();
            }
            Map<String, Tensor> linear = linearWeights(weights);
            var pairs = new LinkedHashMap<String, TensorInfo[]>();   // base name → {A, B}
            for (TensorInfo t : file.tensors()) {
                String n = t.name();
                boolean isA = n.endsWith(A), isB = n.endsWith(B);
                if (!isA && !isB) throw new AdapterException(f + ": tensor '" + n + "' is no LoRA tensor (names end in " + A + " or " + B + ")");
                String base = n.substring(0, n.length() - (isA ? A : B).length());
                if (!linear.containsKey(base)) {
                    throw new AdapterException(f + ": tensor '" + n + "' adapts '" + base + "', which is not a linear weight of the model"
                            + (base.equals("token_embd.weight") ? " (LoRA on the token embedding is not supported)" : ""));
                }
                pairs.computeIfAbsent(base, k -> new TensorInfo[2])[isA ? 0 : 1] = t;
            }
            if (pairs.isEmpty()) throw new AdapterException(f + ": the adapter holds no LoRA tensors");
            var targets = new ArrayList<Target>();
            for (var e : pairs.entrySet()) {
                String base = e.getKey();
                TensorInfo ta = e.getValue()[0], tb = e.getValue()[1];
                if (ta == null || tb == null) {
                    throw new AdapterException(f + ": tensor '" + base + (ta == null ? B : A) + "' has no partner '" + base + (ta == null ? A : B) + "'");
                }
                Tensor w = linear.get(base);
                long[] da = ta.dims(), db = tb.dims();
                for (TensorInfo t : new TensorInfo[] {ta, tb}) {
                    if (t.type() != GgmlType.F32 && t.type() != GgmlType.F16 && t.type() != GgmlType.BF16) {
                        throw new AdapterException(f + ": tensor '" + t.name() + "' has type " + t.type() + " (adapters are read in F32, F16 or BF16)");
                    }
                }
                long rank = db[0];
                if (db.length != 2 || db[1] != w.rows() || rank < 1) {
                    throw new AdapterException(f + ": tensor '" + tb.name() + "' has shape " + Arrays.toString(db) + ", expected [r, " + w.rows()
                            + "] for '" + base + "' (" + w.rows() + " outputs)");
                }
                if (da.length != 2 || da[0] != w.cols() || da[1] != rank) {
                    throw new AdapterException(f + ": tensor '" + ta.name() + "' has shape " + Arrays.toString(da) + ", expected [" + w.cols() + ", " + rank
                            + "] for '" + base + "' (" + w.cols() + " inputs, rank " + rank + " from '" + tb.name() + "')");
                }
                int r = (int) rank;
                byte[] aBytes = file.data(ta).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);   // a copy: the file closes
                float[] b = new float[Math.multiplyExact(w.rows(), r)];
                Dequant.row(tb.type(), file.data(tb), 0, b, 0, b.length);
                for (float v : b) {
                    if (!Float.isFinite(v)) throw new AdapterException(f + ": tensor '" + tb.name() + "' holds " + v);
                }
                Tensor up = backend.upload(ta.name(), ta.type(), r, w.cols(), MemorySegment.ofArray(aBytes));
                targets.add(new Target(base, w, up, ta.type(), aBytes, b, r));
            }
            return new LoraAdapter(path, alpha, weights, backend, List.copyOf(targets));
        }
    }

    private static void requireString(GgufFile file, String f, String key, String want, String why) throws AdapterException {
        Object v = file.get(key).orElse(null);
        if (!want.equals(v)) {
            String got = v == null ? "absent" : v instanceof String s ? GgufFile.quote(s) : String.valueOf(v);
            throw new AdapterException(f + ": metadata '" + key + "' is " + got + ", expected " + GgufFile.quote(want) + " (" + why + ")");
        }
    }

    /** This adapter at a user scale, for {@link LoraSet#of}. */
    public Scaled withScale(float userScale) {
        return new Scaled(this, userScale);
    }

    /** An adapter with the user scale it is applied at. */
    public record Scaled(LoraAdapter adapter, float scale) {
        public Scaled {
            if (adapter == null) throw new IllegalArgumentException("no adapter");
            if (!Float.isFinite(scale)) throw new IllegalArgumentException("a LoRA scale must be finite, got " + scale);
        }
    }

    @Override
    public String toString() {
        return "LoRA " + path.getFileName() + " (alpha " + alpha + ", " + targets.size() + " weights)";
    }
}
