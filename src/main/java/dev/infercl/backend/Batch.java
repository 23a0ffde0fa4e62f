package dev.infercl.backend;

/**
 * The tokens of one forward call, which may belong to several sequences: row t of every activation matrix is the
 * token at {@code positions[t]} of sequence {@code seqs[t]}, whose KV blocks {@code tables[seqs[t]]} maps. Attention
 * for row t sees positions 0..positions[t] of its own sequence only. Rows may come in any order (decode rows of
 * some sequences beside a prefill chunk of another); each (sequence, position) appears at most once.
 */
public record Batch(int[] positions, int[] seqs, BlockTable[] tables) {
    public Batch {
        if (positions.length != seqs.length) {
            throw new IllegalArgumentException("a batch needs a sequence index per row: " + positions.length + " positions, " + seqs.length + " indices");
        }
        for (int t = 0; t < positions.length; t++) {
            if (positions[t] < 0) throw new IllegalArgumentException("batch row " + t + " has a negative position " + positions[t]);
            if (seqs[t] < 0 || seqs[t] >= tables.length) {
                throw new IllegalArgumentException("batch row " + t + " names sequence " + seqs[t] + " of " + tables.length);
            }
        }
    }

    /** Rows of one sequence: every row's table is {@code table}. */
    public Batch(int[] positions, BlockTable table) {
        this(positions, new int[positions.length], new BlockTable[] {table});
    }

    public int size() {
        return positions.length;
    }

    /** The block table of row t's sequence. */
    public BlockTable table(int t) {
        return tables[seqs[t]];
    }

    /** Whether every row belongs to one sequence. */
    public boolean singleSequence() {
        return tables.length == 1;
    }

    /**
     * The block tables in the layout the OpenCL kernels read: for each row t, the offset (from the start of this
     * array) where its sequence's table begins, then each sequence's physical block ids in turn.
     */
    public int[] rowTables() {
        int n = positions.length;
        int[] start = new int[tables.length];
        int total = n;
        for (int s = 0; s < tables.length; s++) {
            start[s] = total;
            total += tables[s].blockCount();
        }
        int[] r = new int[total];
        for (int t = 0; t < n; t++) r[t] = start[seqs[t]];
        for (int s = 0; s < tables.length; s++) {
            for (int b = 0; b < tables[s].blockCount(); b++) r[start[s] + b] = tables[s].block(b);
        }
        return r;
    }
}
