package dev.infercl.backend;

import java.util.ArrayDeque;
import java.util.LinkedHashSet;
import java.util.function.IntConsumer;

/**
 * The physical blocks of a KV cache, reference-counted so that sequences with a common prefix can share its full
 * blocks. A block is free, held (count ≥ 1: by that many block tables), or cached: held by no table but kept with
 * its keys and values because a prefix cache may hand it out again ({@link #setCached}); cached blocks are evicted
 * least-recently-released first when no free block is left. Not thread-safe: one owner (a sequence state or the
 * scheduler) uses it.
 */
public final class BlockPool {
    private final int numBlocks;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    private final LinkedHashSet<Integer> evictable = new LinkedHashSet<>();   // cached, held by none: oldest first
    private final int[] refs;
    private final boolean[] cached;
    private int held;
    private IntConsumer onEvict = b -> {};

    public BlockPool(int numBlocks) {
        this.numBlocks = numBlocks;
        this.refs = new int[numBlocks];
        this.cached = new boolean[numBlocks];
        for (int b = 0; b < numBlocks; b++) free.add(b);
    }

    public int numBlocks() {
        return numBlocks;
    }

    /** Blocks that {@link #allocate} can still hand out: the free ones and the cached ones no table holds. */
    public int freeBlocks() {
        return free.size() + evictable.size();
    }

    /** Blocks held by at least one table. */
    public int heldBlocks() {
        return held;
    }

    /** Cached blocks no table holds (evicted when a block is needed and none is free). */
    public int cachedIdleBlocks() {
        return evictable.size();
    }

    /** Called with a cached block's id just before it is evicted, so its owner can forget what it held. */
    public void onEvict(IntConsumer listener) {
        this.onEvict = listener;
    }

    /**
     * A block held once by the caller: a free one, else the least recently released cached one (evicted);
     * {@link ContextFullException} when every block is held.
     */
    public int allocate() {
        Integer b = free.poll();
        if (b == null && !evictable.isEmpty()) {
            b = evictable.removeFirst();
            cached[b] = false;
            onEvict.accept(b);
        }
        if (b == null) throw new ContextFullException("the KV cache is full: all " + numBlocks + " blocks are in use");
        refs[b] = 1;
        held++;
        return b;
    }

    /** One more holder of a held or cached block (a table that shares it). */
    public void retain(int block) {
        if (refs[block] == 0) {
            if (!evictable.remove(block)) throw new IllegalStateException("block " + block + " is free: nothing to share");
            held++;
        }
        refs[block]++;
    }

    /** One holder fewer; at none the block is cached (when marked so) or free. */
    public void release(int block) {
        if (refs[block] <= 0) throw new IllegalStateException("block " + block + " released more often than held");
        if (--refs[block] > 0) return;
        held--;
        if (cached[block]) evictable.addLast(block);
        else free.add(block);
    }

    /** Holders of a block (0: free or cached idle). */
    public int holders(int block) {
        return refs[block];
    }

    /** Marks a held block as cached (kept when its last holder releases it) or not; an idle block unmarked is freed. */
    public void setCached(int block, boolean keep) {
        if (cached[block] == keep) return;
        cached[block] = keep;
        if (!keep && refs[block] == 0 && evictable.remove(block)) free.add(block);
    }

    public boolean isCached(int block) {
        return cached[block];
    }
}
