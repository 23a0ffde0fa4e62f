package dev.infercl.backend;

import java.util.Locale;

/**
 * What a backend can still allocate, asked before a KV cache is created: a context too large for the device or the
 * JVM heap is then refused with the bytes it needs and the largest that fits, never met by an OutOfMemoryError, an
 * overflowed size or a cache silently smaller than asked for. Sizes come back exact or as {@link ArithmeticException}
 * (more than a long holds).
 */
public interface Capacity {
    /** Bytes a KV cache of this layout takes here: K and V of every layer, with any per-block scales. */
    long kvCacheBytes(KvLayout layout);

    /** Bytes of the largest single buffer that cache allocates (one layer's keys or values). */
    long kvBufferBytes(KvLayout layout);

    /** Bytes still free for new buffers. */
    long freeBytes();

    /** The largest single buffer this backend can allocate, in bytes. */
    long maxBufferBytes();

    /** Where the memory is, for messages: {@code device NAME}, {@code the JVM heap}. */
    String memoryName();

    /** What to change for more memory, for messages ("" when nothing can be). */
    default String moreMemoryHint() {
        return "";
    }

    /** Bytes as a person reads them: 512 bytes, 3.5 KiB, 20.0 MiB, 80.00 GiB. */
    static String bytes(long n) {
        if (n >= 1L << 30) return String.format(Locale.ROOT, "%.2f GiB", n / (double) (1L << 30));
        if (n >= 1L << 20) return String.format(Locale.ROOT, "%.1f MiB", n / (double) (1L << 20));
        if (n >= 1L << 10) return String.format(Locale.ROOT, "%.1f KiB", n / 1024.0);
        return n + " bytes";
    }
}
