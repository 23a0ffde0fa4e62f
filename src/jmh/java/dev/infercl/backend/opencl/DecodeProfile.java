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

/**
 * Where OpenCL decode time goes: a developer tool, not a test. Per decoded token it prints the host time to enqueue
 * a forward pass, the total time with the logits read, and (with the profiling queue) device time per kernel; then
 * the host cost per launch and the device's per-launch cost.
 *
 * <pre>
 * mvn -Pjmh test-compile exec:exec -Dbench.main=dev.infercl.backend.opencl.DecodeProfile -Djmh.args="MODEL.gguf [steps] [depth] [batch]" \
 *     -Dbench.jvmArgs=-Dinfercl.opencl.profile=true
 * </pre>
 */
public final class DecodeProfile {
    private DecodeProfile() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) throw new IllegalArgumentException("usage: DecodeProfile MODEL.gguf [steps] [depth]");
        String model = args[0];
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 32, depth = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        try (ModelFile file = ModelFile.open(Path.of(model), null); ClBackend cl = ClBackend.open(null, ClOptions.defaults())) {
            var tf = new Transformer(file.config(), Weights.upload(file, cl), cl);
            var rnd = new SplittableRandom(1);
            int vocab = file.config().vocabSize();
            float[] logits = new float[vocab];
            try (var st = tf.newState(depth + 2 * steps + 8, batch)) {
                cl.takeProfile();
                long p0 = System.nanoTime();
                for (int i = 0; i < depth; i += batch) tf.forward(st, rnd.ints(Math.min(batch, depth - i), 0, vocab).toArray(), false);
                cl.finish();
                if (depth > 1) {
                    System.out.printf("PREFILL %d tokens in batches of %d: %.1f tokens/s%n", depth, batch, depth / ((System.nanoTime() - p0) / 1e9));
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
