package dev.infercl.backend.opencl;

import dev.infercl.backend.BlockPool;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import java.util.function.Consumer;
import org.jocl.cl_mem;

/** FP16 K and V buffers per layer on the device, each (numBlocks, kvHeads, blockSize, headDim) halves. */
final class ClKvCache implements KvCache {
    final KvLayout layout;
    final cl_mem[] k, v; // [layer] → (numBlocks, kvHeads, blockSize, headDim) F16
    private final BlockPool pool;
    private final Consumer<cl_mem> release;
    private boolean closed;

    ClKvCache(KvLayout layout, cl_mem[] k, cl_mem[] v, Consumer<cl_mem> release) {
        this.layout = layout;
        this.k = k;
        this.v = v;
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
    }
}
