package dev.infercl.backend.cpu;

import dev.infercl.backend.BlockPool;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;

/**
 * F32 K and V arrays per layer, each (numBlocks, kvHeads, blockSize, headDim) in the layout {@link Reference#attention}
 * reads — except that the FAST backend's {@link CpuAttention#attention} keeps its own layout: (kvHeads, numBlocks,
 * blockSize, headDim) for V and (kvHeads, numBlocks, headDim, blockSize) for K. A cache belongs to the backend
 * that created it, so one cache never sees both.
 */
final class CpuKvCache implements KvCache {
    final KvLayout layout;
    final float[][] k, v;   // [layer] → (numBlocks, kvHeads, blockSize, headDim)
    private final BlockPool pool;
    private final Runnable onClose; // the backend's accounting of the bytes it gives back
    private boolean closed;

    CpuKvCache(KvLayout layout, Runnable onClose) {
        this.layout = layout;
        this.onClose = onClose;
        int perLayer = Math.toIntExact(layout.valuesPerLayer());
        this.k = new float[layout.layers()][perLayer];
        this.v = new float[layout.layers()][perLayer];
        this.pool = new BlockPool(layout.numBlocks());
    }

    @Override public KvLayout layout() { return layout; }
    @Override public BlockPool pool() { return pool; }
    @Override public void close() {
        if (closed) return;
        closed = true;
        onClose.run();
    }
}
