package dev.infercl.backend;

/**
 * Shape of a paged KV cache: for each of {@code layers}, K and V each hold
 * {@code (numBlocks, kvHeads, blockSize, headDim)} values; a position p of a sequence lives in physical block
 * {@code table.block(p / blockSize)} at slot {@code p % blockSize}.
 */
public record KvLayout(int layers, int kvHeads, int headDim, int blockSize, int numBlocks) {
    /** Values of one layer's K (or V); {@link ArithmeticException} when a long cannot hold the count. */
    public long valuesPerLayer() {
        return Math.multiplyExact(Math.multiplyExact((long) numBlocks * kvHeads, (long) blockSize), (long) headDim);
    }

    public long capacityTokens() {
        return (long) numBlocks * blockSize;
    }
}
