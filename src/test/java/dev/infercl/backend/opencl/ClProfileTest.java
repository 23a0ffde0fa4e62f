package dev.infercl.backend.opencl;

import dev.infercl.backend.Tensor;
import dev.infercl.model.ModelFile;
import dev.infercl.model.Transformer;
import dev.infercl.model.Weights;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Where OpenCL decode time goes (issue 5, part 4). Opt-in, not part of the normal run:
 * {@code -Dinfercl.profile.model=/work/models/110m-q8_0.gguf [-Dinfercl.opencl.profile=true]}.
 * Prints per token: host time to enqueue a forward pass, total time with the logits read, and (with the
 * profiling queue) device time per kernel; then JOCL's host cost per launch and POCL's per-launch cost.
 */
class ClProfileTest {

    @Test
    void decodeBreakdown() throws Exception {
        String model = System.getProperty("infercl.profile.model");
        Assumptions.assumeTrue(model != null && !model.isBlank(), "set -Dinfercl.profile.model to profile");
        int steps = Integer.getInteger("infercl.profile.steps", 32), depth = Integer.getInteger("infercl.profile.depth", 1);
        try (ModelFile file = ModelFile.open(Path.of(model), null); ClBackend cl = ClTestSupport.open(ClOptions.defaults())) {
            var tf = new Transformer(file.config(), Weights.upload(file, cl), cl);
            var rnd = new SplittableRandom(1);
            int vocab = file.config().vocabSize();
            float[] logits = new float[vocab];
            try (var st = tf.newState(depth + 2 * steps + 8, 64)) {
                cl.takeProfile();
                long p0 = System.nanoTime();
                for (int i = 0; i < depth; i += 64) tf.forward(st, rnd.ints(Math.min(64, depth - i), 0, vocab).toArray(), false);
                cl.finish();
                if (depth > 1) {
                    System.out.printf("PREFILL %d tokens in batches of 64: %.1f tokens/s%n", depth, depth / ((System.nanoTime() - p0) / 1e9));
                    cl.takeProfile().forEach((k, v) -> System.out.printf("  %-32s %8.1f ms total %5d launches%n", k, v[0] / 1e6, v[1]));
                }
                for (int i = 0; i < 4; i++) cl.read(tf.forward(st, new int[] {rnd.nextInt(vocab)}, false), logits); // warm-up
                cl.takeProfile();
                long[] enq = new long[steps], tot = new long[steps];
                for (int i = 0; i < steps; i++) {
                    long t0 = System.nanoTime();
                    Tensor out = tf.forward(st, new int[] {rnd.nextInt(vocab)}, false);
                    long t1 = System.nanoTime();
                    cl.read(out, logits);
                    long t2 = System.nanoTime();
                    enq[i] = t1 - t0;
                    tot[i] = t2 - t0;
                }
                Map<String, long[]> prof = cl.takeProfile();
                long launches = prof.values().stream().mapToLong(a -> a[1]).sum() / steps;
                long kernelNs = prof.values().stream().mapToLong(a -> a[0]).sum() / steps;
                System.out.printf("PROFILE %s: %d steps at depth %d; per token: total %.2f ms (median), host enqueue %.2f ms, kernels %.2f ms in %d launches%n",
                        Path.of(model).getFileName(), steps, depth, median(tot) / 1e6, median(enq) / 1e6, kernelNs / 1e6, launches);
                var sorted = new TreeMap<Long, String>();
                prof.forEach((k, v) -> sorted.put(-v[0] * 1000 - sorted.size(), String.format("  %-32s %7.3f ms/token %5d launches/token %8.1f us/launch",
                        k, v[0] / 1e6 / steps, v[1] / steps, v[0] / 1e3 / v[1])));
                sorted.values().forEach(System.out::println);
            }
            launchCost(cl);
        }
    }

    /** JOCL's host cost of clSetKernelArg × 3 + clEnqueueNDRangeKernel, and the drain time per tiny launch. */
    private static void launchCost(ClBackend cl) {
        Tensor x = cl.allocate("x", 1, 64);
        cl.write(x, new float[64]);
        int n = 4000;
        for (int round = 0; round < 3; round++) {
            cl.finish();
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) cl.map(x, dev.infercl.backend.Elementwise.scale(1f), x, null);
            long t1 = System.nanoTime();
            cl.finish();
            long t2 = System.nanoTime();
            cl.takeProfile();
            System.out.printf("LAUNCH tiny kernel x%d: host %.2f us/launch (setArg+enqueue), drained %.2f us/launch end to end%n",
                    n, (t1 - t0) / 1e3 / n, (t2 - t0) / 1e3 / n);
        }
    }

    private static double median(long[] v) {
        long[] c = v.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2.0;
    }
}
