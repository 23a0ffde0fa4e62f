package dev.infercl.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.Stories;
import dev.infercl.backend.Backend;
import dev.infercl.backend.ContextFullException;
import dev.infercl.backend.cpu.CpuBackend;
import dev.infercl.backend.opencl.ClTestSupport;
import dev.infercl.model.ModelFile;
import dev.infercl.model.Transformer;
import dev.infercl.model.Weights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Continuous batching on stories260K: batched sequences produce exactly what each produces alone, prefix blocks are
 * shared, a full queue refuses, cancelled and finished sequences give every block back.
 */
class SchedulerTest {
    static final String[] PROMPTS = {"Once upon a time", "The little dog", "Lily and Ben went to the park. They saw a big tree and",
            "One day", "Tom had a red ball. He", "The sun was hot", "Sara liked to sing songs with her mom. One day, her mom said",
            "A cat sat"};
    static final int TOKENS = 48;

    /** A model on a backend, and what the backend needs closing. */
    record Loaded(ModelFile file, Backend backend, Transformer transformer) implements AutoCloseable {
        static Loaded of(Supplier<Backend> backend) throws Exception {
            return of(Stories.MODEL, backend);
        }

        static Loaded of(java.nio.file.Path model, Supplier<Backend> backend) throws Exception {
            ModelFile file = ModelFile.open(model, null);
            Backend be = backend.get();
            return new Loaded(file, be, new Transformer(file.config(), Weights.upload(file, be), be));
        }

        int[] encode(String text) {
            return file.tokenizer().encode(text, true, false);
        }

        boolean eos(int id) {
            return file.tokenizer().isEndOfGeneration(id);
        }

        /** Greedy tokens of one sequence through the single-sequence path (what a lone Session runs). */
        int[] alone(int[] prompt, int max) {
            try (var st = transformer.newState(512, 512)) {
                float[] logits = new float[file.config().vocabSize()];
                backend.read(transformer.forward(st, prompt, false), logits);
                int[] out = new int[max];
                int n = 0;
                var sampler = new Sampler(SamplerOptions.greedy());
                for (int id : prompt) sampler.accept(id);
                while (n < max) {
                    int next = sampler.sample(logits, logits.length);
                    if (eos(next)) break;
                    out[n++] = next;
                    sampler.accept(next);
                    if (n == max) break;
                    backend.read(transformer.forward(st, new int[] {next}, false), logits);
                }
                return Arrays.copyOf(out, n);
            }
        }

        @Override
        public void close() {
            backend.close();
            file.close();
        }
    }

    static Scheduler.Config config(int blocks, int queue) {
        return new Scheduler.Config(blocks, 16, 64, 16, queue, 512);
    }

    @Test
    void eightBatchedSequencesEqualEachAloneCpu() throws Exception {
        try (var m = Loaded.of(() -> new CpuBackend(CpuBackend.Mode.FAST, 2))) {
            eightBatchedEqualAlone(m);
        }
    }

    @Test
    void eightBatchedSequencesEqualEachAloneOpenCl() throws Exception {
        ClTestSupport.requireOpenCl();
        try (var m = Loaded.of(() -> ClTestSupport.open(dev.infercl.backend.opencl.ClOptions.defaults()))) {
            eightBatchedEqualAlone(m);
        }
    }

    /**
     * A Q8_0 model (../shared/quant) on OpenCL with the default kernels: where the CPU has AMX a step of several
     * sequences runs its products on the tile unit and one sequence the int8 GEMVs, which must give the same tokens.
     */
    @Test
    void eightBatchedSequencesEqualEachAloneQ8_0OpenCl() throws Exception {
        ClTestSupport.requireOpenCl();
        var model = dev.infercl.SharedData.require("quant/llama2-q8_0.gguf");
        try (var m = Loaded.of(model, () -> ClTestSupport.open(dev.infercl.backend.opencl.ClOptions.defaults()))) {
            eightBatchedEqualAlone(m);
        }
    }

