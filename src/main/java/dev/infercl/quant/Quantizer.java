package dev.infercl.quant;

import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufWriter;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.tensor.Dequant;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

/**
 * Writes a quantized GGUF from a full-precision one, streaming one tensor at a time (the source stays memory
 * mapped; nothing larger than one tensor's scales is held). All metadata is copied; the scheme is recorded.
 *
 * <p>INT8 schemes follow InferCL's on-disk contract (docs/QUANTIZATION.md): each linear-layer matrix
 * {@code X.weight} becomes GGML type I8 [in, out] plus {@code X.weight_scale} F32 [groups, out], and for W8A8
 * {@code X.weight_smooth} F32 [in] on attn_output and ffn_down; the smoothing of Q/K/V and gate/up is folded
 * into attn_norm / ffn_norm. GGML schemes (Q8_0, Q4_0, F16) convert every matrix with llama.cpp's rounding, so
 * their tensors equal {@code llama-quantize --pure}'s byte for byte; the K-quant mixes (Q4_K_M …) give each tensor
 * the type llama-quantize gives it ({@link KQuantMix}) and quantize it as llama.cpp does, so they equal its output
 * without {@code --pure}.
 */
public final class Quantizer {
    private Quantizer() {}

    public static final String KEY_SCHEME = "infercl.quant.scheme";
    public static final String KEY_GROUP = "infercl.quant.group_size";
    public static final String KEY_ALPHA = "infercl.quant.alpha";
    public static final String KEY_SOURCE = "infercl.quant.source";
    /** Whether W8A8 weights were smoothed (false: naive per-token W8A8). Not in the loader's contract; informative. */
    public static final String KEY_SMOOTHING = "infercl.quant.smoothing";

    /** Linear layers whose weights the INT8 schemes quantize (plus {@code output.weight}). */
    static final Pattern LINEAR = Pattern.compile("blk\\.(\\d+)\\.(attn_q|attn_k|attn_v|attn_qkv|attn_output|ffn_gate|ffn_up|ffn_down)\\.weight");

    /**
     * How to quantize.
     *
     * @param scheme          what to write
     * @param groupSize       W8A16 only: 0 = one scale per output channel, else 32, 64 or 128 input columns per scale
     * @param alpha           W8A8 SmoothQuant migration strength in [0, 1]
     * @param smooth          W8A8: apply SmoothQuant (false: naive per-token W8A8, every smoothing factor 1)
     * @param allowRequantize accept a source that is already lossy (block-quantized or I8 tensors, or InferCL scheme metadata)
     * @param calibration     activation maxima of the source model (required by W8A8 with smoothing)
     */
    public record Options(Scheme scheme, int groupSize, float alpha, boolean smooth, boolean allowRequantize, Calibration calibration) {
        public Options {
            if (scheme == null) throw new QuantizeException("no scheme given");
            if (groupSize != 0 && scheme != Scheme.W8A16) {
                throw new QuantizeException("--group applies to w8a16 only (" + scheme.id() + (scheme == Scheme.W8A8 ? " is always per channel)" : " has its own block size)"));
            }
            if (groupSize != 0 && groupSize != 32 && groupSize != 64 && groupSize != 128) {
                throw new QuantizeException("--group must be 32, 64 or 128 (or absent for one scale per output channel), got " + groupSize);
            }
            if (!(alpha >= 0 && alpha <= 1)) throw new QuantizeException("--alpha must be in [0, 1], got " + alpha);
        }

        public static Options of(Scheme scheme) {
            return new Options(scheme, 0, 0.5f, scheme == Scheme.W8A8, false, null);
        }

        public Options withGroupSize(int g) { return new Options(scheme, g, alpha, smooth, allowRequantize, calibration); }
        public Options withAlpha(float a) { return new Options(scheme, groupSize, a, smooth, allowRequantize, calibration); }
        public Options withSmooth(boolean s) { return new Options(scheme, groupSize, alpha, s, allowRequantize, calibration); }
        public Options withAllowRequantize(boolean a) { return new Options(scheme, groupSize, alpha, smooth, a, calibration); }
        public Options withCalibration(Calibration c) { return new Options(scheme, groupSize, alpha, smooth, allowRequantize, c); }
    }

    /** Receives (tensors written, tensors in all, name of the one just written). */
    @FunctionalInterface
    public interface Progress {
        void update(int done, int total, String tensor);
    }

