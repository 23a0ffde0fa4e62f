package dev.infercl.backend.opencl;

import dev.infercl.backend.BlockPool;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import java.util.function.Consumer;
import org.jocl.cl_mem;

/**
 * K and V buffers per layer on the device, in values of the backend's {@link dev.infercl.backend.KvType} (F32, FP16
 * or INT8), KV-head-major with keys transposed within each block: K (kvHeads, numBlocks, headDim, blockSize),
 * V (kvHeads, numBlocks, blockSize, headDim); block size a multiple of 16. An INT8 cache also has F32 scales per
 * (block, KV head).
 */
final class ClKvCache implements KvCache {
    final KvLayout layout;
    final cl_mem[] k, v;   // [layer] → one layer's keys and values, laid out as above
    final cl_mem[] ks, vs; // [layer] → (numBlocks, kvHeads) F32 scales of an INT8 cache; null otherwise
    private final BlockPool pool;
    private final Consumer<cl_mem> release;
    private boolean closed;

    ClKvCache(KvLayout layout, cl_mem[] k, cl_mem[] v, cl_mem[] ks, cl_mem[] vs, Consumer<cl_mem> release) {
        this.layout = layout;
        this.k = k;
        this.v = v;
        this.ks = ks;
        this.vs = vs;
        this.pool = new BlockPool(layout.numBlocks());
        this.release = release;
    }

    @Override public KvLayout layout() { return layout; }
    @Override public BlockPool pool() { return pool; }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (cl_mem m : k) release.accept(m);
        for (cl_mem m : v) release.accept(m);
        if (ks != null) for (cl_mem m : ks) release.accept(m);
        if (vs != null) for (cl_mem m : vs) release.accept(m);
    }
}
