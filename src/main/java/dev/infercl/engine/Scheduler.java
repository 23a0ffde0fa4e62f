package dev.infercl.engine;

import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockPool;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.ContextFullException;
import dev.infercl.backend.KvCache;
import dev.infercl.model.Transformer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;

/**
 * Continuous batching: many sequences share one model and one paged KV cache, and each step is one batched forward
 * pass over the decode token of every running sequence plus chunks of prompts still being prefilled (chunked
 * prefill: a long prompt takes at most {@code prefillChunk} rows of a step, so it does not stall the others).
 * Sequences join and leave between steps.
 *
 * <p>Admission. A request reserves the blocks its whole generation can need (prompt + maxTokens, at most its
 * context) when it is admitted, so a running sequence never runs out of blocks and its tokens never depend on what
 * else runs. A request whose blocks are not free waits in a FIFO queue of at most {@code queueCapacity} requests;
 * beyond it {@link #submit} throws {@link QueueFullException}. A request that could not fit even in an empty cache is
 * refused with {@link ContextFullException}. Blocks go back when a sequence ends, is cancelled or fails.
 *
 * <p>Prefix caching. Every full block a sequence computes is recorded by the tokens before and in it
 * ({@link PrefixCache}); a new request whose prompt starts with the same whole blocks adopts them (reference-counted,
 * never written again) and computes only the rest — a chat's next turn prefills only its new tokens. Blocks no
 * sequence holds stay cached until the pool needs them, least recently released first.
 *
 * <p>Threads. There is no engine thread: whichever thread waits for its request ({@link Sequence#await}) runs the
 * next step, for every running sequence, holding the scheduler's lock; tokens reach each request's listener on the
 * thread that awaits it, outside the lock. A lone request therefore computes on its caller's thread with no hand-off.
 * Each sequence samples with its own {@link Sampler} (its own seeded RNG), so its tokens are those it produces alone.
 */
public final class Scheduler implements AutoCloseable {

    /**
     * @param kvBlocks       blocks of {@link Transformer#KV_BLOCK_SIZE} positions in the shared cache
     * @param maxSequences   sequences running at once (the logit rows of a step)
     * @param maxRows        tokens per forward call (decode rows plus prefill chunks)
     * @param prefillChunk   prompt tokens of one sequence per step
     * @param queueCapacity  requests that may wait for blocks; more are refused
     * @param contextLength  the longest context a request may ask for
     */
    public record Config(int kvBlocks, int maxSequences, int maxRows, int prefillChunk, int queueCapacity, int contextLength) {
        public Config {
            if (kvBlocks < 1 || maxSequences < 1 || maxRows < maxSequences || prefillChunk < 1 || queueCapacity < 0 || contextLength < 1) {
                throw new IllegalArgumentException("scheduler: kvBlocks " + kvBlocks + ", maxSequences " + maxSequences + ", maxRows " + maxRows
                        + " (≥ maxSequences), prefillChunk " + prefillChunk + " must be ≥ 1, queueCapacity " + queueCapacity + " ≥ 0, contextLength "
                        + contextLength + " ≥ 1");
            }
        }

        /** Room for {@code sequences} full contexts of {@code contextLength}, 512-token steps, a queue of 64. */
        public static Config of(int sequences, int contextLength) {
            int blocks = Math.multiplyExact(sequences, Math.ceilDiv(contextLength, Transformer.KV_BLOCK_SIZE));
            return new Config(blocks, sequences, Math.max(512, sequences), 256, 64, contextLength);
        }
    }

    /** Counters a server publishes; a snapshot. */
    public record Stats(int blocksTotal, int blocksInUse, int blocksCachedIdle, int running, int queued, long prefixHitBlocks,
                        long prefixReusedTokens, long steps, long rowsComputed, int mostSequencesInAStep, long refused) {}