    /**
     * A Q4_K_M file (../shared/kquant: Q4_K with Q6_K in some tensors) on OpenCL with the default kernels: one
     * sequence takes the fused int8-activation GEMVs (Q, K, V and gate·up·SwiGLU in one launch each, accumulated
     * outputs in the kernel), a step of several the int8 GEMM and the element-wise ops, which must give the same tokens.
     */
    @Test
    void eightBatchedSequencesEqualEachAloneQ4_K_MOpenCl() throws Exception {
        ClTestSupport.requireOpenCl();
        var model = dev.infercl.SharedData.require("kquant/llama2k-q4_k_m.gguf");
        try (var m = Loaded.of(model, () -> ClTestSupport.open(dev.infercl.backend.opencl.ClOptions.defaults()))) {
            eightBatchedEqualAlone(m);
        }
    }

    private static void eightBatchedEqualAlone(Loaded m) throws Exception {
        int[][] want = new int[PROMPTS.length][];
        for (int i = 0; i < PROMPTS.length; i++) want[i] = m.alone(m.encode(PROMPTS[i]), TOKENS);
        try (var s = new Scheduler(m.transformer(), config(256, 8))) {
            // one thread: all eight submitted, then awaited in turn (the first await runs every step: deterministic batches)
            var seqs = new ArrayList<Scheduler.Sequence>();
            for (String p : PROMPTS) seqs.add(s.submit(m.encode(p), SamplerOptions.greedy(), TOKENS, m::eos, 512));
            for (int i = 0; i < PROMPTS.length; i++) {
                var got = new ArrayList<Integer>();
                Completion c = seqs.get(i).await(got::add);
                assertArrayEquals(want[i], c.tokens(), "sequence " + i + " batched differs from alone: " + PROMPTS[i]);
                assertEquals(got, Arrays.stream(c.tokens()).boxed().toList(), "streamed tokens");
            }
            assertEquals(PROMPTS.length, s.stats().mostSequencesInAStep(), "all eight ran in one step");
            assertEquals(0, s.stats().blocksInUse());
            // eight threads, each awaiting its own: whichever thread holds the lock steps for all
            try (ExecutorService pool = Executors.newFixedThreadPool(PROMPTS.length)) {
                List<Future<int[]>> fs = new ArrayList<>();
                for (String p : PROMPTS) fs.add(pool.submit(() -> s.submit(m.encode(p), SamplerOptions.greedy(), TOKENS, m::eos, 512).await(null).tokens()));
                for (int i = 0; i < PROMPTS.length; i++) assertArrayEquals(want[i], fs.get(i).get(), "thread " + i);
            }
            assertEquals(0, s.stats().blocksInUse());
            assertEquals(0, s.stats().running());
        }
    }

