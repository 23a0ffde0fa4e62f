package dev.infercl.engine;

import dev.infercl.backend.BlockPool;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Full KV blocks by the tokens that produced them, so that a sequence starting with the same tokens adopts those
 * blocks instead of computing them (vLLM's automatic prefix caching). A block's key chains the hash of every token
 * before it with its own tokens; a lookup also compares the parent's hash and the block's tokens, so only a 64-bit
 * collision of whole prefixes could hand out a wrong block. Blocks no sequence holds stay cached in the
 * {@link BlockPool} until it needs them (least recently released first); the pool tells this cache when it evicts one.
 * Not thread-safe: the scheduler's lock guards it.
 */
final class PrefixCache {
    /** Hash of the empty prefix. */
    static final long ROOT = 0x6A09E667F3BCC909L;

    private record Entry(long parent, int[] tokens, int block) {}

    private final BlockPool pool;
    private final Map<Long, Entry> byHash = new HashMap<>();
    private final Map<Integer, Long> byBlock = new HashMap<>();

    PrefixCache(BlockPool pool) {
        this.pool = pool;
        pool.onEvict(b -> {
            Long h = byBlock.remove(b);
            if (h != null) byHash.remove(h);
        });
    }

    /** The chained hash of a block of tokens after the prefix whose hash is {@code parent}. */
    static long chain(long parent, int[] tokens, int from, int to) {
        long h = parent;
        for (int i = from; i < to; i++) h = mix(h ^ (tokens[i] * 0x9E3779B97F4A7C15L + i - from));
        return mix(h + (to - from));
    }

    /** splitmix64's finalizer. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The cached block holding tokens[from..to) after the prefix {@code parent}, or −1. */
    int lookup(long hash, long parent, int[] tokens, int from, int to) {
        Entry e = byHash.get(hash);
        if (e == null || e.parent != parent || !Arrays.equals(e.tokens, 0, e.tokens.length, tokens, from, to)) return -1;
        return e.block;
    }

    /** Records a full block (unless an equal one is cached already) and marks it cached in the pool. */
    void put(long hash, long parent, int[] tokens, int from, int to, int block) {
        if (byHash.containsKey(hash) || byBlock.containsKey(block)) return;
        byHash.put(hash, new Entry(parent, Arrays.copyOfRange(tokens, from, to), block));
        byBlock.put(block, hash);
        pool.setCached(block, true);
    }

    int size() {
        return byHash.size();
    }
}
