package dev.infercl.backend;

/**
 * The tokens of one forward call: row t of every activation matrix is the token at {@code positions[t]} of
 * the sequence whose KV blocks {@code table} maps. Attention for row t sees positions 0..positions[t].
 */
public record Batch(int[] positions, BlockTable table) {
    public int size() {
        return positions.length;
    }
}
