package dev.infercl.backend.cpu;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.KvLayout;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/** CpuBackend's fast paths: the same arithmetic as {@link Reference}, parallel across cores. */
final class CpuKernels {
    private CpuKernels() {}

    static void matmul(ForkJoinPool pool, float[] out, float[] x, int n, int in, MemorySegment w, GgmlType type, int outRows) {
        int chunk = Math.max(1, outRows / (pool.getParallelism() * 8));
        int chunks = (outRows + chunk - 1) / chunk;
        pool.submit(() -> IntStream.range(0, chunks).parallel().forEach(c -> {
            float[] row = new float[in];
            for (int o = c * chunk; o < Math.min(outRows, (c + 1) * chunk); o++) {
                Dequant.row(type, w, (long) o * in, row, 0, in);
                for (int t = 0; t < n; t++) {
                    float sum = 0;
                    for (int i = 0; i < in; i++) sum += x[t * in + i] * row[i];
                    out[t * outRows + o] = sum;
                }
            }
        })).join();
    }

    static void attention(ForkJoinPool pool, float[] out, float[] q, float[] k, float[] v, float[] kCache, float[] vCache,
                          KvLayout layout, BlockTable table, int[] positions, int heads, AttentionSpec spec) {
        Reference.attention(out, q, k, v, kCache, vCache, layout, table, positions, heads, spec);
    }
}
