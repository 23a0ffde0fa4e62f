package dev.infercl.api;

import dev.infercl.backend.Measurable;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.commons.math3.stat.descriptive.DescriptiveStatistics;

/**
 * Measures prefill and decode speed of a loaded model, the device's read bandwidth, and the decode roofline:
 * bytes each token must read (weights + KV cache) ÷ bandwidth. Token ids are random (speed does not depend on them).
 */
public final class Benchmark {
    private Benchmark() {}

    /**
     * @param prompts      prefill sizes to measure (e.g. 128, 512)
     * @param generate     tokens per decode measurement
     * @param repetitions  runs of each measurement
     * @param longContext  also measure decode after this many positions (0: skip)
     */
    public record Options(int[] prompts, int generate, int repetitions, int longContext, long seed) {}

    /** Mean and standard deviation of tokens/s over the repetitions. */
    public record Stat(double mean, double sd, int runs) {
        static Stat of(List<Double> xs) {
            var d = new DescriptiveStatistics();
            xs.forEach(d::addValue);
            return new Stat(d.getMean(), xs.size() > 1 ? d.getStandardDeviation() : 0, xs.size());
        }
    }

    /**
     * @param prefill             tokens/s per prompt size
     * @param decode              tokens/s generating {@code generate} tokens after a 1-token prompt
     * @param decodeLong          tokens/s generating after {@code longContext} positions (null if not measured)
     * @param decodeLongRatio     the median over the repetitions of (long-context tokens/s ÷ short-context tokens/s)
     *                            of each repetition's pair of runs, made back to back so that a shared machine's
     *                            bandwidth changing between them moves the ratio less (NaN if not measured)
     * @param bandwidthProbes     each read-bandwidth probe's reading, bytes/s, in order: before the decode runs
     *                            (where the peak memory mark can be reset around it) and after them
     * @param bytesPerToken       bytes a decode step reads at a short context (weights + KV)
     * @param bytesPerTokenLong   the same at the long context
     * @param multiplyAddRates    the device's multiply-adds per second in the arithmetic its products use for each
     *                            weight type of the model (float FMA, or int8 dot products where the backend
     *                            quantizes activations), from the backend's probe ({@link Measurable#probeMultiplyAddRate})
     * @param prefillRoofline     per prompt size, prefill tokens/s if every multiply-add ran at those rates: the
     *                            layers' products at their weight type's rate, the classifier's (one row per prompt)
     *                            and attention's (float, an average of (p + 1) / 2 positions) at the F32 rate
     * @param decodeCpuMsPerToken process CPU time (all threads, device driver threads included) per decoded token,
     *                            median over the runs: with wall time it tells a decode that keeps its threads busy
     *                            (CPU time ≈ threads × wall) from one that waits (on the device, or on other
     *                            processes for the cores); 0 where the process CPU time cannot be read
     */
    public record Result(String backend, Map<Integer, Stat> prefill, Stat decode, Stat decodeLong, double decodeLongRatio, int longContext,
                         double decodeCpuMsPerToken, List<Double> bandwidthProbes, long bytesPerToken, long bytesPerTokenLong, long weightBytes, long deviceBytes, long peakHostBytes,
                         Map<dev.infercl.gguf.GgmlType, Double> multiplyAddRates, Map<Integer, Double> prefillRoofline) {
        /** The read bandwidth the roofline uses, bytes/s: the highest probe reading. */
        public double bandwidth() {
            return bandwidthProbes.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        }

        /** Decode tokens/s if every token took exactly its bytes at the measured bandwidth. */
        public double rooflineTokensPerSecond() {
            return bandwidth() / bytesPerToken;
        }

        public double rooflineFraction() {
            return decode.mean() / rooflineTokensPerSecond();
        }

        /** Prefill tokens/s of a prompt of p tokens as a fraction of its compute roofline. */
        public double prefillRooflineFraction(int p) {
            return prefill.get(p).mean() / prefillRoofline.get(p);
        }
    }