    /**
     * What was written.
     *
     * @param bytes     size of the output file
     * @param quantized matrices converted to the scheme's type
     * @param notes     one-line remarks (e.g. a matrix kept in F16 because its rows are not a multiple of 32)
     */
    public record Result(long bytes, int quantized, List<String> notes) {}

    /** Why W8A8 with smoothing cannot run without a calibration. */
    public static final String NEEDS_CALIBRATION =
            "w8a8 needs calibration text (--calibration FILE) to compute SmoothQuant factors; --no-smooth writes naive W8A8 without it";

    /** Quantizes {@code in} into {@code out} (replaced if it exists); progress may be null. */
    public static Result quantize(Path in, Path out, Options options, Progress progress) throws IOException {
        if (options.scheme() == Scheme.W8A8 && options.smooth() && options.calibration() == null) throw new QuantizeException(NEEDS_CALIBRATION);
        checkPaths(in, out);
        try (GgufFile src = GgufFile.open(in)) {
            return new Job(src, options, progress).run(in, out);
        }
    }

    /**
     * The checks {@link #quantize} makes before it reads any weight (paths, a lossy source, widths the group
     * size must divide), for callers with slow work to do first (calibration). Throws {@link QuantizeException}.
     */
    public static void preflight(Path in, Path out, Options options) throws IOException {
        checkPaths(in, out);
        try (GgufFile src = GgufFile.open(in)) {
            var job = new Job(src, options, null);
            job.refuseLossySource();
            if (options.groupSize() != 0) {
                for (TensorInfo t : src.tensors()) {
                    if (t.nDims() == 2 && Job.isLinear(t.name()) && t.dim(0) % options.groupSize() != 0) {
                        throw new QuantizeException("--group " + options.groupSize() + " does not divide the input width " + t.dim(0) + " of '" + t.name() + "'");
                    }
                }
            }
        }
    }

