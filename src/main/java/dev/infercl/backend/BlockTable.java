package dev.infercl.backend;

import java.util.Arrays;

/**
 * One sequence's map from logical KV blocks to the cache's physical blocks (PagedAttention's block table).
 * Positions 0..length−1 are stored; {@link #reserve} grows it before a batch is written.
 */
public final class BlockTable {
    private final BlockPool pool;
    private final int blockSize;
    private int[] blocks = new int[8];
    private int blockCount;
    private int length;

    public BlockTable(BlockPool pool, int blockSize) {
        this.pool = pool;
        this.blockSize = blockSize;
    }

    public int blockSize() {
        return blockSize;
    }

    /** Tokens stored so far. */
    public int length() {
        return length;
    }

    /** Makes room for positions up to {@code tokens − 1}, allocating blocks as needed. */
    public void reserve(int tokens) {
        int needed = (tokens + blockSize - 1) / blockSize;
        while (blockCount < needed) {
            if (blockCount == blocks.length) blocks = Arrays.copyOf(blocks, blocks.length * 2);
            blocks[blockCount++] = pool.allocate();
        }
    }

    /** Records that positions up to {@code tokens − 1} now hold keys and values. */
    public void setLength(int tokens) {
        if (tokens > blockCount * blockSize) throw new IllegalStateException("reserve before writing " + tokens + " tokens");
        length = tokens;
    }

    /** Forgets positions from {@code tokens} on, releasing whole blocks past it. */
    public void truncate(int tokens) {
        int keep = (tokens + blockSize - 1) / blockSize;
        while (blockCount > keep) pool.release(blocks[--blockCount]);
        length = Math.min(length, tokens);
    }

    /**
     * Appends a full block another table holds or a prefix cache kept (its keys and values are those of this
     * sequence's next {@code blockSize} positions): shared, never written again. The table must end on a block
     * boundary.
     */
    public void adopt(int block) {
        if (length != blockCount * blockSize) throw new IllegalStateException("a shared block follows only whole blocks: " + length + " positions in " + blockCount + " blocks");
        pool.retain(block);
        if (blockCount == blocks.length) blocks = Arrays.copyOf(blocks, blocks.length * 2);
        blocks[blockCount++] = block;
        length += blockSize;
    }

    /** Physical block holding logical block {@code i}. */
    public int block(int i) {
        return blocks[i];
    }

    public int blockCount() {
        return blockCount;
    }

    /** The physical block ids of logical blocks 0..blockCount−1 (a copy). */
    public int[] blocks() {
        return Arrays.copyOf(blocks, blockCount);
    }

    /** Physical slot (block · blockSize + offset) of position {@code p}. */
    public int slot(int p) {
        return blocks[p / blockSize] * blockSize + p % blockSize;
    }

    public void release() {
        truncate(0);
    }
}
