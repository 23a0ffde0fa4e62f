package dev.infercl.quant;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A backend that computes with another one and, on every {@link #matmul}, records the absolute maximum of each
 * input column, keyed by the weight's name: the statistics SmoothQuant calibration needs. Wrapping the backend
 * (instead of instrumenting the model) lets the unchanged {@code Transformer} run the full-precision model over
 * calibration text.
 *
 * <p>Every matmul input is read back to the host, so calibrate on the CPU backend (where that is a copy).
 */
public final class CalibratingBackend implements Backend {
    private final Backend inner;
    private final Map<String, float[]> absMax = new LinkedHashMap<>();   // weight name -> (in) per-column max |x|
    private final Map<String, Long> rows = new LinkedHashMap<>();        // weight name -> activation rows seen
    private float[] buffer = new float[0];

    public CalibratingBackend(Backend inner) {
        this.inner = inner;
    }

    /** The per-input-column max |x| seen by each weight so far (copies), in first-use order. */
    public Map<String, float[]> inputAbsMax() {
        var r = new LinkedHashMap<String, float[]>();
        absMax.forEach((k, v) -> r.put(k, v.clone()));
        return r;
    }

    /** Activation rows (tokens) each weight has multiplied so far. */
    public Map<String, Long> rowsSeen() {
        return Map.copyOf(rows);
    }

    /** Forgets everything recorded. */
    public void clear() {
        absMax.clear();
        rows.clear();
    }

    @Override
    public void matmul(Tensor out, Tensor x, Tensor w) {
        int n = x.rows() * x.cols();
        if (buffer.length < n) buffer = new float[n];
        inner.read(x, buffer);
        float[] m = absMax.computeIfAbsent(w.name(), k -> new float[x.cols()]);
        if (m.length != x.cols()) {
            throw new IllegalStateException("weight '" + w.name() + "' multiplied inputs of width " + x.cols() + " and " + m.length);
        }
        for (int t = 0; t < x.rows(); t++) {
            int base = t * x.cols();
            for (int j = 0; j < m.length; j++) m[j] = Math.max(m[j], Math.abs(buffer[base + j]));
        }
        rows.merge(w.name(), (long) x.rows(), Long::sum);
        inner.matmul(out, x, w);
    }

    // ---- everything else is the inner backend's ------------------------------------------------------------

    @Override public String name() { return "calibrating " + inner.name(); }
    @Override public Tensor upload(String name, GgmlType type, int rows, int cols, MemorySegment bytes) { return inner.upload(name, type, rows, cols, bytes); }
    @Override public Tensor uploadInt8(dev.infercl.backend.Int8Weight w) { return inner.uploadInt8(w); }
    @Override public Tensor allocate(String name, int rows, int cols) { return inner.allocate(name, rows, cols); }
    @Override public void write(Tensor dst, float[] src) { inner.write(dst, src); }
    @Override public void read(Tensor src, float[] dst) { inner.read(src, dst); }
    @Override public void embed(Tensor out, Tensor table, int[] tokens) { inner.embed(out, table, tokens); }
    @Override public void rmsNorm(Tensor out, Tensor x, Tensor weight, float eps) { inner.rmsNorm(out, x, weight, eps); }
    @Override public void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias, float eps) { inner.layerNorm(out, x, weight, bias, eps); }
    @Override public void addBias(Tensor x, Tensor bias) { inner.addBias(x, bias); }
    @Override public void rope(Tensor x, int[] positions, RopeSpec spec) { inner.rope(x, positions, spec); }
    @Override public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec) { inner.attention(out, q, k, v, cache, layer, batch, spec); }
    @Override public void swiglu(Tensor out, Tensor gate, Tensor up) { inner.swiglu(out, gate, up); }
    @Override public void geglu(Tensor out, Tensor gate, Tensor up) { inner.geglu(out, gate, up); }
    @Override public void gelu(Tensor out, Tensor x) { inner.gelu(out, x); }
    @Override public void scale(Tensor x, float s) { inner.scale(x, s); }
    @Override public void softcap(Tensor x, float cap) { inner.softcap(x, cap); }
    @Override public void add(Tensor x, Tensor y) { inner.add(x, y); }
    @Override public void copyRows(Tensor dst, Tensor src, int from, int count) { inner.copyRows(dst, src, from, count); }
    @Override public void copyColumns(Tensor dst, Tensor src, int from) { inner.copyColumns(dst, src, from); }
    @Override public KvCache createKvCache(KvLayout layout) { return inner.createKvCache(layout); }
    @Override public double probeReadBandwidth() { return inner.probeReadBandwidth(); }
    @Override public int kvBytesPerValue() { return inner.kvBytesPerValue(); }
    @Override public long allocatedBytes() { return inner.allocatedBytes(); }
    @Override public void close() { inner.close(); }
}
