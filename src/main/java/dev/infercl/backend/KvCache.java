package dev.infercl.backend;

/** Backend-owned storage of a paged KV cache (see {@link KvLayout}); sequences reach it through a {@link BlockTable}. */
public interface KvCache extends AutoCloseable {
    KvLayout layout();

    /** Hands out the cache's physical blocks to sequences. */
    BlockPool pool();

    @Override
    void close();
}