    /**
     * Sequences batched in one step each get the log-probabilities of their own logits row: four prompts (two greedy,
     * two sampled with penalties, which must not show in the numbers) run together, and each token's logprob and top 3
     * equal the log-softmax, computed here in double, of a teacher-forced pass over that sequence alone, within 1e-4
     * (the batched and the many-token forward sum in different orders).
     */
    @Test
    void batchedSequencesReportTheLogprobsOfTheirOwnRows() throws Exception {
        try (var m = Loaded.of(() -> new CpuBackend(CpuBackend.Mode.FAST, 2)); var s = new Scheduler(m.transformer(), config(512, 4))) {
            var sampled = new SamplerOptions(0.9f, 20, 0.95f, 0f, 1.3f, 64, 5, 0.5f, 0.5f);
            SamplerOptions[] opts = {SamplerOptions.greedy(), sampled, SamplerOptions.greedy(), sampled};
            List<Scheduler.Sequence> seqs = new ArrayList<>();
            for (int i = 0; i < 4; i++) seqs.add(s.submit(m.encode(PROMPTS[i]), 0, opts[i], 12, m::eos, 512, 3));
            List<List<TokenLogprobs>> got = new ArrayList<>();
            int[][] tokens = new int[4][];
            for (int i = 0; i < 4; i++) {
                var lps = new ArrayList<TokenLogprobs>();
                tokens[i] = seqs.get(i).awaitTokens((id, lp) -> {
                    assertEquals(id, lp.token());
                    lps.add(lp);
                }).tokens();
                got.add(lps);
            }
            assertEquals(4, s.stats().mostSequencesInAStep(), "the four ran in the same steps");
            int vocab = m.file().config().vocabSize();
            for (int i = 0; i < 4; i++) {
                int[] prompt = m.encode(PROMPTS[i]);
                int[] feed = Arrays.copyOf(prompt, prompt.length + tokens[i].length - 1);
                System.arraycopy(tokens[i], 0, feed, prompt.length, tokens[i].length - 1);
                float[] rows = new float[feed.length * vocab];
                try (var st = m.transformer().newState(512, 512)) {
                    m.backend().read(m.transformer().forward(st, feed, true), rows);
                }
                assertEquals(tokens[i].length, got.get(i).size());
                for (int j = 0; j < tokens[i].length; j++) {
                    int at = (prompt.length - 1 + j) * vocab;
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int v = 0; v < vocab; v++) max = Math.max(max, rows[at + v]);
                    for (int v = 0; v < vocab; v++) sum += Math.exp(rows[at + v] - max);
                    double logZ = max + Math.log(sum);
                    TokenLogprobs lp = got.get(i).get(j);
                    assertEquals(rows[at + tokens[i][j]] - logZ, lp.logprob(), 1e-4, "sequence " + i + " token " + j);
                    Integer[] order = new Integer[vocab];
                    for (int v = 0; v < vocab; v++) order[v] = v;
                    final int base = at;
                    Arrays.sort(order, (a, b) -> rows[base + a] != rows[base + b] ? Float.compare(rows[base + b], rows[base + a]) : Integer.compare(a, b));
                    assertEquals(3, lp.topIds().length);
                    for (int t = 0; t < 3; t++) {
                        assertEquals(order[t], lp.topIds()[t], "sequence " + i + " token " + j + " alternative " + t);
                        assertEquals(rows[at + order[t]] - logZ, lp.topLogprobs()[t], 1e-4);
                    }
                }
            }
        }
    }

    /** Log-probabilities are computed only for a request that asks: the others get none, not even for a token. */
    @Test
    void aSequenceThatAsksNoLogprobsGetsNone() throws Exception {
        try (var m = Loaded.of(() -> new CpuBackend(CpuBackend.Mode.FAST, 2)); var s = new Scheduler(m.transformer(), config(512, 4))) {
            var with = s.submit(m.encode(PROMPTS[0]), 0, SamplerOptions.greedy(), 4, null, 512, 0);
            var without = s.submit(m.encode(PROMPTS[1]), SamplerOptions.greedy(), 4, null, 512);
            List<TokenLogprobs> a = new ArrayList<>(), b = new ArrayList<>();
            with.awaitTokens((id, lp) -> a.add(lp));
            without.awaitTokens((id, lp) -> b.add(lp));
            assertEquals(4, a.size());
            for (TokenLogprobs lp : a) assertEquals(0, lp.topIds().length);
            assertEquals(Arrays.asList(null, null, null, null), b);
        }
    }

    @Test
    void seededSamplingBatchedEqualsAlone() throws Exception {
        try (var m = Loaded.of(() -> new CpuBackend(CpuBackend.Mode.FAST, 2)); var s = new Scheduler(m.transformer(), config(256, 8))) {
            var opts = SamplerOptions.defaults(42);
            int[] alone = s.submit(m.encode(PROMPTS[0]), opts, 40, m::eos, 512).await(null).tokens();
            var seqs = new ArrayList<Scheduler.Sequence>();
            for (String p : PROMPTS) seqs.add(s.submit(m.encode(p), p.equals(PROMPTS[0]) ? opts : SamplerOptions.defaults(7), 40, m::eos, 512));
            assertArrayEquals(alone, seqs.getFirst().await(null).tokens());
            for (var q : seqs) q.await(null);
        }
    }

    @Test
    void aRepeatedPrefixIsReusedNotRecomputed() throws Exception {
        try (var m = Loaded.of(() -> new CpuBackend(CpuBackend.Mode.FAST, 2)); var s = new Scheduler(m.transformer(), config(256, 8))) {
            int[] turn1 = m.encode(PROMPTS[2] + " " + PROMPTS[6]);
            assertTrue(turn1.length > 2 * Transformer.KV_BLOCK_SIZE, "a prompt of several blocks: " + turn1.length);
            Completion first = s.submit(turn1, SamplerOptions.greedy(), 20, null, 512).await(null);
            assertEquals(0, first.reusedTokens());
            // the next turn: the whole history (prompt and reply) and a new question
            int[] turn2 = concat(turn1, first.tokens(), m.encode("What did they do?"));
            Completion second = s.submit(turn2, SamplerOptions.greedy(), 20, m::eos, 512).await(null);
            int wholeBlocks = (turn1.length + first.tokens().length - 1) / Transformer.KV_BLOCK_SIZE * Transformer.KV_BLOCK_SIZE;
            assertEquals(wholeBlocks, second.reusedTokens(), "every whole block of turn 1 (prompt and reply) reused");
            assertEquals(wholeBlocks / Transformer.KV_BLOCK_SIZE, s.stats().prefixHitBlocks());
            assertEquals(wholeBlocks, s.stats().prefixReusedTokens());
            assertArrayEquals(m.alone(turn2, 20), second.tokens(), "a reply over reused blocks equals one computed from scratch");
            assertEquals(0, s.stats().blocksInUse());
            assertTrue(s.stats().blocksCachedIdle() > 0, "finished sequences' full blocks stay cached");
        }
    }

    @Test
    void aFullQueueRefusesAndBlocksComeBack() throws Exception {
        try (var m = Loaded.of(() -> new CpuBackend(CpuBackend.Mode.FAST, 2)); var s = new Scheduler(m.transformer(), config(8, 1))) {
            int[] p = m.encode(PROMPTS[0]);
            var a = s.submit(p, SamplerOptions.greedy(), 80, null, 512);        // 6 of the 8 blocks
            var b = s.submit(p, SamplerOptions.greedy(), 80, null, 512);        // waits
            assertEquals(1, s.stats().queued());
            var e = assertThrows(QueueFullException.class, () -> s.submit(p, SamplerOptions.greedy(), 80, null, 512));
            assertTrue(e.getMessage().contains("queue is full") && e.getMessage().contains("capacity 1"), e.getMessage());
            assertEquals(1, s.stats().refused());
            var big = assertThrows(ContextFullException.class, () -> s.submit(p, SamplerOptions.greedy(), 200, null, 512));
            assertTrue(big.getMessage().contains("the cache has 8"), big.getMessage());
            assertThrows(IllegalArgumentException.class, () -> s.submit(new int[] {-1}, SamplerOptions.greedy(), 5, null, 512));
            assertThrows(IllegalArgumentException.class, () -> s.submit(p, SamplerOptions.greedy(), 5, null, 513));
            assertArrayEquals(a.await(null).tokens(), b.await(null).tokens(), "the queued request ran once blocks came back");
            assertEquals(0, s.stats().blocksInUse());
            assertEquals(0, s.stats().queued());
        }
    }

    @Test
    void cancelledSequencesGiveTheirBlocksBack() throws Exception {
        try (var m = Loaded.of(() -> new CpuBackend(CpuBackend.Mode.FAST, 2)); var s = new Scheduler(m.transformer(), config(24, 4))) {
            var seqs = new ArrayList<Scheduler.Sequence>();
            for (int i = 0; i < 4; i++) seqs.add(s.submit(m.encode(PROMPTS[i]), SamplerOptions.greedy(), 100, null, 512));
            assertTrue(s.stats().queued() > 0, "some wait for blocks");
            var first = seqs.getFirst();
            int[] count = {0};
            Completion c = first.await(id -> {
                if (++count[0] == 5) first.cancel();
            });
            assertEquals(Completion.Stop.CANCELLED, c.stop());
            assertTrue(c.tokens().length >= 5 && c.tokens().length < 100, "stopped early: " + c.tokens().length);
            seqs.getLast().cancel();                                    // cancelled while it waits (or runs)
            assertEquals(Completion.Stop.CANCELLED, seqs.getLast().await(null).stop());
            seqs.get(1).cancel();
            seqs.get(1).await(null);
            assertEquals(Completion.Stop.TOKEN_BUDGET, seqs.get(2).await(null).stop());
            assertEquals(0, s.stats().blocksInUse(), "every block back");
            assertEquals(0, s.stats().running());
            assertEquals(0, s.stats().queued());
        }
    }

    /**
     * Twelve requests from six threads into a cache too small for them all: they share a three-block prefix (adopted
     * from the cache), some wait in the queue, two are cancelled mid-way, cached blocks are evicted for new ones. Each
     * finished request equals its greedy tokens alone; every block comes back.
     */
    @Test
    void sharedPrefixesQueueingCancellationAndEvictionUnderLoad() throws Exception {
        try (var m = Loaded.of(() -> new CpuBackend(CpuBackend.Mode.FAST, 2)); var s = new Scheduler(m.transformer(), config(24, 12))) {
            int[] common = m.encode(PROMPTS[2] + " " + PROMPTS[6] + " " + PROMPTS[4]);
            assertTrue(common.length >= 3 * Transformer.KV_BLOCK_SIZE, "a prefix of three blocks: " + common.length);
            int[][] prompts = new int[12][];
            int[][] want = new int[12][];
            for (int i = 0; i < prompts.length; i++) {
                int[] tail = m.file().tokenizer().encode(" " + PROMPTS[i % PROMPTS.length], false, false);
                prompts[i] = i % 3 == 2 ? m.encode(PROMPTS[i % PROMPTS.length]) : concat(common, tail);   // a third without the prefix
                want[i] = m.alone(prompts[i], 24);
            }
            try (ExecutorService pool = Executors.newFixedThreadPool(6)) {
                List<Future<Completion>> fs = new ArrayList<>();
                for (int i = 0; i < prompts.length; i++) {
                    int k = i;
                    fs.add(pool.submit(() -> {
                        var seq = s.submit(prompts[k], SamplerOptions.greedy(), 24, m::eos, 512);
                        int[] n = {0};
                        return seq.await(id -> {
                            if ((k == 4 || k == 9) && ++n[0] == 3) seq.cancel();
                        });
                    }));
                }
                for (int i = 0; i < prompts.length; i++) {
                    Completion c = fs.get(i).get();
                    if ((i == 4 || i == 9) && c.stop() == Completion.Stop.CANCELLED) {
                        assertArrayEquals(Arrays.copyOf(want[i], c.tokens().length), c.tokens(), "request " + i + " until cancelled");
                    } else {
                        // a listener sees its tokens on its own thread, after the step that made them: while it reads
                        // its third, another thread's steps may finish the sequence, and a cancel then comes too late
                        assertArrayEquals(want[i], c.tokens(), "request " + i);
                    }
                }
            }
            var st = s.stats();
            assertTrue(st.prefixHitBlocks() > 0, st.toString());
            assertEquals(0, st.blocksInUse(), st.toString());
            assertEquals(0, st.running());
            assertEquals(0, st.queued());
        }
    }

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) n += p.length;
        int[] r = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, r, at, p.length);
            at += p.length;
        }
        return r;
    }
}
