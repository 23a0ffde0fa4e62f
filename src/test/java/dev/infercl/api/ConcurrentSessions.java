package dev.infercl.api;

import dev.infercl.Stories;
import dev.infercl.backend.KvType;
import dev.infercl.engine.SamplerOptions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The runs of {@link ConcurrentSessionsTest}, on one stories260K model shared by many threads.
 *
 * <p>{@link #stress}: {@code threads} threads each generating with {@code perThread} sessions (taking turns between
 * its sessions, one generate call each turn), every session with its own prompt and sampler seed; and the same
 * generations alone, one after another, each on a fresh session (first, so the concurrent run starts with every
 * kernel built). Every concurrent result must equal its solo twin token for token.
 *
 * <p>{@link #closeRace}: threads generate while the main thread closes some of their sessions, then the model, at a
 * point given as a count of tokens generated in all. Each generation must either finish or fail with the
 * {@link IllegalStateException} that names what was closed.
 *
 * <p>{@link #main} runs either in a child JVM, so that a native crash of the device runtime fails the test with the
 * child's output instead of killing the test JVM: prints {@code OK} and exits 0, or prints each problem and exits 1.
 */
public final class ConcurrentSessions {
    private static final String[] PROMPTS = {
        "Once upon a time", "The little dog", "One day, a girl named Lily", "Tom and his friend",
        "The sun was", "There was a big tree", "A cat sat", "Mom said",
    };
    static final int CONTEXT = 256;
    /** Tokens each generation of {@link #closeRace} asks for: all of them fit the context after its prompt. */
    static final int BUDGET = CONTEXT - 32;

    /** One turn: a prompt (null: continue after what the session holds) and its token budget. */
    record Turn(String prompt, int maxTokens) {}

    private ConcurrentSessions() {}

    static LoadOptions options(BackendKind backend, KvType kv) {
        return LoadOptions.defaults().withBackend(backend).withKvType(kv).withContextLength(CONTEXT);
    }

    static Model load(BackendKind backend, KvType kv) throws java.io.IOException {
        return Model.load(Stories.MODEL, options(backend, kv));
    }

    /** The turns session {@code s} takes: its prompt, then a continuation. */
    static List<Turn> turns(int s, int tokens) {
        return List.of(new Turn(PROMPTS[s % PROMPTS.length], tokens), new Turn(null, tokens / 2));
    }

    /**
     * Sampling with a seed of its own per session (greedy for the first one, where a tie broken differently would show),
     * not stopping at the end of a story, so that every session runs its whole budget.
     */
    static GenerateOptions generateOptions(int s, int maxTokens) {
        SamplerOptions sampler = s == 0 ? SamplerOptions.greedy() : SamplerOptions.defaults(1000 + 17L * s);
        return new GenerateOptions(maxTokens, sampler, null, false);
    }

    /** Runs session {@code s}'s turns on {@code session}; the tokens of each turn, concatenated. */
    static int[] runAlone(Session session, int s, int tokens) {
        var out = new ArrayList<int[]>();
        for (Turn t : turns(s, tokens)) out.add(take(session, s, t, null));
        return concat(out);
    }

    static int[] take(Session session, int s, Turn t, TokenListener listener) {
        GenerateOptions o = generateOptions(s, t.maxTokens());
        return (t.prompt() == null ? session.generate(new int[0], o, listener) : session.generate(t.prompt(), o, listener)).tokens();
    }

    /** Every session's turns alone, one session after another, each on a fresh session. */
    static int[][] alone(Model model, int sessions, int tokens) {
        int[][] alone = new int[sessions][];
        for (int s = 0; s < sessions; s++) {
            try (Session session = model.newSession()) {
                alone[s] = runAlone(session, s, tokens);
            }
        }
        return alone;
    }

    /**
     * The differences between concurrent and solo results (empty when none): {@code threads × perThread} sessions
     * of one model; each thread alternates between its sessions, one turn at a time.
     */
    static List<String> stress(Model model, int threads, int perThread, int tokens) throws InterruptedException, ExecutionException {
        int sessions = threads * perThread;
        int[][] alone = alone(model, sessions, tokens);
        int[][] concurrent = new int[sessions][];
        onThreads(threads, th -> {
            int first = th * perThread;
            Session[] mine = new Session[perThread];
            try {
                for (int j = 0; j < perThread; j++) mine[j] = model.newSession();
                var parts = new ArrayList<List<int[]>>();
                for (int j = 0; j < perThread; j++) parts.add(new ArrayList<>());
                int turns = turns(0, tokens).size();
                for (int turn = 0; turn < turns; turn++) {
                    for (int j = 0; j < perThread; j++) parts.get(j).add(take(mine[j], first + j, turns(first + j, tokens).get(turn), null));
                }
                for (int j = 0; j < perThread; j++) concurrent[first + j] = concat(parts.get(j));
            } finally {
                for (Session s : mine) if (s != null) s.close();
            }
        });
        return differences(alone, concurrent);
    }

    static List<String> differences(int[][] alone, int[][] concurrent) {
        var diffs = new ArrayList<String>();
        for (int s = 0; s < alone.length; s++) {
            if (!Arrays.equals(alone[s], concurrent[s])) {
                diffs.add("session " + s + ": concurrent " + Arrays.toString(concurrent[s]) + " alone " + Arrays.toString(alone[s]));
            }
        }
        return diffs;
    }

    /**
     * {@code threads} threads generate, each with its own session; after {@code afterTokens} tokens in all, the calling
     * thread closes every other thread's session, then the model. Returns the problems (empty when none): an outcome
     * other than a finished generation or an {@link IllegalStateException} saying what was closed, a generation that
     * finished although the closing came before it could (fewer than its budget of tokens counted in all), or a
     * model that still opens sessions.
     */
    static List<String> closeRace(Model model, int threads, int afterTokens) throws InterruptedException {
        var sessions = new AtomicReferenceArray<Session>(threads);
        var tokens = new AtomicInteger();
        var reached = new CountDownLatch(1);
        var outcomes = new String[threads];
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            var done = new ArrayList<Future<?>>();
            for (int th = 0; th < threads; th++) {
                int t = th;
                done.add(pool.submit(() -> {
                    try (Session s = model.newSession()) {
                        sessions.set(t, s);
                        Generation g = s.generate(PROMPTS[t % PROMPTS.length], generateOptions(t, BUDGET), (id, piece) -> {
                            if (tokens.incrementAndGet() == afterTokens) reached.countDown();
                        });
                        outcomes[t] = "finished: " + g.stop();
                    } catch (IllegalStateException e) {
                        outcomes[t] = "refused: " + e.getMessage();
                    } catch (RuntimeException | Error e) {
                        outcomes[t] = "failed: " + e;
                    } finally {
                        reached.countDown();   // a thread that ends early does not hold the closing back
                    }
                }));
            }
            if (!reached.await(60, TimeUnit.SECONDS)) return List.of("no thread reached " + afterTokens + " tokens in 60 s");
            for (int t = 0; t < threads; t += 2) {
                Session s = sessions.get(t);
                if (s != null) s.close();
            }
            model.close();
            for (Future<?> f : done) {
                try {
                    f.get(60, TimeUnit.SECONDS);
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    return List.of("a generating thread did not end: " + e);
                }
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
        var problems = new ArrayList<String>();
        int refused = 0;
        for (int t = 0; t < threads; t++) {
            String o = outcomes[t];
            boolean closedSession = o.startsWith("refused: ") && o.contains("this session is closed") && t % 2 == 0;
            boolean closedModel = o.startsWith("refused: ") && o.contains("stories260K.gguf is closed");
            if (closedSession || closedModel) refused++;
            else if (!o.startsWith("finished: ")) problems.add("thread " + t + ": " + o);
        }
        // no generation can finish its budget before the closing when fewer tokens than one budget are counted before it
        if (afterTokens < BUDGET && refused < threads) problems.add("only " + refused + " of " + threads + " generations were stopped by the closing");
        try {
            model.newSession().close();
            problems.add("a closed model opened a session");
        } catch (IllegalStateException expected) {
            // the contract
        }
        return problems;
    }

    interface ThreadBody {
        void run(int thread) throws Exception;
    }

    /** Runs body(0..threads−1), one per thread, released together; rethrows the first failure. */
    static void onThreads(int threads, ThreadBody body) throws InterruptedException, ExecutionException {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            var start = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int th = 0; th < threads; th++) {
                int t = th;
                done.add(pool.submit(() -> {
                    start.await();
                    body.run(t);
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) f.get();
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    static int[] concat(List<int[]> parts) {
        return parts.stream().flatMapToInt(Arrays::stream).toArray();
    }

    /**
     * {@code stress BACKEND KV TOKENS THREADSxPERTHREAD...} or {@code close BACKEND KV THREADS AFTER_TOKENS...};
     * KV is F16, F32 or - (the backend's default). Each shape or closing point runs on a model of its own.
     */
    public static void main(String[] args) throws Exception {
        BackendKind backend = BackendKind.valueOf(args[1]);
        KvType kv = args[2].equals("-") ? null : KvType.valueOf(args[2]);
        var problems = new ArrayList<String>();
        if (args[0].equals("stress")) {
            int tokens = Integer.parseInt(args[3]);
            for (int i = 4; i < args.length; i++) {
                String[] shape = args[i].split("x");
                try (Model model = load(backend, kv)) {
                    System.out.println(args[i] + " on " + model.backendName());
                    problems.addAll(stress(model, Integer.parseInt(shape[0]), Integer.parseInt(shape[1]), tokens));
                }
            }
        } else {
            int threads = Integer.parseInt(args[3]);
            for (int i = 4; i < args.length; i++) {
                try (Model model = load(backend, kv)) {
                    System.out.println("closing after " + args[i] + " tokens on " + model.backendName());
                    problems.addAll(closeRace(model, threads, Integer.parseInt(args[i])));
                }
            }
        }
        problems.forEach(System.out::println);
        System.out.println(problems.isEmpty() ? "OK" : problems.size() + " problems");
        System.out.flush();
        System.exit(problems.isEmpty() ? 0 : 1);
    }
}