    /**
     * Decode tokens/s against context length: the context grows once (prefill in batches) through {@code depths}
     * (ascending); after a warm-up decode, at each depth {@code steps} tokens are decoded three times (rewinding in
     * between) and the median tokens/s is kept. Returns depth → tokens/s, in order.
     */
    public static Map<Integer, Double> contextSweep(Model model, int[] depths, int steps, long seed) {
        int[] sorted = depths.clone();
        java.util.Arrays.sort(sorted);
        if (sorted.length == 0 || sorted[0] < 1 || steps < 1) throw new IllegalArgumentException("context sweep: depths and steps must be ≥ 1");
        int vocab = model.config().vocabSize();
        var rnd = new SplittableRandom(seed);
        var out = new LinkedHashMap<Integer, Double>();
        try (Session s = model.newSession(sorted[sorted.length - 1] + steps + 1)) {
            encodeSource(model, s, rnd);
            s.prefillOnly(new int[] {1});
            // warm-up: decode and rewind once before the first depth, so JIT compilation and first-use kernel builds
            // do not land in the first figure
            for (int i = 0; i < steps; i++) s.prefillOnly(new int[] {rnd.nextInt(vocab)});
            s.rewind(1);
            for (int d : sorted) {
                if (d > s.length()) s.prefillOnly(rnd.ints(d - s.length(), 0, vocab).toArray());
                double[] rates = new double[3];
                for (int r = 0; r < rates.length; r++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < steps; i++) s.prefillOnly(new int[] {rnd.nextInt(vocab)});
                    rates[r] = steps / ((System.nanoTime() - t0) / 1e9);
                    s.rewind(d);
                }
                java.util.Arrays.sort(rates);
                out.put(d, rates[1]);
            }
        }
        return out;
    }

    /** Tokens of the random encoder source an encoder–decoder model's decoder is measured against. */
    static final int ENCODER_SOURCE = 32;

    /**
     * An encoder–decoder model (T5) decodes against an encoder output: a random source of {@value #ENCODER_SOURCE}
     * tokens is encoded once, and the figures are the decoder's (reset and rewind keep the encoder output).
     */
    private static void encodeSource(Model model, Session s, SplittableRandom rnd) {
        if (model.isEncoderDecoder()) s.encode(rnd.ints(ENCODER_SOURCE, 0, model.config().vocabSize()).toArray());
    }

    /** Tokens of each sequence's random prompt in {@link #parallelDecode}. */
    public static final int PARALLEL_PROMPT = 8;

    /**
     * Aggregate decode tokens/s with N sequences generating at once, for each N of {@code parallel}: N threads, each
     * with its own session of {@code model} (loaded with {@link LoadOptions#withParallel} ≥ the largest N, so their
     * steps are batched), each generating {@code steps} tokens after a random prompt of {@value #PARALLEL_PROMPT}
     * tokens (prefilled together in the first step) without stopping at the end of a text; tokens/s is all their
     * tokens over the wall time from the start to the last one, per repetition. A warm-up run at the largest N comes
     * first. Returns N → tokens/s, in the order given.
     */
    public static Map<Integer, Stat> parallelDecode(Model model, int[] parallel, int steps, int repetitions, long seed) throws InterruptedException {
        int most = 0;
        for (int n : parallel) {
            if (n < 1) throw new IllegalArgumentException("parallel sequence counts must be ≥ 1, got " + n);
            most = Math.max(most, n);
        }
        if (steps < 1 || repetitions < 1) throw new IllegalArgumentException("parallel decode: steps and repetitions must be ≥ 1");
        var rnd = new SplittableRandom(seed);
        int vocab = model.config().vocabSize();
        var out = new LinkedHashMap<Integer, Stat>();
        parallelRun(model, most, Math.min(steps, 16), rnd, vocab);
        for (int n : parallel) {
            var rates = new java.util.ArrayList<Double>();
            for (int r = 0; r < repetitions; r++) rates.add(parallelRun(model, n, steps, rnd, vocab));
            out.put(n, Stat.of(rates));
        }
        return out;
    }

    /** One run of {@link #parallelDecode}: tokens/s of n threads generating steps tokens each. */
    private static double parallelRun(Model model, int n, int steps, SplittableRandom rnd, int vocab) throws InterruptedException {
        var options = new GenerateOptions(steps, dev.infercl.engine.SamplerOptions.greedy(), null, false);
        int[][] prompts = new int[n][];
        for (int i = 0; i < n; i++) prompts[i] = rnd.ints(PARALLEL_PROMPT, 0, vocab).toArray();
        var sessions = new Session[n];
        var failure = new java.util.concurrent.atomic.AtomicReference<Throwable>();
        var start = new java.util.concurrent.CountDownLatch(1);
        var threads = new Thread[n];
        int[] produced = new int[n];
        try {
            for (int i = 0; i < n; i++) sessions[i] = model.newSession(PARALLEL_PROMPT + steps + 1);
            for (int i = 0; i < n; i++) {
                int k = i;
                threads[i] = Thread.ofPlatform().name("bench-parallel-" + i).start(() -> {
                    try {
                        start.await();
                        produced[k] = sessions[k].generate(prompts[k], options, null).tokens().length;
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
            }
            long t0 = System.nanoTime();
            start.countDown();
            for (Thread t : threads) t.join();
            double seconds = (System.nanoTime() - t0) / 1e9;
            if (failure.get() != null) throw new IllegalStateException("a parallel decode run failed: " + failure.get(), failure.get());
            long tokens = 0;
            for (int p : produced) tokens += p;
            return tokens / seconds;
        } finally {
            for (Session s : sessions) if (s != null) s.close();
        }
    }

    /**
     * Speculative decoding against plain greedy decoding of the same text.
     *
     * @param draft            the draft's name ("oracle" is made here from the plain run's output)
     * @param k                tokens drafted per target step
     * @param plainTokensPerS  plain greedy decoding, median over the runs (tokens ÷ time from the prompt to the last token)
     * @param specTokensPerS   the same with speculation
     * @param acceptanceRate   accepted ÷ drafted tokens over every speculative run
     * @param tokensPerForward tokens per target forward step over every speculative run
     * @param decodeStepMs     one target forward of one token, reading its logits: median
     * @param verifyStepMs     one target forward of k + 1 tokens, reading the logits of every row: median
     * @param verifyOverDecode the median over back-to-back pairs of (verification ÷ decode step)
     */
    public record SpecResult(String backend, String draft, int k, int tokens, int runs, double plainTokensPerS, double specTokensPerS,
                             double acceptanceRate, double tokensPerForward, double decodeStepMs, double verifyStepMs, double verifyOverDecode) {
        public double speedup() {
            return specTokensPerS / plainTokensPerS;
        }
    }

    /**
     * Greedy generation of {@code tokens} tokens after {@code prompt}, plain and with speculation ({@code draft}, or the
     * oracle draft when null: the plain run's own output), alternating, {@code repetitions} times each after one
     * warm-up pair; end-of-text does not stop them. Then the price of a verification step: {@code 3 × tokens}
     * back-to-back pairs of a one-token forward and a (k + 1)-token forward at the prompt's end.
     */
    public static SpecResult speculative(Model model, String prompt, int tokens, int repetitions, Draft draft, int k) {
        if (tokens < 1 || repetitions < 1) throw new IllegalArgumentException("speculative bench: tokens and repetitions must be ≥ 1");
        int[] ids = model.tokenizer().encode(prompt, model.tokenizer().addBosByDefault(), false);
        var plainOptions = new GenerateOptions(tokens, dev.infercl.engine.SamplerOptions.greedy(), null, false);
        var plainRates = new DescriptiveStatistics();
        var specRates = new DescriptiveStatistics();
        long drafted = 0, accepted = 0, forwards = 0, made = 0;
        String name = draft == null ? "oracle" : draft.name();
        try (Session s = model.newSession(ids.length + tokens + k + 2)) {
            for (int r = 0; r < repetitions + 1; r++) {
                s.reset();
                Generation plain = s.generate(ids, plainOptions, null);
                Draft d = draft != null ? draft : Draft.oracle(concat(ids, plain.tokens()));
                s.reset();
                Generation spec = s.generate(ids, plainOptions.speculative(d, k), null);
                if (!java.util.Arrays.equals(plain.tokens(), spec.tokens())) {
                    throw new IllegalStateException("speculative greedy output differs from plain greedy output (" + name + " draft)");
                }
                if (r == 0) continue;   // warm-up (JIT, kernel builds, the draft's first load)
                plainRates.addValue(plain.tokens().length * 1e9 / (plain.promptNanos() + plain.generateNanos()));
                specRates.addValue(spec.tokens().length * 1e9 / (spec.promptNanos() + spec.generateNanos()));
                drafted += spec.speculation().drafted();
                accepted += spec.speculation().accepted();
                forwards += spec.speculation().targetForwards();
                made += spec.speculation().tokens();
            }
            // the verification step against a decode step, at the prompt's end, pair by pair
            var decodeMs = new DescriptiveStatistics();
            var verifyMs = new DescriptiveStatistics();
            var ratio = new DescriptiveStatistics();
            var rnd = new SplittableRandom(7);
            int vocab = model.config().vocabSize();
            for (int i = 0; i < 3 * tokens + 4; i++) {
                s.reset();
                s.prefillOnly(ids);
                long t0 = System.nanoTime();
                s.prefillOnly(new int[] {rnd.nextInt(vocab)});
                long t1 = System.nanoTime();
                s.rewind(ids.length);
                s.logits(rnd.ints(k + 1, 0, vocab).toArray());
                long t2 = System.nanoTime();
                if (i < 4) continue;   // warm-up
                decodeMs.addValue((t1 - t0) / 1e6);
                verifyMs.addValue((t2 - t1) / 1e6);
                ratio.addValue((double) (t2 - t1) / (t1 - t0));
            }
            return new SpecResult(model.backendName(), name, k, tokens, repetitions, plainRates.getPercentile(50), specRates.getPercentile(50),
                    drafted == 0 ? Double.NaN : (double) accepted / drafted, (double) made / forwards,
                    decodeMs.getPercentile(50), verifyMs.getPercentile(50), ratio.getPercentile(50));
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    public static Result run(Model model, Options o) {
        var cfg = model.config();
        var rnd = new SplittableRandom(o.seed());
        int maxPrompt = 0;
        for (int p : o.prompts()) maxPrompt = Math.max(maxPrompt, p);
        int ctx = Math.max(Math.max(maxPrompt, o.generate() + 1), o.longContext() + o.generate());
        Map<Integer, Stat> prefill = new LinkedHashMap<>();
        try (Session s = model.newSession(ctx)) {
            encodeSource(model, s, rnd);
            for (int p : o.prompts()) {
                List<Double> rates = new ArrayList<>();
                for (int r = 0; r < o.repetitions() + 1; r++) {
                    s.reset();
                    int[] ids = rnd.ints(p, 0, cfg.vocabSize()).toArray();
                    long t0 = System.nanoTime();
                    s.prefillOnly(ids);
                    double sec = (System.nanoTime() - t0) / 1e9;
                    if (r > 0) rates.add(p / sec);   // run 0 warms up (JIT, kernel builds)
                }
                prefill.put(p, Stat.of(rates));
            }
            // The bandwidth a shared machine gives one process changes from minute to minute (the same probe can read
            // a third of its best a few minutes later), so it is probed on both sides of the decode runs and the
            // roofline takes the higher reading. The first probe's buffer must not count as the model's peak
            // memory: the peak so far is kept and the kernel's high-water mark reset after it; where the mark
            // cannot be reset, only the second probe runs.
            if (!(model.transformer().backend() instanceof Measurable backend)) {
                throw new IllegalArgumentException("bench needs a backend that can be measured, not " + model.backendName());
            }
            long peakBefore = peakHostBytes();
            List<Double> probes = new ArrayList<>();
            if (peakBefore > 0 && resetPeakHostBytes()) {   // the first reset only tells whether the mark can be reset
                probes.add(model.compute(backend::probeReadBandwidth));   // the backend is the model's: under its lock
                resetPeakHostBytes();
            }
            // Short- and long-context decode alternate, one pair per repetition (the first pair warms up), so that each
            // long-context run has a short one next to it in time.
            var cpuMs = new DescriptiveStatistics();
            var ratios = new DescriptiveStatistics();
            List<Double> shortRates = new ArrayList<>(), longRates = new ArrayList<>();
            for (int r = 0; r < o.repetitions() + 1; r++) {
                double[] near = decodeRun(s, rnd, 1, o, cfg.vocabSize());
                double[] far = o.longContext() > 0 ? decodeRun(s, rnd, o.longContext(), o, cfg.vocabSize()) : null;
                if (r == 0) continue;   // warm-up (JIT, kernel builds)
                shortRates.add(near[0]);
                cpuMs.addValue(near[1]);
                if (far != null) {
                    longRates.add(far[0]);
                    ratios.addValue(far[0] / near[0]);
                }
            }
            Stat decode = Stat.of(shortRates);
            Stat decodeLong = o.longContext() > 0 ? Stat.of(longRates) : null;
            double decodeLongRatio = o.longContext() > 0 ? ratios.getPercentile(50) : Double.NaN;
            long peak = Math.max(peakBefore, peakHostBytes());   // before the second probe's buffer inflates it
            probes.add(model.compute(backend::probeReadBandwidth));
            long weights = model.transformer().weights().streamedBytes();
            var rates = new java.util.EnumMap<dev.infercl.gguf.GgmlType, Double>(dev.infercl.gguf.GgmlType.class);
            var layerMacs = model.transformer().weights().layerMultiplyAdds();
            for (var type : layerMacs.keySet()) rates.put(type, model.compute(() -> backend.probeMultiplyAddRate(type)));
            double f32Rate = model.compute(() -> backend.probeMultiplyAddRate(dev.infercl.gguf.GgmlType.F32));
            var output = model.transformer().weights().output();
            Map<Integer, Double> prefillRoofline = new LinkedHashMap<>();
            for (int p : prefill.keySet()) {
                double seconds = 0;   // per token
                for (var e : layerMacs.entrySet()) seconds += e.getValue() / rates.get(e.getKey());
                seconds += ((double) output.rows() * output.cols() / p + (double) cfg.layers() * cfg.qDim() * (p + 1)) / f32Rate;
                prefillRoofline.put(p, 1 / seconds);
            }
            return new Result(model.backendName(), prefill, decode, decodeLong, decodeLongRatio, o.longContext(),
                    cpuMs.getN() > 0 ? cpuMs.getPercentile(50) : 0, List.copyOf(probes),
                    weights + kvBytes(model, 1 + o.generate() / 2), weights + kvBytes(model, o.longContext() + o.generate() / 2), weights,
                    model.compute(backend::allocatedBytes), peak, rates, prefillRoofline);
        }
    }

    /**
     * Resets the kernel's peak resident set size to the current one (Linux: "5" written to /proc/self/clear_refs);
     * false where that is not possible.
     */
    static boolean resetPeakHostBytes() {
        try {
            java.nio.file.Files.writeString(java.nio.file.Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /** Peak resident set size (VmHWM: heap, native buffers and the touched pages of mapped files); 0 without /proc. */
    public static long peakHostBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /** KV bytes a decode step reads at {@code positions} of context (K and V of every layer). */
    static long kvBytes(Model model, int positions) {
        var c = model.config();
        return 2L * c.layers() * c.kvDim() * positions * ((Measurable) model.transformer().backend()).kvBytesPerValue();
    }

    /**
     * One decode run after {@code depth} positions of random tokens: {tokens/s, process CPU ms per token} (the CPU
     * figure 0 where the process CPU time cannot be read).
     */
    private static double[] decodeRun(Session s, SplittableRandom rnd, int depth, Options o, int vocab) {
        s.reset();
        s.prefillOnly(rnd.ints(depth, 0, vocab).toArray());
        long cpu0 = processCpuNanos(), t0 = System.nanoTime();
        for (int i = 0; i < o.generate(); i++) s.prefillOnly(new int[] {rnd.nextInt(vocab)});
        double sec = (System.nanoTime() - t0) / 1e9;
        long cpu = processCpuNanos() - cpu0;
        return new double[] {o.generate() / sec, cpu0 < 0 ? 0 : cpu / 1e6 / o.generate()};
    }

    /** clock_gettime(2), where the C library has it: the process CPU clock in nanoseconds. */
    private static final MethodHandle CLOCK_GETTIME = Linker.nativeLinker().defaultLookup().find("clock_gettime")
            .map(a -> Linker.nativeLinker().downcallHandle(a, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS)))
            .orElse(null);
    private static final int CLOCK_PROCESS_CPUTIME_ID = 2; // Linux

    /**
     * CPU time of every thread of this process (device driver threads included), in ns: the kernel's process CPU
     * clock on Linux (nanosecond resolution; the JVM's MXBean reports it in 10 ms ticks there, too coarse for a
     * short decode run), else the MXBean; -1 where neither reports it.
     */
    private static long processCpuNanos() {
        if (CLOCK_GETTIME != null && System.getProperty("os.name", "").startsWith("Linux")) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment ts = arena.allocate(16, 8);   // struct timespec { time_t tv_sec; long tv_nsec; }
                if ((int) CLOCK_GETTIME.invokeExact(CLOCK_PROCESS_CPUTIME_ID, ts) == 0) {
                    return ts.get(ValueLayout.JAVA_LONG, 0) * 1_000_000_000L + ts.get(ValueLayout.JAVA_LONG, 8);
                }
            } catch (Throwable e) {
                // fall through to the MXBean
            }
        }
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
    }
}
