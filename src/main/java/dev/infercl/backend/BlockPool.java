package dev.infercl.backend;

import java.util.ArrayDeque;

/** The free list of a KV cache's physical blocks. Not thread-safe: one scheduler owns it. */
public final class BlockPool {
    private final int numBlocks;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();

    public BlockPool(int numBlocks) {
        this.numBlocks = numBlocks;
        for (int b = 0; b < numBlocks; b++) free.add(b);
    }

    public int numBlocks() {
        return numBlocks;
    }

    public int freeBlocks() {
        return free.size();
    }

    /** A free physical block; {@link ContextFullException} when none is left. */
    public int allocate() {
        Integer b = free.poll();
        if (b == null) throw new ContextFullException("the KV cache is full: all " + numBlocks + " blocks are in use");
        return b;
    }

    public void release(int block) {
        free.add(block);
    }
}
