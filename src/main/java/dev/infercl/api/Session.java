package dev.infercl.api;

import dev.infercl.backend.ContextFullException;
import dev.infercl.backend.Tensor;
import dev.infercl.engine.Sampler;
import dev.infercl.model.Transformer;
import dev.infercl.tokenizer.StreamDecoder;
import dev.infercl.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * One sequence: a KV cache and the tokens in it. {@link #generate} appends a prompt and a reply; the next
 * call continues after them (the cache is kept). See {@link Model} for thread-safety.
 */
public final class Session implements AutoCloseable {
    /** Tokens per forward call: a longer prompt is prefilled in chunks of this many. */
    static final int MAX_BATCH = 512;

    private final Model model;
    private final Transformer.State state;
    private final float[] logits;
    private int pending = -1;              // last sampled token, not yet fed to the model
    private int[] history = new int[64];   // the tokens in the KV cache, in order
    private volatile boolean cancelled;

    Session(Model model, Transformer.State state) {
        this.model = model;
        this.state = state;
        this.logits = new float[model.config().vocabSize()];
    }

    /** Tokens held in the KV cache. */
    public int length() {
        return state.length();
    }

    public int contextLength() {
        return state.contextLength();
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
        int n = length();
        int[] r = Arrays.copyOf(history, n + (pending >= 0 ? 1 : 0));
        if (pending >= 0) r[n] = pending;
        return r;
    }

    /** Keeps the first {@code n} tokens of {@link #tokens()} and forgets the rest (their KV entries are released). */
    public void rewind(int n) {
        int cached = length();
        if (n < 0 || n > cached + (pending >= 0 ? 1 : 0)) throw new IllegalArgumentException("cannot rewind to " + n + " tokens of " + tokens().length);
        if (n <= cached) {
            state.truncate(n);
            pending = -1;
        }
    }

    /** Stops a running {@link #generate} after its current token; callable from any thread. */
    public void cancel() {
        cancelled = true;
    }

    /** Tokenizes {@code prompt} and generates, streaming each token to {@code listener} (may be null). */
    public Generation generate(String prompt, GenerateOptions options, TokenListener listener) {
        Tokenizer tok = model.tokenizer();
        boolean bos = options.addBos() != null ? options.addBos() : tok.addBosByDefault() && length() == 0 && pending < 0;
        return generate(tok.encode(prompt, bos, false), options, listener);
    }

    /** Generates after the prompt ids. */
    public Generation generate(int[] prompt, GenerateOptions options, TokenListener listener) {
        cancelled = false;
        Tokenizer tok = model.tokenizer();
        Sampler sampler = new Sampler(options.sampler());
        int[] feed = prompt;
        if (pending >= 0) {   // the previous reply's last token goes in first
            feed = new int[prompt.length + 1];
            feed[0] = pending;
            System.arraycopy(prompt, 0, feed, 1, prompt.length);
            pending = -1;
        }
        for (int id : feed) sampler.accept(id);
        if (feed.length == 0) throw new IllegalArgumentException("the prompt is empty and the session holds no pending token");

        long t0 = System.nanoTime();
        int[] out = new int[Math.max(options.maxTokens(), 0)];
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
        while (count < options.maxTokens()) {
            if (cancelled) {
                stop = Generation.StopReason.CANCELLED;
                break;
            }
            int next = sampler.sample(logits, logits.length);
            if (options.stopAtEos() && (tok.isEndOfGeneration(next) || options.isStopToken(next))) {
                stop = Generation.StopReason.END_OF_GENERATION;
                break;
            }
            out[count++] = next;
            sampler.accept(next);
            String piece = decoder.accept(next);
            text.append(piece);
            if (listener != null) listener.onToken(next, piece);
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
            if (listener != null) listener.onToken(-1, rest);
        }
        return new Generation(prompt, Arrays.copyOf(out, count), text.toString(), stop, t1 - t0, System.nanoTime() - t1);
    }

    /**
     * Teacher forcing: feeds {@code ids} after what the session holds and returns the logits after each of
     * them, [ids.length][vocab]. Prefill runs in chunks of up to {@value #MAX_BATCH} tokens per forward call.
     */
    public float[][] logits(int[] ids) {
        float[][] rows = new float[ids.length][];
        int vocab = logits.length;
        Transformer tr = model.transformer();
        for (int from = 0; from < ids.length; from += state.maxBatch()) {
            int[] chunk = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + state.maxBatch()));
            Tensor t = forward(chunk, true);
            float[] all = new float[chunk.length * vocab];
            tr.backend().read(t, all);
            for (int r = 0; r < chunk.length; r++) rows[from + r] = Arrays.copyOfRange(all, r * vocab, (r + 1) * vocab);
        }
        return rows;
    }

    /**
     * Feeds tokens after what the session holds (any pending token is dropped) and waits for the logits of the
     * last one; nothing is sampled. For benchmarks and for priming a cache with a known prefix.
     */
    public void prefillOnly(int[] ids) {
        pending = -1;
        prefill(ids);
    }

    private void prefill(int[] ids) {
        Tensor t = null;
        for (int from = 0; from < ids.length; from += state.maxBatch()) {
            t = forward(Arrays.copyOfRange(ids, from, Math.min(ids.length, from + state.maxBatch())), false);
        }
        model.transformer().backend().read(t, logits);
    }

    private void step(int token) {
        model.transformer().backend().read(forward(new int[] {token}, false), logits);
    }

    /** One forward call, recording the tokens it puts in the cache. */
    private Tensor forward(int[] ids, boolean allLogits) {
        int start = length();
        Tensor t = model.transformer().forward(state, ids, allLogits);
        if (start + ids.length > history.length) history = Arrays.copyOf(history, Math.max(2 * history.length, start + ids.length));
        System.arraycopy(ids, 0, history, start, ids.length);
        return t;
    }

    @Override
    public void close() {
        state.close();
    }
}
