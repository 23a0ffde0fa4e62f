package dev.infercl.server;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Counters the server keeps and /metrics shows in Prometheus' text format. */
final class Metrics {
    private static final long WINDOW_NANOS = 10_000_000_000L;
    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    final LongAdder promptTokens = new LongAdder(), generatedTokens = new LongAdder(), cancelled = new LongAdder();
    /** (time, tokens) of recent generation steps, for the tokens/s over the last 10 seconds. */
    private final ConcurrentLinkedDeque<long[]> recent = new ConcurrentLinkedDeque<>();
    private final AtomicLong started = new AtomicLong(System.nanoTime());

    void request(String endpoint, int status) {
        requests.computeIfAbsent("endpoint=\"" + endpoint + "\",status=\"" + status + "\"", k -> new LongAdder()).increment();
    }

    void token() {
        generatedTokens.increment();
        long now = System.nanoTime();
        recent.addLast(new long[] {now, 1});
        prune(now);
    }

    private void prune(long now) {
        for (long[] e; (e = recent.peekFirst()) != null && now - e[0] > WINDOW_NANOS; ) recent.pollFirst();
    }

    /** Tokens generated per second over the last 10 seconds (or since the start, when shorter). */
    double tokensPerSecond() {
        long now = System.nanoTime();
        prune(now);
        long n = 0;
        for (long[] e : recent) n += e[1];
        double seconds = Math.min(WINDOW_NANOS, Math.max(1, now - started.get())) / 1e9;
        return n / seconds;
    }

    String render(SessionPool pool) {
        var b = new StringBuilder();
        b.append("# HELP infercl_requests_total HTTP requests answered, by endpoint and status.\n");
        b.append("# TYPE infercl_requests_total counter\n");
        requests.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> b.append("infercl_requests_total{").append(e.getKey()).append("} ").append(e.getValue().sum()).append('\n'));
        counter(b, "infercl_prompt_tokens_total", "Prompt tokens prefilled.", promptTokens.sum());
        counter(b, "infercl_generated_tokens_total", "Tokens generated.", generatedTokens.sum());
        counter(b, "infercl_generations_cancelled_total", "Generations cancelled because the client went away.", cancelled.sum());
        gauge(b, "infercl_generated_tokens_per_second", "Tokens generated per second over the last 10 seconds, all sequences together.",
                String.format(java.util.Locale.ROOT, "%.3f", tokensPerSecond()));
        if (pool != null) {
            gauge(b, "infercl_queue_depth", "Requests waiting for a sequence.", Integer.toString(pool.waiting()));
            gauge(b, "infercl_sequences_running", "Sequences generating.", Integer.toString(pool.running()));
            gauge(b, "infercl_sequences_max", "Sequences that may generate at once (--parallel).", Integer.toString(pool.parallel));
            gauge(b, "infercl_kv_tokens", "Positions held in the sessions' KV caches.", Long.toString(pool.kvTokens()));
            gauge(b, "infercl_kv_blocks_in_use", "KV-cache blocks (16 positions) the sessions hold.", Long.toString(pool.kvBlocks()));
            var stats = pool.model.batchingStats();
            if (stats != null) {   // the continuous-batching scheduler's own counts
                gauge(b, "infercl_kv_blocks_total", "KV-cache blocks of the shared cache.", Integer.toString(stats.blocksTotal()));
                gauge(b, "infercl_kv_blocks_cached_idle", "Blocks no sequence holds, kept for prefix reuse until needed.", Integer.toString(stats.blocksCachedIdle()));
                counter(b, "infercl_prefix_cache_hit_blocks_total", "Prompt blocks reused from the prefix cache instead of prefilled.", stats.prefixHitBlocks());
                counter(b, "infercl_prefix_cache_reused_tokens_total", "Prompt tokens reused from the prefix cache.", stats.prefixReusedTokens());
                counter(b, "infercl_batch_steps_total", "Batched forward steps.", stats.steps());
                counter(b, "infercl_batch_rows_total", "Token rows those steps computed.", stats.rowsComputed());
            }
        }
        return b.toString();
    }

    private static void counter(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(" counter\n").append(name).append(' ').append(v).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, String v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(" gauge\n").append(name).append(' ').append(v).append('\n');
    }
}