    private final Transformer transformer;
    private final Backend backend;
    private final Config config;
    private final KvCache cache;
    private final BlockPool pool;
    private final Transformer.BatchState state;
    private final PrefixCache prefix;
    private final int vocab, blockSize = Transformer.KV_BLOCK_SIZE;
    private final float[] logits;                                   // (maxSequences, vocab): one step's logit rows
    private final float[] row;                                      // one row, for the sampler (which modifies it)
    private final ReentrantLock lock;
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>(); // guarded by lock, as everything below
    private final List<Sequence> running = new ArrayList<>();       // in admission order
    private int reserved;                                           // blocks reserved by running sequences
    private long hits, reusedTokens, steps, rows, refused;
    private int most;
    private boolean closed;

    /** Allocates the shared KV cache and the batch's activations on the transformer's backend. */
    public Scheduler(Transformer transformer, Config config) {
        this(transformer, config, new ReentrantLock());
    }

    /**
     * As {@link #Scheduler(Transformer, Config)}, stepping under {@code lock}: the lock of whatever else uses the
     * backend (a model's), so that one thread at a time computes.
     */
    public Scheduler(Transformer transformer, Config config, ReentrantLock lock) {
        this.lock = lock;
        this.transformer = transformer;
        this.backend = transformer.backend();
        this.config = config;
        this.vocab = transformer.config().vocabSize();
        this.cache = transformer.newSharedCache(config.kvBlocks());
        try {
            this.state = transformer.newBatchState(config.contextLength(), config.maxRows(), config.maxSequences());
        } catch (RuntimeException | Error e) {
            cache.close();
            throw e;
        }
        this.pool = cache.pool();
        this.prefix = new PrefixCache(pool);
        this.logits = new float[config.maxSequences() * vocab];
        this.row = new float[vocab];
    }

    public Config config() {
        return config;
    }

    /**
     * Queues a generation: the prompt is fed (the whole blocks of it that the prefix cache holds are adopted), then
     * tokens are sampled with {@code sampling} until {@code stop} accepts one (not emitted), {@code maxTokens} were
     * emitted, or {@code contextLength} positions are used. Run it with {@link Sequence#await}.
     *
     * @throws QueueFullException   when its blocks are not free and the queue is full
     * @throws ContextFullException when it could not fit even in the empty cache
     */
    public Sequence submit(int[] prompt, SamplerOptions sampling, int maxTokens, IntPredicate stop, int contextLength) {
        return submit(prompt, 0, sampling, maxTokens, stop, contextLength);
    }

    /**
     * As {@link #submit(int[], SamplerOptions, int, IntPredicate, int)}, the sampler's repetition history starting
     * at prompt token {@code samplerFrom} (a conversation's earlier turns were sampled by an earlier request).
     */
    public Sequence submit(int[] prompt, int samplerFrom, SamplerOptions sampling, int maxTokens, IntPredicate stop, int contextLength) {
        return submit(prompt, samplerFrom, sampling, maxTokens, stop, contextLength, -1);
    }

