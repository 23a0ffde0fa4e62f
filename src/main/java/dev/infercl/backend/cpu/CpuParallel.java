package dev.infercl.backend.cpu;

import static dev.infercl.backend.cpu.VectorCodecs.F;
import static dev.infercl.backend.cpu.VectorCodecs.L;
import static jdk.incubator.vector.VectorOperators.ADD;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;
import jdk.incubator.vector.FloatVector;

/** How the kernels spread work over the pool ({@link #parallelFor}), and how fast the pool's threads read memory together. */
final class CpuParallel {
    private CpuParallel() {}

    /**
     * Runs body(0..tasks−1) on the pool and returns when all have run (inline when there is one task or one
     * thread). The calling thread works too: it and parallelism − 1 pool workers claim task indices from one
     * counter, so a thread that gets descheduled (the cores are shared) holds up at most its current task instead
     * of a fixed share. A decode token runs about 150 of these regions, so the hand-off is kept to one queued job
     * per helper (no stream spliterator, no task tree). A helper that starts after every index is claimed finds
     * nothing to do and is not waited for: completion is counted in tasks, not in helpers.
     */
    static void parallelFor(ForkJoinPool pool, int tasks, IntConsumer body) {
        int helpers = Math.min(pool.getParallelism(), tasks) - 1;
        if (helpers <= 0) {
            for (int i = 0; i < tasks; i++) body.accept(i);
            return;
        }
        var job = new Region(tasks, body, Thread.currentThread());
        for (int h = 0; h < helpers; h++) pool.execute(job);
        job.run();
        job.await();
    }

    /** One parallelFor call: the next unclaimed index, the number finished, and the first failure. */
    private static final class Region implements Runnable {
        /** How long the caller spins for the last tasks before parking (most regions end within microseconds). */
        private static final long SPIN_NANOS = 50_000;
        private final int tasks;
        private final IntConsumer body;
        private final Thread caller;
        private final AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
        private volatile Throwable failure;

        Region(int tasks, IntConsumer body, Thread caller) {
            this.tasks = tasks;
            this.body = body;
            this.caller = caller;
        }

        @Override
        public void run() {
            for (int i; (i = next.getAndIncrement()) < tasks; ) {
                try {
                    body.accept(i);
                } catch (Throwable e) {
                    if (failure == null) failure = e;
                }
                if (done.incrementAndGet() == tasks) LockSupport.unpark(caller);
            }
        }

        void await() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (done.get() < tasks) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            Throwable f = failure;
            if (f instanceof RuntimeException r) throw r;
            if (f instanceof Error e) throw e;
            if (f != null) throw new IllegalStateException(f);
        }
    }

    // ------------------------------------------------------------------------------------------- bandwidth probe

    /** Σ of the floats in seg[base, base + len), len a multiple of 4·L bytes: the probe's streaming read. */
    private static float sumSlice(MemorySegment seg, long base, long len) {
        var acc = FloatVector.zero(F);
        for (long off = 0; off < len; off += L * 4L) {
            acc = acc.add(FloatVector.fromMemorySegment(F, seg, base + off, java.nio.ByteOrder.LITTLE_ENDIAN));
        }
        return acc.reduceLanes(ADD);
    }

    /** Bytes per {@link #sumSlice} call of the probe: small enough that a pass picks up C2's code as soon as it exists. */
    private static final long PROBE_CALL_BYTES = 1 << 20;

    /**
     * Streaming read bandwidth: a {@code bytes}-long off-heap buffer (larger than any cache) summed with vector
     * loads by every pool thread over its own slice; best of 7 passes, in bytes per second.
     *
     * <p>Uncompiled Vector API code boxes every vector and reads a few GB/s, and C2 compiles in the background:
     * a pass timed before its code is installed would read low. So the warm-up runs for at least 200 ms as well as
     * 2000 calls, and each pass sums its slice in 1 MiB calls, so a pass that starts in slower code switches to
     * C2's as soon as it is installed.
     */
    static double probeReadBandwidth(ForkJoinPool pool, long bytes) {
        try (var arena = java.lang.foreign.Arena.ofShared()) {
            var seg = arena.allocate(bytes, 64);
            seg.fill((byte) 1);
            int parts = pool.getParallelism();
            long slice = bytes / parts / PROBE_CALL_BYTES * PROBE_CALL_BYTES;
            double best = 0;
            float[] sink = new float[parts];
            long warm = Math.min(slice, 16384), warmUntil = System.nanoTime() + 200_000_000L;
            for (int i = 0; i < 2000 || System.nanoTime() < warmUntil; i++) sink[0] += sumSlice(seg, 0, warm);
            for (int pass = 0; pass < 7; pass++) {
                long t0 = System.nanoTime();
                parallelFor(pool, parts, part -> {
                    float s = 0;
                    for (long off = 0; off < slice; off += PROBE_CALL_BYTES) s += sumSlice(seg, part * slice + off, PROBE_CALL_BYTES);
                    sink[part] = s;
                });
                best = Math.max(best, slice * parts / ((System.nanoTime() - t0) / 1e9));
            }
            if (Float.isNaN(sink[0])) throw new AssertionError("unreachable: keeps the loads alive");
            return best;
        }
    }

    /**
     * Multiply-adds per second of float FMA with the preferred vector width on every thread of the pool: eight
     * independent accumulator chains per thread (enough to cover the FMA latency on two units), best of five passes.
     */
    static double probeFmaRate(ForkJoinPool pool) {
        int parts = pool.getParallelism(), iterations = 2_000_000;
        float[] sink = new float[parts];
        for (int i = 0; i < 3; i++) sink[0] += fmaChains(20_000); // JIT
        double best = 0;
        for (int pass = 0; pass < 5; pass++) {
            long t0 = System.nanoTime();
            parallelFor(pool, parts, part -> sink[part] += fmaChains(iterations));
            best = Math.max(best, (double) parts * iterations * 8 * F.length() / ((System.nanoTime() - t0) / 1e9));
        }
        if (Float.isNaN(sink[0])) throw new AssertionError("unreachable: keeps the arithmetic alive");
        return best;
    }

    private static float fmaChains(int iterations) {
        var m = FloatVector.broadcast(F, 0.999f);
        var c = FloatVector.broadcast(F, 1e-3f);
        FloatVector a0 = FloatVector.broadcast(F, 1f), a1 = a0.add(1), a2 = a0.add(2), a3 = a0.add(3),
                a4 = a0.add(4), a5 = a0.add(5), a6 = a0.add(6), a7 = a0.add(7);
        for (int i = 0; i < iterations; i++) {
            a0 = a0.fma(m, c);
            a1 = a1.fma(m, c);
            a2 = a2.fma(m, c);
            a3 = a3.fma(m, c);
            a4 = a4.fma(m, c);
            a5 = a5.fma(m, c);
            a6 = a6.fma(m, c);
            a7 = a7.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(ADD);
    }
}
