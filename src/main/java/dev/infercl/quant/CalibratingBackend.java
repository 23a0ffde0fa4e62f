package dev.infercl.quant;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.Elementwise;
import dev.infercl.backend.HostWeight;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Norm;
import dev.infercl.backend.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A backend that computes with another one and, on every product ({@link #linear}, {@link #gatedLinear}), records the absolute maximum of each
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

    /** Records x's column maxima for every weight, then computes with the inner backend. */
    @Override
    public void linear(Tensor x, Linear... outputs) {
        for (Linear l : outputs) record(x, l.weight());
        inner.linear(x, outputs);
    }

    @Override
    public void gatedLinear(Tensor out, Tensor x, Tensor gate, Tensor up, Elementwise glu) {
        record(x, gate);
        record(x, up);
        inner.gatedLinear(out, x, gate, up, glu);
    }

    private void record(Tensor x, Tensor w) {
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
    }

    // ---- everything else is the inner backend's ------------------------------------------------------------

    @Override public String name() { return "calibrating " + inner.name(); }
    @Override public Tensor upload(HostWeight w) { return inner.upload(w); }
    @Override public Tensor allocate(String name, int rows, int cols) { return inner.allocate(name, rows, cols); }
    @Override public void free(Tensor activation) { inner.free(activation); }
    @Override public void write(Tensor dst, float[] src) { inner.write(dst, src); }
    @Override public void read(Tensor src, float[] dst) { inner.read(src, dst); }
    @Override public void embed(Tensor out, Tensor table, int[] tokens) { inner.embed(out, table, tokens); }
    @Override public void norm(Tensor out, Tensor x, Norm norm) { inner.norm(out, x, norm); }
    @Override public void map(Tensor out, Elementwise op, Tensor a, Tensor b) { inner.map(out, op, a, b); }
    @Override public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec) { inner.attention(out, q, k, v, cache, layer, batch, spec); }
    @Override public void copy(Tensor dst, Tensor src, int row, int col) { inner.copy(dst, src, row, col); }
    @Override public KvCache createKvCache(KvLayout layout) { return inner.createKvCache(layout); }
    @Override public void close() { inner.close(); }
}
