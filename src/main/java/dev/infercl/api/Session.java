package dev.infercl.api;

import dev.infercl.backend.ConfinementGuard;
import dev.infercl.backend.ContextFullException;
import dev.infercl.backend.Tensor;
import dev.infercl.engine.Completion;
import dev.infercl.engine.Sampler;
import dev.infercl.engine.SamplerOptions;
import dev.infercl.engine.Scheduler;
import dev.infercl.engine.TokenLogprobs;
import dev.infercl.model.LoraAdapter;
import dev.infercl.model.LoraSet;
import dev.infercl.model.Transformer;
import dev.infercl.tokenizer.StreamDecoder;
import dev.infercl.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * One sequence: a KV cache and the tokens in it. {@link #generate} appends a prompt and a reply; the next
 * call continues after them (the cache is kept).
 *
 * <h2>Threads</h2>
 *
 * Sessions of one {@link Model} may generate on different threads at once: each forward step holds the model's lock
 * (see {@link Model}), so they take turns token by token and each produces exactly what it would alone. One session
 * is one sequence and is used by one thread at a time: a call of {@link #generate}, {@link #logits},
 * {@link #prefillOnly}, {@link #rewind}, {@link #reset} or {@link #tokens} while another thread is inside one of them
 * throws {@link IllegalStateException} naming both threads (two generations interleaved in one sequence would mean
 * nothing). Open a session per thread, or hand a session from thread to thread between calls. Two calls any thread
 * may make at any time:
 * <ul>
 *   <li>{@link #cancel()} only sets a flag (no lock): the running {@link #generate} stops after its current token.</li>
 *   <li>{@link #close()} waits for the step in progress, then frees the KV cache; a {@link #generate} running on
 *       another thread fails at its next step with {@link IllegalStateException} ("this session is closed").</li>
 * </ul>
 * When the model is closed, the next step of every one of its sessions throws {@link IllegalStateException}.
 *
 * <p>In a model loaded with parallel &gt; 1 (see {@link Model}) a session holds no KV cache of its own: it keeps its
 * conversation as tokens, and each {@link #generate} runs through the model's continuous-batching scheduler,
 * submitting the whole conversation (the blocks computed before are reused from the prefix cache). {@link #cancel()}
 * and {@link #close()} then stop the running generation at once and free its blocks.
 */
public final class Session implements AutoCloseable {
    /**
     * Tokens per forward call: a longer prompt is prefilled in chunks of this many. On POCL with AMX, chunks of 128,
     * 256 and 512 prefill a 2048-token prompt equally fast within the noise (docs/PERFORMANCE.md), so the largest
     * keeps the fewest launches. Larger chunks are not supported: with 1024 rows the one-work-item attention kernel
     * (attention_kv_f32, POCL choosing its work-group) overran a POCL worker thread's stack.
     */
    static final int MAX_BATCH = 512;

    private final Model model;
    private final Transformer.State state;   // null when the model batches its sessions (then held counts the tokens)
    private final int contextLength;
    private int held;                        // tokens of the conversation "in the cache" when batched
    private volatile Scheduler.Sequence running;   // the batched generation in progress
    private final float[] logits;
    private int pending = -1;              // last sampled token, not yet fed to the model
    private int[] history = new int[64];   // the tokens in the KV cache, in order
    private volatile boolean cancelled;
    private boolean closed;                // guarded by the model's lock
    private Draft draft;                   // the draft the drafter was opened for
    private volatile Draft.Drafter drafter;   // kept between generations: a draft model's cache follows the conversation
    private final ConfinementGuard user = new ConfinementGuard("this session",
            "a session is one sequence, used by one thread at a time (open a session per thread)");

    Session(Model model, Transformer.State state, int contextLength) {
        this.model = model;
        this.state = state;
        this.contextLength = contextLength;
        this.logits = new float[model.config().vocabSize()];
    }

    /** Tokens held in the KV cache. */
    public int length() {
        return state != null ? state.length() : held;
    }

    public int contextLength() {
        return contextLength;
    }

    /** Forgets the whole sequence. */
    public void reset() {
        rewind(0);
    }

    /**
     * The conversation so far as token ids: those in the KV cache, then the last generated token when it has not
     * been fed yet (it is fed at the start of the next {@link #generate}).
     */
    public int[] tokens() {
        user.enter();
        try {
            int n = length();
            int[] r = Arrays.copyOf(history, n + (pending >= 0 ? 1 : 0));
            if (pending >= 0) r[n] = pending;
            return r;
        } finally {
            user.exit();
        }
    }

    /** Keeps the first {@code n} tokens of {@link #tokens()} and forgets the rest (their KV entries are released). */
    public void rewind(int n) {
        user.enter();
        try {
            int cached = length();
            if (n < 0 || n > cached + (pending >= 0 ? 1 : 0)) throw new IllegalArgumentException("cannot rewind to " + n + " tokens of " + tokens().length);
            if (n <= cached) {
                locked(() -> {   // under the lock so that it cannot race close() freeing the cache's blocks
                    if (state != null) state.truncate(n);
                    else held = n;
                    return null;
                });
                pending = -1;
            }
        } finally {
            user.exit();
        }
    }

    /**
     * Runs this session with these LoRA adapters (loaded by {@link Model#loadAdapter}), each at its user scale, from
     * the next forward step on; an empty list removes them. The positions already in the KV cache keep what they were
     * computed with: {@link #reset()} first to run a conversation wholly under the new adapters.
     *
     * @throws UnsupportedOperationException in a model loaded with parallel &gt; 1 (its sessions share batched
     *         forward passes) or for an encoder–decoder model
     * @throws IllegalArgumentException for an adapter loaded by another model
     */
    public void setAdapters(java.util.List<LoraAdapter.Scaled> adapters) {
        user.enter();
        try {
            if (state == null) {
                throw new UnsupportedOperationException("LoRA adapters per session need a model loaded with parallel ≤ 1 (its sessions do not share forward passes)");
            }
            locked(() -> {
                state.setLora(LoraSet.of(adapters, model.transformer().weights()));
                return null;
            });
        } finally {
            user.exit();
        }
    }

    /** {@link #setAdapters(java.util.List)} of the arguments. */
    public void setAdapters(LoraAdapter.Scaled... adapters) {
        setAdapters(java.util.List.of(adapters));
    }

    /** The adapters this session runs with and their scales (empty: none). */
    public java.util.List<LoraAdapter.Scaled> adapters() {
        var set = state == null ? null : state.lora();
        return set == null ? java.util.List.of() : set.adapters();
    }

    /** Stops a running {@link #generate} after its current token; callable from any thread, takes no lock. */
    public void cancel() {
        cancelled = true;
        var r = running;
        if (r != null) r.cancel();
    }

    /** Tokenizes {@code prompt} and generates, streaming each token to {@code listener} (may be null). */
    public Generation generate(String prompt, GenerateOptions options, TokenListener listener) {
        user.enter();
        try {
            Tokenizer tok = model.tokenizer();
            boolean bos = options.addBos() != null ? options.addBos()
                    : tok.addBosByDefault() && (model.isEncoderDecoder() || (length() == 0 && pending < 0)); // T5: every prompt is a new source
            return generate(tok.encode(prompt, bos, false), options, listener);
        } finally {
            user.exit();
        }
    }

    /** Generates after the prompt ids. */
    public Generation generate(int[] prompt, GenerateOptions options, TokenListener listener) {
        user.enter();
        try {
            return generateEntered(prompt, options, listener);
        } finally {
            user.exit();
        }
    }

    private Generation generateEntered(int[] prompt, GenerateOptions options, TokenListener listener) {
        if (options.speculation() != null && (state == null || model.isEncoderDecoder())) {
            throw new UnsupportedOperationException(state == null
                    ? "speculative decoding needs a session with a KV cache of its own: load the model with parallel ≤ 1"
                    : "speculative decoding of an encoder–decoder model is not supported");
        }
        if (state == null) return generateBatched(prompt, options, listener);
        cancelled = false;
        Tokenizer tok = model.tokenizer();
        Sampler sampler = new Sampler(options.sampler());
        // opened first: a draft that cannot serve this model is refused before the pending token is taken
        Draft.Drafter drafter = options.speculation() != null && options.maxTokens() > 0 ? drafter(options.speculation().draft(), options.sampler()) : null;
        int[] feed = prompt;
        if (model.isEncoderDecoder()) {
            // encoder–decoder: the prompt is the encoder's source; the decoder starts afresh from its start token
            encodeEntered(prompt);
            feed = new int[] {model.transformer().decoderStart()};
        } else if (pending >= 0) {   // the previous reply's last token goes in first
            feed = new int[prompt.length + 1];
            feed[0] = pending;
            System.arraycopy(prompt, 0, feed, 1, prompt.length);
            pending = -1;
        }
        for (int id : feed) sampler.accept(id);
        if (feed.length == 0) throw new IllegalArgumentException("the prompt is empty and the session holds no pending token");
        if (drafter != null) return generateSpeculative(prompt, feed, sampler, drafter, options, listener);

        long t0 = System.nanoTime();
        int count = 0;
        Generation.StopReason stop = Generation.StopReason.TOKEN_BUDGET;
        var text = new StringBuilder();
        StreamDecoder decoder = new StreamDecoder(tok, false);   // generated text follows the prompt: keep its leading space
        try {
            prefill(feed);
        } catch (ContextFullException e) {
            return new Generation(prompt, new int[0], "", Generation.StopReason.CONTEXT_FULL, System.nanoTime() - t0, 0);
        }
        long t1 = System.nanoTime();
        // at most one token per free position, plus the last one sampled: a budget of 2^31 tokens costs nothing
        int[] out = new int[(int) Math.max(0, Math.min(options.maxTokens(), contextLength() - (long) length() + 1))];
        // the sampler modifies the row it samples: log-probabilities, when asked for, come from a copy of the model's
        float[] raw = options.logprobs() >= 0 ? new float[logits.length] : null;
        while (count < options.maxTokens()) {
            if (cancelled) {
                stop = Generation.StopReason.CANCELLED;
                break;
            }
            if (raw != null) System.arraycopy(logits, 0, raw, 0, raw.length);
            int next = sampler.sample(logits, logits.length);
            if (options.stopAtEos() && (tok.isEndOfGeneration(next) || options.isStopToken(next))) {
                stop = Generation.StopReason.END_OF_GENERATION;
                break;
            }
            out[count++] = next;
            sampler.accept(next);
            String piece = decoder.accept(next);
            text.append(piece);
            if (listener != null) listener.onToken(next, piece, raw == null ? null : TokenLogprobs.of(raw, 0, raw.length, next, options.logprobs()));
            if (count == options.maxTokens()) {
                pending = next;
                break;
            }
            if (length() >= contextLength()) {
                pending = next;
                stop = Generation.StopReason.CONTEXT_FULL;
                break;
            }
            step(next);
        }
        String rest = decoder.flush();
        if (!rest.isEmpty()) {
            text.append(rest);
            if (listener != null) listener.onToken(-1, rest, null);
        }
        return new Generation(prompt, Arrays.copyOf(out, count), text.toString(), stop, t1 - t0, System.nanoTime() - t1);
    }

    /**
     * {@link #generateEntered} with speculative decoding. The last token of the feed is held back from the prefill:
     * every target step feeds the last token and up to k drafted ones, so even the first reply token is verified
     * with drafts. Row j of the step's logits gives the target's distribution after drafted token j (the sampler's
     * own, penalties included), which verifies drafted token j + 1; the first rejection ends the step with the
     * replacement token, a step that accepts everything adds the last row's token. The cache then keeps the fed
     * tokens up to the last accepted one: later steps overwrite the positions past it. The same stop rules as
     * {@link #generateEntered}, checked per emitted token, leave the session in the same state.
     */
    private Generation generateSpeculative(int[] prompt, int[] feed, Sampler sampler, Draft.Drafter drafter, GenerateOptions options, TokenListener listener) {
        Tokenizer tok = model.tokenizer();
        Speculation spec = options.speculation();
        int vocab = logits.length;
        long t0 = System.nanoTime();
        if (length() + (long) feed.length > contextLength()) {
            return new Generation(prompt, new int[0], "", Generation.StopReason.CONTEXT_FULL, System.nanoTime() - t0, 0, new Speculation.Stats(0, 0, 0, 0));
        }
        prefill(Arrays.copyOf(feed, feed.length - 1));
        long t1 = System.nanoTime();
        int last = feed[feed.length - 1];   // fed by the next step
        int[] out = new int[(int) Math.max(0, Math.min(options.maxTokens(), contextLength() - (long) length()))];
        int count = 0;
        long drafted = 0, acceptedTotal = 0, forwards = 0;
        Generation.StopReason stop = Generation.StopReason.TOKEN_BUDGET;
        var text = new StringBuilder();
        StreamDecoder decoder = new StreamDecoder(tok, false);
        float[] rows = new float[(spec.k() + 1) * vocab], row = new float[vocab];
        boolean done = false;
        while (!done) {
            if (cancelled) {
                pending = last;
                stop = Generation.StopReason.CANCELLED;
                break;
            }
            int before = length();
            int k = (int) Math.min(spec.k(), Math.min(contextLength() - before - 1L, options.maxTokens() - count - 1L));
            Draft.Proposal proposal = Draft.Proposal.NONE;
            if (k > 0) {
                int[] context = Arrays.copyOf(history, before + 1);
                context[before] = last;
                proposal = drafter.propose(context, before + 1, k);
            }
            int d = Math.min(k, proposal.tokens().length);
            int[] step = new int[d + 1];
            step[0] = last;
            for (int i = 0; i < d; i++) {
                int t = proposal.tokens()[i];
                if (t < 0 || t >= vocab) throw new IllegalStateException("the " + spec.draft().name() + " draft proposed token " + t + ", outside the vocabulary of " + vocab);
                step[i + 1] = t;
            }
            locked(() -> {
                model.transformer().backend().read(forward(step, true), rows);
                return null;
            });
            forwards++;
            drafted += d;
            // tokens emitted before row j's are accepted drafts, fed at before + 1 .. before + j: the cache keeps them
            // and the last token, before + 1 + j positions, when row j ends the step
            int j = 0;
            for (; j <= d; j++) {
                System.arraycopy(rows, j * vocab, row, 0, vocab);
                Sampler.Distribution p = sampler.distribution(row, vocab);
                int next;
                boolean accepted = false;
                if (j < d) {
                    var v = sampler.verify(p, step[j + 1], proposal.distributions() == null ? null : proposal.distributions()[j]);
                    accepted = v.accepted();
                    next = v.token();
                    if (accepted) acceptedTotal++;
                } else {
                    next = sampler.draw(p);
                }
                if (options.stopAtEos() && (tok.isEndOfGeneration(next) || options.isStopToken(next))) {
                    stop = Generation.StopReason.END_OF_GENERATION;
                    done = true;
                    break;
                }
                out[count++] = next;
                sampler.accept(next);
                String piece = decoder.accept(next);
                text.append(piece);
                // row j is the target's own logits at this position (the sampler worked on a copy), whether the token
                // is an accepted draft, a replacement or the bonus token
                TokenLogprobs lp = options.logprobs() < 0 ? null : TokenLogprobs.of(rows, j * vocab, vocab, next, options.logprobs());
                if (listener != null) listener.onToken(next, piece, lp);
                last = next;
                if (count == options.maxTokens() || before + j + 1 >= contextLength()) {
                    pending = next;
                    if (count < options.maxTokens()) stop = Generation.StopReason.CONTEXT_FULL;
                    done = true;
                    break;
                }
                if (!accepted) break;
            }
            int keep = before + 1 + Math.min(j, d);
            locked(() -> {
                state.truncate(keep);
                return null;
            });
        }
        String rest = decoder.flush();
        if (!rest.isEmpty()) {
            text.append(rest);
            if (listener != null) listener.onToken(-1, rest, null);
        }
        return new Generation(prompt, Arrays.copyOf(out, count), text.toString(), stop, t1 - t0, System.nanoTime() - t1,
                new Speculation.Stats(drafted, acceptedTotal, forwards, count));
    }

    /**
     * {@link #generateEntered} through the model's scheduler: the whole conversation is submitted (its computed whole
     * blocks come from the prefix cache), tokens stream to the listener on this thread, and the conversation grows by
     * the feed and the reply, with the same pending-token rule as the unbatched path.
     */
    private Generation generateBatched(int[] prompt, GenerateOptions options, TokenListener listener) {
        cancelled = false;
        Tokenizer tok = model.tokenizer();
        int[] feed = prompt;
        if (pending >= 0) {
            feed = new int[prompt.length + 1];
            feed[0] = pending;
            System.arraycopy(prompt, 0, feed, 1, prompt.length);
        }
        if (feed.length == 0) throw new IllegalArgumentException("the prompt is empty and the session holds no pending token");
        int from = held;
        int[] all = Arrays.copyOf(history, from + feed.length);
        System.arraycopy(feed, 0, all, from, feed.length);
        long t0 = System.nanoTime();
        if (all.length > contextLength) {
            return new Generation(prompt, new int[0], "", Generation.StopReason.CONTEXT_FULL, System.nanoTime() - t0, 0);
        }
        if (options.maxTokens() == 0) {   // nothing to sample: the feed joins the conversation
            pending = -1;
            record(all, all.length);
            return new Generation(prompt, new int[0], "", Generation.StopReason.TOKEN_BUDGET, System.nanoTime() - t0, 0);
        }
        java.util.function.IntPredicate stop = options.stopAtEos() ? id -> tok.isEndOfGeneration(id) || options.isStopToken(id) : null;
        var text = new StringBuilder();
        var decoder = new StreamDecoder(tok, false);
        long[] first = {0};
        Completion c;
        try {
            Scheduler.Sequence seq = model.compute(() -> {
                if (closed) throw new IllegalStateException("this session is closed");
                return model.scheduler().submit(all, from, options.sampler(), (int) Math.min(options.maxTokens(), Integer.MAX_VALUE), stop, contextLength,
                        options.logprobs());
            });
            pending = -1;   // fed with this request (a refused one keeps it)
            running = seq;
            if (cancelled) seq.cancel();
            c = seq.awaitTokens((id, lp) -> {
                if (first[0] == 0) first[0] = System.nanoTime();
                String piece = decoder.accept(id);
                text.append(piece);
                if (listener != null) listener.onToken(id, piece, lp);
            });
        } catch (IllegalStateException e) {
            if (model.closedNow()) model.compute(() -> null);   // throws "the model … is closed"
            throw e;
        } finally {
            running = null;
        }
        if (c.stop() == Completion.Stop.CANCELLED && closedNow()) throw new IllegalStateException("this session is closed");
        int n = c.tokens().length;
        int[] conv = Arrays.copyOf(all, all.length + n);
        System.arraycopy(c.tokens(), 0, conv, all.length, n);
        var stopReason = switch (c.stop()) {
            case END_OF_GENERATION -> Generation.StopReason.END_OF_GENERATION;
            case TOKEN_BUDGET -> Generation.StopReason.TOKEN_BUDGET;
            case CONTEXT_FULL -> Generation.StopReason.CONTEXT_FULL;
            case CANCELLED -> Generation.StopReason.CANCELLED;
        };
        // the last token of a reply cut by the budget or the context is pending (fed with the next prompt)
        boolean keepPending = n > 0 && (stopReason == Generation.StopReason.TOKEN_BUDGET || stopReason == Generation.StopReason.CONTEXT_FULL);
        record(conv, keepPending ? conv.length - 1 : conv.length);
        if (keepPending) pending = conv[conv.length - 1];
        String rest = decoder.flush();
        if (!rest.isEmpty()) {
            text.append(rest);
            if (listener != null) listener.onToken(-1, rest, null);
        }
        long t1 = first[0] == 0 ? System.nanoTime() : first[0];
        return new Generation(prompt, c.tokens(), text.toString(), stopReason, t1 - t0, System.nanoTime() - t1);
    }

    /** Batched: the conversation's first {@code count} tokens of {@code conv} are now "in the cache". */
    private void record(int[] conv, int count) {
        if (count > history.length) history = Arrays.copyOf(history, Math.max(2 * history.length, count));
        System.arraycopy(conv, 0, history, 0, count);
        held = count;
    }

    private boolean closedNow() {
        return model.compute(() -> closed);
    }

    /**
     * Encoder–decoder models (T5): runs the encoder over {@code source} (token ids, usually ending with {@code </s>}) and
     * keeps its cross-attention keys and values for the decoder; the decoder sequence restarts empty, so
     * {@link #logits} and {@link #prefillOnly} then feed decoder tokens (starting with the decoder start token).
     * {@link #generate} does this itself with its prompt.
     *
     * @throws UnsupportedOperationException for a decoder-only model
     */
    public void encode(int[] source) {
        user.enter();
        try {
            if (!model.isEncoderDecoder()) throw new UnsupportedOperationException("a decoder-only model has no encoder");
            encodeEntered(source);
        } finally {
            user.exit();
        }
    }

    private void encodeEntered(int[] source) {
        if (source.length == 0) throw new IllegalArgumentException("the encoder needs at least one token");
        locked(() -> {
            model.transformer().encode(state, source);
            return null;
        });
        pending = -1;
    }

    /**
     * Teacher forcing: feeds {@code ids} after what the session holds and returns the logits after each of
     * them, [ids.length][vocab]. Prefill runs in chunks of up to {@value #MAX_BATCH} tokens per forward call.
     */
    public float[][] logits(int[] ids) {
        user.enter();
        try {
            if (state == null) return batchedLogits(ids);
            float[][] rows = new float[ids.length][];
            int vocab = logits.length;
            Transformer tr = model.transformer();
            for (int from = 0; from < ids.length; from += state.maxBatch()) {
                int[] chunk = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + state.maxBatch()));
                float[] all = new float[chunk.length * vocab];
                locked(() -> {
                    tr.backend().read(forward(chunk, true), all);
                    return null;
                });
                for (int r = 0; r < chunk.length; r++) rows[from + r] = Arrays.copyOfRange(all, r * vocab, (r + 1) * vocab);
            }
            return rows;
        } finally {
            user.exit();
        }
    }

    /**
     * Feeds tokens after what the session holds (any pending token is dropped) and waits for the logits of the
     * last one; nothing is sampled. For benchmarks and for priming a cache with a known prefix.
     */
    public void prefillOnly(int[] ids) {
        user.enter();
        try {
            pending = -1;
            if (state == null) {
                int[] all = Arrays.copyOf(history, held + ids.length);
                System.arraycopy(ids, 0, all, held, ids.length);
                if (all.length > contextLength) {
                    throw new ContextFullException("the context holds " + contextLength + " tokens; " + held + " are used and " + ids.length + " more do not fit");
                }
                // computed by the scheduler (its whole blocks stay in the prefix cache for the next generation); the
                // token it samples is dropped
                if (ids.length > 0) {
                    var seq = model.compute(() -> model.scheduler().submit(all, held, dev.infercl.engine.SamplerOptions.greedy(), 1, null, contextLength));
                    seq.await(null);
                }
                record(all, all.length);
                return;
            }
            prefill(ids);
        } finally {
            user.exit();
        }
    }

    /**
     * Batched: teacher forcing on a sequence state of its own for this call (the conversation, then the ids), under
     * the model's lock; the ids join the conversation.
     */
    private float[][] batchedLogits(int[] ids) {
        int vocab = logits.length, total = held + ids.length;
        if (total > contextLength) {
            throw new ContextFullException("the context holds " + contextLength + " tokens; " + held + " are used and " + ids.length + " more do not fit");
        }
        float[][] rows = new float[ids.length][];
        if (ids.length == 0) return rows;
        Transformer tr = model.transformer();
        int[] all = Arrays.copyOf(history, total);
        System.arraycopy(ids, 0, all, held, ids.length);
        locked(() -> {
            try (var st = tr.newState(total, Math.min(total, MAX_BATCH))) {
                for (int from = 0; from < total; from += st.maxBatch()) {
                    int to = Math.min(total, from + st.maxBatch());
                    int[] chunk = Arrays.copyOfRange(all, from, to);
                    boolean wanted = to > held;
                    Tensor t = tr.forward(st, chunk, wanted);
                    if (!wanted) continue;
                    float[] out = new float[chunk.length * vocab];
                    tr.backend().read(t, out);
                    for (int r = Math.max(0, held - from); r < chunk.length; r++) rows[from + r - held] = Arrays.copyOfRange(out, r * vocab, (r + 1) * vocab);
                }
            }
            return null;
        });
        record(all, total);
        return rows;
    }

    /**
     * The drafter for {@code d}, started for a generation sampling as {@code sampling}: the one opened before for the
     * same draft (a draft model's cache then still holds the conversation), else a new one.
     */
    private Draft.Drafter drafter(Draft d, SamplerOptions sampling) {
        if (drafter == null || d != draft) {
            closeDrafter();
            drafter = d.open(model, contextLength);
            draft = d;
        }
        drafter.start(sampling);
        return drafter;
    }

    private void closeDrafter() {
        var dr = drafter;
        drafter = null;
        draft = null;
        if (dr != null) dr.close();
    }

    /**
     * Feeds {@code ids} (any number) after what the session holds and returns the logits after the last one: an
     * array of the session's, overwritten by its next step. For a draft model running ahead of its target.
     */
    float[] advance(int[] ids) {
        user.enter();
        try {
            if (state == null) throw new UnsupportedOperationException("a batched session has no KV cache of its own");
            pending = -1;
            prefill(ids);
            return logits;
        } finally {
            user.exit();
        }
    }

    /** Chunk by chunk, each a step of its own under the model's lock; the last one reads the logits. */
    private void prefill(int[] ids) {
        for (int from = 0; from < ids.length; from += state.maxBatch()) {
            int[] chunk = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + state.maxBatch()));
            boolean last = from + state.maxBatch() >= ids.length;
            locked(() -> {
                Tensor t = forward(chunk, false);
                if (last) model.transformer().backend().read(t, logits);
                return null;
            });
        }
    }

    private void step(int token) {
        locked(() -> {
            model.transformer().backend().read(forward(new int[] {token}, false), logits);
            return null;
        });
    }

    /**
     * Runs one step holding the model's lock (see {@link Model}): refused with {@link IllegalStateException} when the
     * model or this session has been closed.
     */
    private <T> T locked(java.util.function.Supplier<T> op) {
        return model.compute(() -> {
            if (closed) throw new IllegalStateException("this session is closed");
            return op.get();
        });
    }

    /** One forward call, recording the tokens it puts in the cache; the caller holds the model's lock. */
    private Tensor forward(int[] ids, boolean allLogits) {
        int start = length();
        Tensor t = model.transformer().forward(state, ids, allLogits);
        if (start + ids.length > history.length) history = Arrays.copyOf(history, Math.max(2 * history.length, start + ids.length));
        System.arraycopy(ids, 0, history, start, ids.length);
        return t;
    }

    /**
     * Frees the KV cache; callable from any thread, also while another generates (that generation fails at its next
     * step). Waits for the model's step in progress. Closing again, or after the model, does nothing.
     */
    @Override
    public void close() {
        model.withLock(() -> {
            if (closed) return;
            closed = true;
            if (!model.isClosed() && state != null) state.close();   // a closed model has freed every buffer already
        });
        var r = running;   // batched: the generation in progress stops and frees its blocks at the next step
        if (r != null) r.cancel();
        var dr = drafter;   // a draft model's session, closed outside this model's lock (it may be another model's)
        drafter = null;
        if (dr != null) dr.close();
    }
}
