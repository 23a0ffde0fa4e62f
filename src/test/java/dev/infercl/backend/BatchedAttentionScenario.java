package dev.infercl.backend;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.backend.cpu.Reference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Attention over several sequences' block tables in one call, as a continuous-batching step makes it, against
 * {@link Reference#attention} (the scalar oracle, row by row over each row's own table): sequences of different
 * lengths; a prefill chunk of a joining sequence mixed with the decode rows of the running ones, the rows shuffled;
 * a sequence leaving mid-way and a new one taking its freed blocks (whose slots hold the old one's values). The
 * physical blocks are handed out shuffled, so no table is contiguous.
 */
public final class BatchedAttentionScenario {
    static final float SENTINEL = -9876.5f;
    static final int GUARD = 2;

    private BatchedAttentionScenario() {}

    /** One sequence: its table and the position its next row takes. */
    private static final class Seq {
        final BlockTable table;
        int length;
        final int prompt;

        Seq(BlockTable table, int prompt) {
            this.table = table;
            this.prompt = prompt;
        }
    }

    /**
     * Runs the scenario on {@code be} and checks every step's output against the reference within {@code limit}
     * (normalized MSE). Returns the worst normalized MSE seen.
     */
    public static double run(Backend be, long seed, int hd, int heads, int kvHeads, float softcap, int window, int blockSize, double limit) {
        var r = new Random(seed);
        int[] prompts = {13, 1, 40, 5, 29, 70, 3};   // joining order; each sequence then decodes
        int blocks = 64;
        var layout = new KvLayout(2, kvHeads, hd, blockSize, blocks);
        var spec = new AttentionSpec((float) (1 / Math.sqrt(hd)), softcap, window);
        int qDim = heads * hd, kvDim = kvHeads * hd;
        double worst = 0;
        try (KvCache cache = be.createKvCache(layout)) {
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < blocks; i++) ids.add(cache.pool().allocate());
            Collections.shuffle(ids, r);
            ids.forEach(cache.pool()::release);
            float[] kRef = new float[(int) layout.valuesPerLayer()], vRef = new float[kRef.length];
            List<Seq> running = new ArrayList<>();
            int joined = 0;
            for (int step = 0; step < 24; step++) {
                // a sequence leaves at step 9 (its blocks go back to the pool, values left in place)
                if (step == 9 && running.size() > 1) running.remove(1).table.release();
                // rows: every running sequence past its prompt decodes one token; one sequence joins with a chunk of
                // at most 16 tokens of its prompt, or continues its prompt's prefill
                List<int[]> rows = new ArrayList<>();   // (sequence index in tables, position)
                List<BlockTable> tables = new ArrayList<>();
                boolean prefilling = false;
                for (Seq s : running) {
                    int take = s.length < s.prompt ? Math.min(16, s.prompt - s.length) : 1;
                    if (s.length < s.prompt) {
                        if (prefilling) continue;
                        prefilling = true;
                    }
                    int si = tables.size();
                    tables.add(s.table);
                    for (int t = 0; t < take; t++) rows.add(new int[] {si, s.length + t});
                }
                if (!prefilling && joined < prompts.length && step % 2 == 0) {
                    var s = new Seq(new BlockTable(cache.pool(), blockSize), prompts[joined++]);
                    running.add(s);
                    int take = Math.min(16, s.prompt);
                    int si = tables.size();
                    tables.add(s.table);
                    for (int t = 0; t < take; t++) rows.add(new int[] {si, t});
                }
                if (rows.isEmpty()) continue;
                Collections.shuffle(rows, r);
                int n = rows.size();
                int[] pos = new int[n], seqs = new int[n];
                for (int t = 0; t < n; t++) {
                    seqs[t] = rows.get(t)[0];
                    pos[t] = rows.get(t)[1];
                }
                for (int t = 0; t < n; t++) tables.get(seqs[t]).reserve(pos[t] + 1);
                var batch = new Batch(pos, seqs, tables.toArray(new BlockTable[0]));
                float[] q = random(r, n * qDim, softcap > 0 ? 4f : 1f), k = random(r, n * kvDim, 1f), v = random(r, n * kvDim, 1f);
                float[] want = new float[n * qDim];
                Reference.attention(want, q, k, v, kRef, vRef, layout, batch, heads, spec);

                Tensor qt = input(be, q, n, qDim), kt = input(be, k, n, kvDim), vt = input(be, v, n, kvDim);
                Tensor out = be.allocate("out", n + GUARD, qDim);
                float[] all = new float[(n + GUARD) * qDim];
                Arrays.fill(all, SENTINEL);
                be.write(out, all);
                be.attention(out.firstRows(n), qt, kt, vt, cache, 1, batch, spec);
                be.read(out, all);
                for (int i = n * qDim; i < all.length; i++) if (all[i] != SENTINEL) fail("guard value after " + n + " rows overwritten: " + all[i]);
                float[] got = Arrays.copyOf(all, n * qDim);
                for (Tensor t : new Tensor[] {qt, kt, vt, out}) be.free(t);
                double e = nmse(got, want);
                String what = "step " + step + ": " + n + " rows of " + tables.size() + " sequences on " + be.name();
                assertTrue(e <= limit, "normalized MSE " + e + " > " + limit + " at " + what);
                worst = Math.max(worst, e);
                for (Seq s : running) {
                    int max = -1;
                    for (int t = 0; t < n; t++) if (batch.table(t) == s.table) max = Math.max(max, pos[t]);
                    if (max >= 0) {
                        s.length = max + 1;
                        s.table.setLength(s.length);
                    }
                }
            }
            assertTrue(joined == prompts.length, "every sequence joined");
            for (Seq s : running) s.table.release();
            assertTrue(cache.pool().freeBlocks() == blocks, "blocks returned");
        }
        return worst;
    }

    static float[] random(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (r.nextFloat() * 2 - 1) * scale;
        return a;
    }

    static Tensor input(Backend be, float[] values, int rows, int cols) {
        Tensor t = be.allocate("in", rows, cols);
        be.write(t, values);
        return t;
    }

    static double nmse(float[] got, float[] want) {
        double err = 0, ref = 0;
        for (int i = 0; i < want.length; i++) {
            if (!Float.isFinite(got[i])) return Double.POSITIVE_INFINITY;
            double d = got[i] - want[i];
            err += d * d;
            ref += (double) want[i] * want[i];
        }
        return err / Math.max(ref, 1e-30);
    }
}