    /**
     * As {@link #submit(int[], int, SamplerOptions, int, IntPredicate, int)}; with {@code logprobs} ≥ 0 each emitted
     * token comes with its {@link TokenLogprobs} (that many alternatives), from its own row of the step that sampled it.
     */
    public Sequence submit(int[] prompt, int samplerFrom, SamplerOptions sampling, int maxTokens, IntPredicate stop, int contextLength, int logprobs) {
        if (logprobs < -1) throw new IllegalArgumentException("logprobs must be −1 (none) or ≥ 0, got " + logprobs);
        if (samplerFrom < 0 || samplerFrom > prompt.length) throw new IllegalArgumentException("sampler history from " + samplerFrom + " of " + prompt.length + " tokens");
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty");
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) throw new IllegalArgumentException("prompt token " + i + " is " + prompt[i] + ", not in 0.." + (vocab - 1));
        }
        if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be ≥ 1, got " + maxTokens);
        if (contextLength < 1 || contextLength > config.contextLength()) {
            throw new IllegalArgumentException("a context of " + contextLength + " tokens; this scheduler serves 1.." + config.contextLength());
        }
        var seq = new Sequence(prompt.clone(), samplerFrom, sampling, maxTokens, stop, contextLength, logprobs);
        if (seq.need > config.kvBlocks()) {
            throw new ContextFullException("a request of " + prompt.length + " prompt tokens and up to " + maxTokens + " more needs " + seq.need
                    + " KV blocks; the cache has " + config.kvBlocks());
        }
        lock.lock();
        try {
            requireOpen();
            if (prompt.length > contextLength) {
                seq.finish(Completion.Stop.CONTEXT_FULL);
            } else if (waiting.isEmpty() && fits(seq)) {
                admit(seq);
            } else if (waiting.size() >= config.queueCapacity()) {
                refused++;
                throw new QueueFullException("the request queue is full: " + waiting.size() + " requests wait for KV blocks (capacity "
                        + config.queueCapacity() + "); " + reserved + " of " + config.kvBlocks() + " blocks are reserved by " + running.size()
                        + " running sequences and this request needs " + seq.need, config.queueCapacity());
            } else {
                waiting.add(seq);
            }
            return seq;
        } finally {
            lock.unlock();
        }
    }

    public Stats stats() {
        lock.lock();
        try {
            return new Stats(config.kvBlocks(), pool.heldBlocks(), pool.cachedIdleBlocks(), running.size(), waiting.size(), hits, reusedTokens,
                    steps, rows, most, refused);
        } finally {
            lock.unlock();
        }
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("the scheduler is closed");
    }

    private boolean fits(Sequence s) {
        return running.size() < config.maxSequences() && reserved + s.need <= config.kvBlocks();
    }

    /** Starts a sequence: its block reservation, the prompt's cached whole blocks, its sampler's history. */
    private void admit(Sequence s) {
        reserved += s.need;
        running.add(s);
        s.table = new BlockTable(pool, blockSize);
        long h = PrefixCache.ROOT;
        // whole blocks only, and at least one prompt token left to compute (its logits give the first token)
        for (int b = 0; (b + 1) * blockSize < s.prompt.length; b++) {
            long next = PrefixCache.chain(h, s.prompt, b * blockSize, (b + 1) * blockSize);
            int block = prefix.lookup(next, h, s.prompt, b * blockSize, (b + 1) * blockSize);
            if (block < 0) break;
            s.table.adopt(block);
            s.chain.add(next);
            h = next;
            hits++;
            reusedTokens += blockSize;
        }
        s.reused = s.table.length();
        for (int i = s.samplerFrom; i < s.prompt.length; i++) s.sampler.accept(s.prompt[i]);
        s.status = Status.PREFILL;
    }

    private void admitWaiting() {
        while (!waiting.isEmpty() && fits(waiting.peek())) admit(waiting.poll());
    }

    private enum Status { WAITING, PREFILL, DECODE, DONE }

    /**
     * One batched step for every running sequence; the caller holds the lock. Returns false when there was nothing to
     * compute.
     */
    private boolean step() {
        for (Sequence s : List.copyOf(running)) if (s.cancelled) s.finish(Completion.Stop.CANCELLED);
        waiting.removeIf(s -> {
            if (s.cancelled) s.finish(Completion.Stop.CANCELLED);
            return s.cancelled;
        });
        admitWaiting();
        // rows: decode tokens first, then the last row of each prefill chunk that completes its prompt (both want
        // logits), then the other prefill rows
        List<Sequence> in = new ArrayList<>();
        int[] take = new int[running.size()];
        int decode = 0, finishing = 0, budget = config.maxRows();
        for (Sequence s : running) if (s.status == Status.DECODE) decode++;
        budget -= decode;
        for (int i = 0; i < running.size(); i++) {
            Sequence s = running.get(i);
            if (s.status == Status.DECODE) {
                take[i] = 1;
                in.add(s);
            } else if (s.status == Status.PREFILL && budget > 0) {
                int done = s.table.length();
                take[i] = Math.min(Math.min(config.prefillChunk(), s.prompt.length - done), budget);
                budget -= take[i];
                if (done + take[i] == s.prompt.length) finishing++;
                in.add(s);
            }
        }
        if (in.isEmpty()) return false;
        int n = config.maxRows() - budget, logitRows = decode + finishing;
        int[] tokens = new int[n], positions = new int[n], seqs = new int[n];
        BlockTable[] tables = new BlockTable[in.size()];
        Sequence[] logitSeq = new Sequence[logitRows];
        int head = 0, tail = logitRows, si = 0;
        for (int i = 0; i < running.size(); i++) {
            Sequence s = running.get(i);
            if (take[i] == 0) continue;
            tables[si] = s.table;
            int start = s.table.length();
            s.table.reserve(start + take[i]);
            if (s.status == Status.DECODE) {
                logitSeq[head] = s;
                tokens[head] = s.next;
                positions[head] = start;
                seqs[head++] = si;
            } else {
                boolean last = start + take[i] == s.prompt.length;
                for (int t = 0; t < take[i]; t++) {
                    int r = last && t == take[i] - 1 ? head++ : tail++;
                    if (last && t == take[i] - 1) logitSeq[r] = s;
                    tokens[r] = s.prompt[start + t];
                    positions[r] = start + t;
                    seqs[r] = si;
                }
            }
            s.step = take[i];
            si++;
        }
        try {
            var t = transformer.forward(state, cache, tokens, new Batch(positions, seqs, tables), Math.max(logitRows, 1));
            if (logitRows > 0) backend.read(t, logits);
        } catch (RuntimeException | Error e) {
            for (Sequence s : in) s.fail(e);
            return true;
        }
        steps++;
        rows += n;
        most = Math.max(most, in.size());
        for (Sequence s : in) {
            s.advance(s.table.length() + s.step);
            if (s.status == Status.PREFILL && s.table.length() == s.prompt.length) s.status = Status.DECODE;   // samples below
        }
        // the samplers modify the row they get, so each gets a copy: logits keeps the model's rows, from which a
        // sequence that asked for them takes its token's log-probabilities (row j is logitSeq[j]'s)
        int[] picks = new int[logitRows];
        boolean drawing = false;
        for (int j = 0; j < logitRows; j++) drawing |= !logitSeq[j].greedy;
        if (drawing && logitRows > 1) {
            // a draw sorts the vocabulary: the sequences' samplers (each its own) run on the cores the step left idle
            java.util.stream.IntStream.range(0, logitRows).parallel().forEach(j ->
                    picks[j] = logitSeq[j].sampler.sample(Arrays.copyOfRange(logits, j * vocab, (j + 1) * vocab), vocab));
        } else {
            for (int j = 0; j < logitRows; j++) {
                System.arraycopy(logits, j * vocab, row, 0, vocab);
                picks[j] = logitSeq[j].sampler.sample(row, vocab);
            }
        }
        for (int j = 0; j < logitRows; j++) logitSeq[j].sampled(picks[j], j);
        admitWaiting();
        return true;
    }

    /** Ends every request with {@link IllegalStateException} and frees the cache and the batch's buffers. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            var err = new IllegalStateException("the scheduler is closed");
            for (Sequence s : List.copyOf(running)) s.fail(err);
            for (Sequence s : waiting) s.fail(err);
            waiting.clear();
            state.close();
            cache.close();
        } finally {
            lock.unlock();
        }
    }

    /** Receives a sequence's emitted tokens, with their log-probabilities when the request asked for them (else null). */
    @FunctionalInterface
    public interface TokenSink {
        void accept(int token, TokenLogprobs logprobs);
    }

    /** A token emitted by a step, waiting for the thread that awaits its sequence. */
    private record Emitted(int token, TokenLogprobs logprobs) {}

    /** One request: its sequence's blocks, sampler and tokens. Await it on the thread that consumes its tokens. */
    public final class Sequence {
        private final int[] prompt;
        private final Sampler sampler;
        private final int maxTokens, contextLength, need, samplerFrom, logprobs;
        private final IntPredicate stop;
        private final boolean greedy;
        private final ArrayDeque<Emitted> events = new ArrayDeque<>();   // emitted, not yet delivered (guarded by lock)
        private final List<Long> chain = new ArrayList<>();              // hash of each full block's prefix
        private int[] tokens;                                            // prompt, then generated tokens
        private int generated, reused, step, next;
        private Status status = Status.WAITING;
        private BlockTable table;
        private Completion result;
        private Throwable error;
        private volatile boolean cancelled;

        private Sequence(int[] prompt, int samplerFrom, SamplerOptions sampling, int maxTokens, IntPredicate stop, int contextLength, int logprobs) {
            this.prompt = prompt;
            this.logprobs = logprobs;
            this.samplerFrom = samplerFrom;
            this.sampler = new Sampler(sampling);
            this.greedy = sampling.temperature() <= 0;
            this.maxTokens = maxTokens;
            this.stop = stop;
            this.contextLength = contextLength;
            // positions it can fill: the prompt and every emitted token but the last (never fed)
            this.need = Math.ceilDiv((int) Math.min(contextLength, (long) prompt.length + maxTokens - 1), blockSize);
            this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(maxTokens, 64));
        }

        /** Stops the request before its next step (any thread, no lock); {@link #await} then returns CANCELLED. */
        public void cancel() {
            cancelled = true;
        }

        /**
         * Runs steps (for every running sequence) until this request is done, handing each emitted token to
         * {@code onToken} (may be null) on this thread; returns what it produced. Rethrows what failed its step.
         */
        public Completion await(IntConsumer onToken) {
            return awaitTokens(onToken == null ? null : (id, lp) -> onToken.accept(id));
        }

        /** As {@link #await(IntConsumer)}, each token handed on with its log-probabilities (null when not asked for). */
        public Completion awaitTokens(TokenSink onToken) {
            var out = new Emitted[16];
            while (true) {
                int count = 0;
                boolean done;
                lock.lock();
                try {
                    if (events.isEmpty() && status != Status.DONE) {
                        requireOpen();
                        if (!step() && events.isEmpty() && status != Status.DONE) {
                            throw new IllegalStateException("the scheduler has nothing to compute but a request is not done");
                        }
                    }
                    if (events.size() > out.length) out = new Emitted[Math.max(events.size(), 2 * out.length)];
                    while (!events.isEmpty()) out[count++] = events.poll();
                    done = status == Status.DONE;
                } finally {
                    lock.unlock();
                }
                try {
                    if (onToken != null) for (int i = 0; i < count; i++) onToken.accept(out[i].token(), out[i].logprobs());
                } catch (RuntimeException | Error e) {
                    cancel();   // nobody will consume the rest: free its blocks at the next step
                    throw e;
                }
                if (done) {
                    if (error instanceof RuntimeException e) throw e;
                    if (error instanceof Error e) throw e;
                    return result;
                }
            }
        }

        /** Positions of this sequence now in the cache; records its newly full blocks in the prefix cache. */
        private void advance(int length) {
            table.setLength(length);
            long parent = chain.isEmpty() ? PrefixCache.ROOT : chain.getLast();
            for (int b = chain.size(); (b + 1) * blockSize <= length; b++) {
                long h = PrefixCache.chain(parent, tokens, b * blockSize, (b + 1) * blockSize);
                prefix.put(h, parent, tokens, b * blockSize, (b + 1) * blockSize, table.block(b));
                chain.add(h);
                parent = h;
            }
        }

        /**
         * The token sampled from row {@code row} of the step's logits, after this sequence's last row: emitted and fed
         * next, or the end. Its log-probabilities come from that row, which the sampler left as the model computed it.
         */
        private void sampled(int id, int row) {
            if (stop != null && stop.test(id)) {
                finish(Completion.Stop.END_OF_GENERATION);
                return;
            }
            int at = prompt.length + generated;
            if (at == tokens.length) tokens = Arrays.copyOf(tokens, 2 * tokens.length);
            tokens[at] = id;
            generated++;
            events.add(new Emitted(id, logprobs < 0 ? null : TokenLogprobs.of(logits, row * vocab, vocab, id, logprobs)));
            sampler.accept(id);
            if (generated == maxTokens) finish(Completion.Stop.TOKEN_BUDGET);
            else if (table.length() >= contextLength) finish(Completion.Stop.CONTEXT_FULL);
            else next = id;
        }

        private void finish(Completion.Stop why) {
            if (status == Status.DONE) return;
            result = new Completion(Arrays.copyOfRange(tokens, prompt.length, prompt.length + generated), why, prompt.length, reused);
            release();
        }

        private void fail(Throwable e) {
            if (status == Status.DONE) return;
            error = e;
            release();
        }

        private void release() {
            if (table != null) {
                table.release();
                reserved -= need;
                running.remove(this);
            }
            status = Status.DONE;
        }
    }
}
