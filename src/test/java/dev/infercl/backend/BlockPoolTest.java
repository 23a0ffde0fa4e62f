package dev.infercl.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Reference-counted blocks, cached blocks evicted least recently released first, shared blocks in tables, batches. */
class BlockPoolTest {
    @Test
    void sharedBlocksAreFreedByTheirLastHolderAndCachedOnesEvictedOldestFirst() {
        var pool = new BlockPool(4);
        List<Integer> evicted = new ArrayList<>();
        pool.onEvict(evicted::add);
        int a = pool.allocate(), b = pool.allocate();
        pool.retain(a);
        assertEquals(2, pool.holders(a));
        pool.release(a);
        assertEquals(2, pool.heldBlocks());
        pool.setCached(a, true);
        pool.setCached(b, true);
        pool.release(b);                       // released first: evicted first
        pool.release(a);
        assertEquals(0, pool.heldBlocks());
        assertEquals(2, pool.cachedIdleBlocks());
        assertEquals(4, pool.freeBlocks());
        pool.allocate();
        pool.allocate();                       // the two free blocks
        assertEquals(List.of(), evicted);
        assertEquals(b, pool.allocate());
        assertEquals(List.of(b), evicted);
        pool.retain(a);                        // a cached idle block taken back by a sharer: no longer evictable
        assertEquals(0, pool.cachedIdleBlocks());
        var full = assertThrows(ContextFullException.class, pool::allocate);
        assertTrue(full.getMessage().contains("all 4 blocks"), full.getMessage());
        pool.release(a);
        pool.setCached(a, false);              // unmarked while idle: free again
        assertEquals(1, pool.freeBlocks());
        assertEquals(0, pool.cachedIdleBlocks());
        var twice = assertThrows(IllegalStateException.class, () -> pool.release(a));
        assertTrue(twice.getMessage().contains("block " + a), twice.getMessage());
        assertThrows(IllegalStateException.class, () -> pool.retain(a));
    }

    @Test
    void aTableAdoptsWholeBlocksOnlyAndReleasesItsShare() {
        var pool = new BlockPool(8);
        var owner = new BlockTable(pool, 4);
        owner.reserve(8);
        owner.setLength(8);
        var sharer = new BlockTable(pool, 4);
        sharer.adopt(owner.block(0));
        sharer.adopt(owner.block(1));
        assertEquals(8, sharer.length());
        sharer.reserve(10);
        assertEquals(3, pool.heldBlocks());
        owner.release();
        assertEquals(3, pool.heldBlocks(), "the sharer still holds both shared blocks");
        sharer.setLength(9);
        assertThrows(IllegalStateException.class, () -> sharer.adopt(owner.block(0)), "not on a block boundary");
        sharer.release();
        assertEquals(0, pool.heldBlocks());
        assertEquals(8, pool.freeBlocks());
    }

    @Test
    void aBatchNamesTheRowItCannotPlace() {
        var pool = new BlockPool(4);
        BlockTable[] tables = {new BlockTable(pool, 16), new BlockTable(pool, 16)};
        var e = assertThrows(IllegalArgumentException.class, () -> new Batch(new int[] {0, 1}, new int[] {0, 2}, tables));
        assertTrue(e.getMessage().contains("row 1") && e.getMessage().contains("sequence 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Batch(new int[] {0, -3}, new int[] {0, 1}, tables));
        assertTrue(e.getMessage().contains("row 1") && e.getMessage().contains("-3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Batch(new int[] {0, 1}, new int[] {0}, tables));
        tables[0].reserve(20);
        tables[1].reserve(3);
        var batch = new Batch(new int[] {19, 2, 18}, new int[] {0, 1, 0}, tables);
        assertEquals(tables[1], batch.table(1));
        // per row: where its sequence's table starts (from the array's start), then the tables
        assertArrayEquals(new int[] {3, 5, 3, tables[0].block(0), tables[0].block(1), tables[1].block(0)}, batch.rowTables());
    }
}