    private static void checkPaths(Path in, Path out) throws IOException {
        if (!Files.isRegularFile(in)) throw new QuantizeException(in + ": no such file");
        if (in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())
                || (Files.exists(out) && Files.isSameFile(in, out))) {
            throw new QuantizeException("the output " + out + " is the input file; write to another path");
        }
    }

    /** One quantization run over an open source file. */
    private static final class Job {
        final GgufFile src;
        final Options o;
        final Progress progress;
        final Map<String, TensorInfo> byName = new LinkedHashMap<>();
        final Map<String, float[]> normDivisor = new HashMap<>();    // norm weight/bias name -> s (divide by it)
        final Map<String, float[]> columnScale = new HashMap<>();     // matrix name -> s (multiply its columns)
        final Map<String, float[]> smoothTensor = new HashMap<>();   // matrix name -> s written as _smooth
        final Map<String, float[]> scaleCache = new HashMap<>();
        final List<String> notes = new ArrayList<>();
        /** The K mixes: each converted tensor's type (the others keep theirs). */
        final Map<String, KQuantMix.Choice> mix;
        int quantized;

        Job(GgufFile src, Options o, Progress progress) {
            this.src = src;
            this.o = o;
            this.progress = progress;
            for (TensorInfo t : src.tensors()) byName.put(t.name(), t);
            mix = o.scheme().kMix() ? KQuantMix.plan(o.scheme(), KQuantMix.ModelInfo.of(src), src.tensors()) : Map.of();
        }

        Result run(Path in, Path out) throws IOException {
            refuseLossySource();
            if (o.scheme() == Scheme.W8A8 && o.smooth()) planSmoothing();
            var w = new GgufWriter();
            copyMetadata(w, in);
            for (TensorInfo t : src.tensors()) {
                if (isCompanion(t.name())) continue;   // an I8 source's scales and smoothing: regenerated below
                emit(w, t);
            }
            w.write(out);
            return new Result(Files.size(out), quantized, List.copyOf(notes));
        }

        private int total, done;

        /** Adds a tensor whose source reports progress when it has been written. */
        private void add(GgufWriter w, String name, GgmlType type, long[] dims, GgufWriter.TensorSource s) {
            total++;
            w.addTensor(name, type, dims, sink -> {
                s.writeTo(sink);
                done++;
                if (progress != null) progress.update(done, total, name);
            });
        }

        // ---- the source ------------------------------------------------------------------------------------

        void refuseLossySource() {
            if (o.allowRequantize()) return;
            if (src.has(KEY_SCHEME)) {
                throw new QuantizeException(src.path().getFileName() + " is already quantized (" + KEY_SCHEME + " = "
                        + src.get(KEY_SCHEME).orElse("?") + "); re-quantizing compounds the error: quantize the full-precision file, or pass --allow-requantize");
            }
            for (TensorInfo t : src.tensors()) {
                if (t.type().blockSize > 1 || t.type() == GgmlType.I8) {
                    throw new QuantizeException(src.path().getFileName() + " is already quantized (tensor '" + t.name() + "' is " + t.type()
                            + "); re-quantizing compounds the error: quantize the full-precision file, or pass --allow-requantize");
                }
            }
        }

        private boolean isCompanion(String name) {
            for (String suffix : new String[] {"_scale", "_smooth"}) {
                if (name.endsWith(".weight" + suffix)) {
                    TensorInfo base = byName.get(name.substring(0, name.length() - suffix.length()));
                    if (base != null && base.type() == GgmlType.I8) return true;
                }
            }
            return false;
        }

        /** Row r of a matrix, dequantized to the weights the layer effectively multiplies (an I8 source's smoothing undone). */
        void row(TensorInfo t, int r, float[] dst) {
            int cols = (int) t.dim(0);
            MemorySegment seg = src.data(t);
            switch (t.type()) {
                case I8 -> {
                    float[] scale = companion(t, "_scale");
                    int groups = scale.length / (int) t.rows();
                    int gs = cols / groups;
                    float[] smooth = byName.containsKey(t.name() + "_smooth") ? companion(t, "_smooth") : null;
                    for (int j = 0; j < cols; j++) {
                        float v = seg.get(ValueLayout.JAVA_BYTE, (long) r * cols + j) * scale[r * groups + j / gs];
                        dst[j] = smooth != null ? v / smooth[j] : v;
                    }
                }
                default -> {
                    if (!t.type().computable()) {
                        throw new QuantizeException("tensor '" + t.name() + "' has type " + t.type() + ", which InferCL cannot read back to convert");
                    }
                    Dequant.row(t.type(), seg, (long) r * cols, dst, 0, cols);
                }
            }
        }

        private final Map<String, float[]> companions = new HashMap<>();

        private float[] companion(TensorInfo t, String suffix) {
            return companions.computeIfAbsent(t.name() + suffix, n -> {
                TensorInfo c = byName.get(n);
                if (c == null || c.type() != GgmlType.F32) throw new QuantizeException("I8 tensor '" + t.name() + "' has no F32 companion '" + n + "'");
                float[] v = new float[(int) c.elementCount()];
                Dequant.row(GgmlType.F32, src.data(c), 0, v, 0, v.length);
                return v;
            });
        }

        float[] vector(TensorInfo t) {
            float[] v = new float[(int) t.elementCount()];
            Dequant.row(t.type(), src.data(t), 0, v, 0, v.length);
            return v;
        }

        // ---- SmoothQuant -------------------------------------------------------------------------------------

        /** Computes every smoothing vector: shared ones folded into the norms, own ones for attn_output and ffn_down. */
        private void planSmoothing() {
            for (int l = 0; byName.containsKey("blk." + l + ".attn_output.weight") || byName.containsKey("blk." + l + ".ffn_down.weight"); l++) {
                String p = "blk." + l + ".";
                sharedGroup(p + "attn_norm", p, "attn_q", "attn_k", "attn_v", "attn_qkv");
                sharedGroup(p + "ffn_norm", p, "ffn_gate", "ffn_up");
                for (String own : new String[] {"attn_output", "ffn_down"}) {
                    TensorInfo t = byName.get(p + own + ".weight");
                    if (t == null) continue;
                    float[] s = factors(List.of(t));
                    columnScale.put(t.name(), s);
                    smoothTensor.put(t.name(), s);
                }
            }
        }

        private void sharedGroup(String norm, String prefix, String... members) {
            var ts = new ArrayList<TensorInfo>();
            for (String m : members) {
                TensorInfo t = byName.get(prefix + m + ".weight");
                if (t != null) ts.add(t);
            }
            if (ts.isEmpty()) return;
            if (!byName.containsKey(norm + ".weight")) {
                throw new QuantizeException("cannot fold SmoothQuant factors of " + ts.getFirst().name() + ": the file has no '" + norm + ".weight'");
            }
            float[] s = factors(ts);
            for (TensorInfo t : ts) columnScale.put(t.name(), s);
            normDivisor.put(norm + ".weight", s);
            if (byName.containsKey(norm + ".bias")) normDivisor.put(norm + ".bias", s);
        }

        /** s_j = max|X_j|^α / max|W_j|^(1−α) over the matrices sharing one input; 1 where either max is 0; clamped to [1e-5, 1e5]. */
        private float[] factors(List<TensorInfo> ts) {
            int in = (int) ts.getFirst().dim(0);
            float[] xMax = new float[in], wMax = new float[in];
            for (TensorInfo t : ts) {
                if (t.dim(0) != in) throw new QuantizeException("'" + t.name() + "' has input width " + t.dim(0) + ", its group " + in);
                float[] a = o.calibration().absMax(t.name());
                if (a == null) {
                    throw new QuantizeException("the calibration has no statistics for '" + t.name() + "' (was it made from this model?)");
                }
                if (a.length != in) throw new QuantizeException("the calibration of '" + t.name() + "' has width " + a.length + ", the tensor " + in);
                for (int j = 0; j < in; j++) xMax[j] = Math.max(xMax[j], a[j]);
                float[] r = new float[in];
                for (int o2 = 0; o2 < t.rows(); o2++) {
                    row(t, o2, r);
                    for (int j = 0; j < in; j++) wMax[j] = Math.max(wMax[j], Math.abs(r[j]));
                }
            }
            return smoothingFactors(xMax, wMax, o.alpha());
        }

        // ---- the output --------------------------------------------------------------------------------------

        private void copyMetadata(GgufWriter w, Path in) {
            boolean ggml = !o.scheme().int8();
            for (GgufFile.MetadataEntry e : src.metadata()) {
                if (e.key().startsWith("infercl.quant.")) continue;   // an earlier scheme's record (with --allow-requantize)
                if (e.value() instanceof GgufFile.MetadataArray a) w.putArray(e.key(), a.elementType(), a.values());
                else w.put(e.key(), e.type(), e.value());
            }
            if (ggml) {
                w.putUInt32("general.quantization_version", 2);
                w.putUInt32("general.file_type", o.scheme().fileType());
            } else {
                w.putString(KEY_SCHEME, o.scheme().id());
                w.putUInt32(KEY_GROUP, o.groupSize());
                if (o.scheme() == Scheme.W8A8) {
                    w.putBool(KEY_SMOOTHING, o.smooth());
                    if (o.smooth()) w.putFloat32(KEY_ALPHA, o.alpha());
                }
                w.putString(KEY_SOURCE, in.getFileName().toString());
            }
        }

        private void emit(GgufWriter w, TensorInfo t) {
            long[] dims = t.dims();
            boolean matrix = t.nDims() == 2 && dims[1] > 1;
            if (normDivisor.containsKey(t.name())) {
                float[] v = vector(t), s = normDivisor.get(t.name());
                for (int j = 0; j < v.length; j++) v[j] /= s[j];
                add(w, t.name(), GgmlType.F32, dims, floats(v));
            } else if (o.scheme().int8() && matrix && isLinear(t.name())) {
                emitInt8(w, t);
            } else if (o.scheme().kMix()) {
                KQuantMix.Choice c = mix.get(t.name());
                if (c == null) {
                    add(w, t.name(), t.type(), dims, sink -> sink.write(src.data(t).asByteBuffer()));
                } else {
                    if (c.fellBack()) {
                        notes.add("'" + t.name() + "' is " + c.type() + ": its rows of " + t.rowLength() + " values are not a multiple of "
                                + c.wanted() + "'s block of " + c.wanted().blockSize + (c.type() == GgmlType.F16 ? " nor of 32" : ""));
                    }
                    emitAs(w, t, c.type());
                    if (c.type().blockSize > 1) quantized++;
                }
            } else if (!o.scheme().int8() && matrix) {
                emitGgml(w, t);
            } else if (t.type() == GgmlType.I8) {
                throw new QuantizeException("tensor '" + t.name() + "' is I8 and not a linear layer this scheme converts");
            } else {
                add(w, t.name(), t.type(), dims, sink -> sink.write(src.data(t).asByteBuffer()));
            }
        }

        private static boolean isLinear(String name) {
            return name.equals("output.weight") || LINEAR.matcher(name).matches();
        }

        private void emitInt8(GgufWriter w, TensorInfo t) {
            int in = (int) t.dim(0), rows = (int) t.rows();
            int gs = o.groupSize();
            if (gs != 0 && in % gs != 0) {
                throw new QuantizeException("--group " + gs + " does not divide the input width " + in + " of '" + t.name() + "'");
            }
            int groups = gs == 0 ? 1 : in / gs;
            float[] s = columnScale.get(t.name());
            add(w, t.name(), GgmlType.I8, new long[] {in, rows}, sink -> {
                float[] r = new float[in], scales = new float[rows * groups];
                byte[] q = new byte[in];
                for (int row = 0; row < rows; row++) {
                    row(t, row, r);
                    if (s != null) for (int j = 0; j < in; j++) r[j] *= s[j];
                    Int8.quantizeRow(r, gs, q, scales, row * groups);
                    sink.write(ByteBuffer.wrap(q));
                }
                scaleCache.put(t.name(), scales);
            });
            add(w, t.name() + "_scale", GgmlType.F32, new long[] {groups, rows}, sink -> {
                float[] scales = scaleCache.remove(t.name());
                if (scales == null) throw new IllegalStateException("scales of " + t.name() + " were not computed before they were written");
                floats(scales).writeTo(sink);
            });
            if (smoothTensor.containsKey(t.name())) add(w, t.name() + "_smooth", GgmlType.F32, new long[] {in}, floats(smoothTensor.get(t.name())));
            quantized++;
        }

        private void emitGgml(GgufWriter w, TensorInfo t) {
            int in = (int) t.dim(0);
            GgmlType type = o.scheme().baseType();
            if (in % type.blockSize != 0) {
                notes.add("'" + t.name() + "' kept as F16: its rows of " + in + " values are not a multiple of " + type + "'s block of " + type.blockSize);
                type = GgmlType.F16;
            }
            emitAs(w, t, type);
            if (type != GgmlType.F16 || o.scheme() == Scheme.F16) quantized++;
        }

        /**
         * The matrix written as {@code target} (F16 or a block type): its bytes as they are when the source already
         * has that type, otherwise row by row from the source's values. Rows are quantized in parallel in chunks of
         * about 2^20 values and written in order.
         */
        private void emitAs(GgufWriter w, TensorInfo t, GgmlType target) {
            if (t.type() == target) {   // already the target type (F16 → f16): the bytes as they are
                add(w, t.name(), target, t.dims(), sink -> sink.write(src.data(t).asByteBuffer()));
                return;
            }
            int in = (int) t.dim(0), rows = (int) t.rows();
            int chunk = Math.max(1, (1 << 20) / in);
            add(w, t.name(), target, t.dims(), sink -> {
                byte[][] out = new byte[Math.min(chunk, rows)][];
                for (int r0 = 0; r0 < rows; r0 += chunk) {
                    int first = r0, n = Math.min(chunk, rows - r0);
                    IntStream.range(0, n).parallel().forEach(i -> {
                        float[] r = new float[in];
                        row(t, first + i, r);
                        out[i] = target == GgmlType.F16 ? f16(r) : Dequant.quantize(target, r, 0, in);
                    });
                    for (int i = 0; i < n; i++) sink.write(ByteBuffer.wrap(out[i]));
                }
            });
        }
    }

    /**
     * SmoothQuant's factors: s_j = xMax_j^α / wMax_j^(1−α); 1 where either maximum is 0; clamped to [1e-5, 1e5].
     * Dividing the activations' column j by s_j and multiplying the weights' column j by s_j leaves the product unchanged.
     */
    public static float[] smoothingFactors(float[] xMax, float[] wMax, float alpha) {
        float[] s = new float[xMax.length];
        for (int j = 0; j < s.length; j++) {
            if (xMax[j] == 0 || wMax[j] == 0) {
                s[j] = 1;
            } else {
                double v = Math.pow(xMax[j], alpha) / Math.pow(wMax[j], 1 - alpha);
                s[j] = (float) Math.min(1e5, Math.max(1e-5, v));
            }
        }
        return s;
    }

    private static byte[] f16(float[] r) {
        ByteBuffer b = ByteBuffer.allocate(r.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : r) b.putShort(Float.floatToFloat16(v));
        return b.array();
    }

    private static GgufWriter.TensorSource floats(float[] v) {
        return sink -> {
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float x : v) b.putFloat(x);
            sink.write(b.flip());
        };
    }
}
