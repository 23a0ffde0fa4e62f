package dev.infercl.model;

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

/** A backend that passes every op to another: tests override the ops they watch or change. */
class ForwardingBackend implements Backend {
    final Backend inner;

    ForwardingBackend(Backend inner) {
        this.inner = inner;
    }

    @Override public String name() { return "forwarding " + inner.name(); }
    @Override public Tensor upload(HostWeight w) { return inner.upload(w); }
    @Override public Tensor allocate(String name, int rows, int cols) { return inner.allocate(name, rows, cols); }
    @Override public void free(Tensor activation) { inner.free(activation); }
    @Override public void write(Tensor dst, float[] src) { inner.write(dst, src); }
    @Override public void read(Tensor src, float[] dst) { inner.read(src, dst); }
    @Override public void embed(Tensor out, Tensor table, int[] tokens) { inner.embed(out, table, tokens); }
    @Override public void norm(Tensor out, Tensor x, Norm norm) { inner.norm(out, x, norm); }
    @Override public void linear(Tensor x, Linear... outputs) { inner.linear(x, outputs); }
    @Override public void gatedLinear(Tensor out, Tensor x, Tensor gate, Tensor up, Elementwise glu) { inner.gatedLinear(out, x, gate, up, glu); }
    @Override public void map(Tensor out, Elementwise op, Tensor a, Tensor b) { inner.map(out, op, a, b); }
    @Override public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec) {
        inner.attention(out, q, k, v, cache, layer, batch, spec);
    }
    @Override public void copy(Tensor dst, Tensor src, int row, int col) { inner.copy(dst, src, row, col); }
    @Override public KvCache createKvCache(KvLayout layout) { return inner.createKvCache(layout); }
    @Override public void close() { inner.close(); }
}
