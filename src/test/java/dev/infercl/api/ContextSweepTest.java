package dev.infercl.api;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Decode tokens/s against context length for docs/PERFORMANCE.md. Opt-in:
 * {@code -Dinfercl.sweep.model=PATH -Dinfercl.sweep.backend=opencl|cpu}. The context grows once (prefill in
 * batches) to 128, 512, 1024, 2048; at each depth it decodes {@code infercl.sweep.steps} tokens three times
 * (rewinding in between) and prints the median tokens/s as one "SWEEP" line.
 */
class ContextSweepTest {

    @Test
    void decodeAgainstContext() throws Exception {
        String model = System.getProperty("infercl.sweep.model");
        Assumptions.assumeTrue(model != null && !model.isBlank(), "set -Dinfercl.sweep.model to run the sweep");
        var kind = BackendKind.valueOf(System.getProperty("infercl.sweep.backend", "opencl").toUpperCase(java.util.Locale.ROOT));
        int steps = Integer.getInteger("infercl.sweep.steps", 32);
        int[] depths = {128, 512, 1024, 2048};
        try (Model m = Model.load(Path.of(model), new LoadOptions(kind, null, 0, null, 0, null));
             Session s = m.newSession(2048 + steps + 1)) {
            var rnd = new SplittableRandom(7);
            int vocab = m.config().vocabSize();
            StringBuilder line = new StringBuilder("SWEEP " + Path.of(model).getFileName() + " " + kind.name().toLowerCase(java.util.Locale.ROOT));
            s.prefillOnly(new int[] {1});
            // warm-up: decode and rewind once before the first depth, so JIT compilation and first-use kernel
            // builds do not land in the 128-position figure
            for (int i = 0; i < steps; i++) s.prefillOnly(new int[] {rnd.nextInt(vocab)});
            s.rewind(1);
            for (int d : depths) {
                s.prefillOnly(rnd.ints(d - s.length(), 0, vocab).toArray());
                double[] rates = new double[3];
                for (int r = 0; r < rates.length; r++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < steps; i++) s.prefillOnly(new int[] {rnd.nextInt(vocab)});
                    rates[r] = steps / ((System.nanoTime() - t0) / 1e9);
                    s.rewind(d);
                }
                Arrays.sort(rates);
                line.append(String.format(java.util.Locale.ROOT, " %d:%.2f", d, rates[1]));
            }
            System.out.println(line);
        }
    }
}
