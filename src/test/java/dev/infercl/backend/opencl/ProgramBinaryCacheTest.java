package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The on-disk program cache's file format and its refusals; no OpenCL needed (KernelLibraryTest covers the driver side). */
class ProgramBinaryCacheTest {
    @TempDir Path dir;

    static final String KEY = ProgramBinaryCache.key("POCL", "3.1", "cpu", "3.1+debian", "OpenCL 3.0", "kernel void k() {}", "-cl-std=CL1.2");
    static final byte[] PAYLOAD = "a driver's program binary \0\1\2\3".getBytes(StandardCharsets.ISO_8859_1);

    @Test
    void aStoredBinaryLoadsBackIdentical() throws IOException {
        var cache = ProgramBinaryCache.at(dir.resolve("kernels"));
        assertNull(cache.load(KEY), "an empty cache finds nothing");
        assertTrue(cache.store(KEY, PAYLOAD));
        assertArrayEquals(PAYLOAD, cache.load(KEY));
        assertArrayEquals(PAYLOAD, ProgramBinaryCache.at(dir.resolve("kernels")).load(KEY), "a second instance (process) finds it too");
        assertTrue(cache.store(KEY, new byte[] {7}), "storing again replaces the entry");
        assertArrayEquals(new byte[] {7}, cache.load(KEY));
        try (var files = Files.list(dir.resolve("kernels"))) {
            assertEquals(1, files.count(), "no temporary file is left behind");
        }
    }

    @Test
    void theKeyCoversEveryIngredient() {
        String[] base = {"POCL", "3.1", "cpu", "3.1+debian", "OpenCL 3.0", "kernel void k() {}", "-cl-std=CL1.2"};
        assertEquals(KEY, ProgramBinaryCache.key(base));
        for (int i = 0; i < base.length; i++) {
            String[] changed = base.clone();
            changed[i] = changed[i] + " ";
            assertNotEquals(KEY, ProgramBinaryCache.key(changed), "ingredient " + i);
        }
        // lengths are hashed too, so moving text from one ingredient to the next changes the key
        assertNotEquals(ProgramBinaryCache.key("ab", "c"), ProgramBinaryCache.key("a", "bc"));
        assertTrue(KEY.matches("[0-9a-f]{64}"), KEY);
    }

    @Test
    void aCorruptPayloadIsRejectedAndDeleted() throws IOException {
        var cache = ProgramBinaryCache.at(dir);
        cache.store(KEY, PAYLOAD);
        Path f = cache.file(KEY);
        byte[] bytes = Files.readAllBytes(f);
        bytes[bytes.length - 3] ^= 0x40; // one flipped bit in the payload
        Files.write(f, bytes);
        assertTrue(ProgramBinaryCache.check(bytes, KEY).contains("checksum"), ProgramBinaryCache.check(bytes, KEY));
        assertNull(cache.load(KEY));
        assertFalse(Files.exists(f), "a corrupt entry is deleted, so the rebuilt program replaces it");
    }

    @Test
    void aTruncatedFileIsRejected() throws IOException {
        var cache = ProgramBinaryCache.at(dir);
        cache.store(KEY, PAYLOAD);
        Path f = cache.file(KEY);
        byte[] whole = Files.readAllBytes(f);
        for (int keep : new int[] {0, 5, ProgramBinaryCache.HEADER_BYTES - 1, ProgramBinaryCache.HEADER_BYTES, whole.length - 1}) {
            byte[] cut = Arrays.copyOf(whole, keep);
            assertNotNull(ProgramBinaryCache.check(cut, KEY), "a file cut to " + keep + " bytes");
            Files.write(f, cut);
            assertNull(cache.load(KEY), "a file cut to " + keep + " bytes");
        }
        byte[] longer = Arrays.copyOf(whole, whole.length + 1);
        assertTrue(ProgramBinaryCache.check(longer, KEY).contains("header says"), ProgramBinaryCache.check(longer, KEY));
    }

    @Test
    void anEntryUnderAnotherKeysNameIsRejected() throws IOException {
        var cache = ProgramBinaryCache.at(dir);
        String other = ProgramBinaryCache.key("another", "device");
        cache.store(other, PAYLOAD);
        Files.copy(cache.file(other), cache.file(KEY));
        assertNull(cache.load(KEY), "a file copied or renamed to another key's name is not that key's binary");
        assertArrayEquals(PAYLOAD, cache.load(other));
    }

    @Test
    void aWrongMagicOrFormatIsRejected() {
        byte[] good = ProgramBinaryCache.entry(KEY, PAYLOAD);
        assertNull(ProgramBinaryCache.check(good, KEY));
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertTrue(ProgramBinaryCache.check(magic, KEY).contains("magic"));
        byte[] format = good.clone();
        format[11]++; // the format version's low byte follows the 8 magic bytes
        assertTrue(ProgramBinaryCache.check(format, KEY).contains("format"), ProgramBinaryCache.check(format, KEY));
    }

    @Test
    void aCrashWhileLoadingClearsTheCache() throws IOException {
        var cache = ProgramBinaryCache.at(dir);
        String other = ProgramBinaryCache.key("another", "program");
        cache.store(KEY, PAYLOAD);
        cache.store(other, PAYLOAD);
        assertArrayEquals(PAYLOAD, cache.load(KEY));
        try (var loading = cache.loading(KEY)) {
            assertArrayEquals(PAYLOAD, ProgramBinaryCache.at(dir).load(other), "a live process's marker is no crash");
        }
        assertArrayEquals(PAYLOAD, ProgramBinaryCache.at(dir).load(KEY), "a load that finished leaves no trace");

        // a marker of a process that is gone: its driver crashed on one of these entries
        Files.writeString(dir.resolve(KEY + ".loading"), Long.toString(deadPid()));
        assertNull(ProgramBinaryCache.at(dir).load(other), "after a crash no entry is handed to the driver again");
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList(), "every entry and the marker are deleted");
        }
        assertTrue(cache.store(KEY, PAYLOAD));
        assertArrayEquals(PAYLOAD, ProgramBinaryCache.at(dir).load(KEY), "rebuilt entries load again");
    }

    /** The id of a process that has exited. */
    private static long deadPid() throws IOException {
        try {
            Process p = new ProcessBuilder("true").start();
            p.waitFor();
            return p.pid();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    @Test
    void theLeastRecentlyUsedEntriesArePrunedPastTheLimit() throws IOException {
        int entryBytes = ProgramBinaryCache.HEADER_BYTES + 1000;
        var cache = ProgramBinaryCache.at(dir, 4L * entryBytes); // room for four entries
        List<String> keys = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String k = ProgramBinaryCache.key("program", String.valueOf(i));
            keys.add(k);
            cache.store(k, new byte[1000]);
            Files.setLastModifiedTime(cache.file(k), java.nio.file.attribute.FileTime.fromMillis(1_000_000L * (i + 1)));
        }
        assertNotNull(cache.load(keys.get(0)), "a load marks the oldest entry as just used");
        String fifth = ProgramBinaryCache.key("program", "4");
        cache.store(fifth, new byte[1000]); // five entries: over the limit, pruned to three
        try (var files = Files.list(dir)) {
            assertEquals(3, files.count());
        }
        assertNull(cache.load(keys.get(1)), "the least recently used went first");
        assertNull(cache.load(keys.get(2)));
        assertNotNull(cache.load(keys.get(0)));
        assertNotNull(cache.load(keys.get(3)));
        assertNotNull(cache.load(fifth), "the entry just written stays");
    }

    @Test
    void anUnusableFolderNeverFailsARun() throws IOException {
        Path notADir = Files.writeString(dir.resolve("a-file"), "x");
        var cache = ProgramBinaryCache.at(notADir.resolve("kernels")); // its parent is a file: nothing can be created
        assertFalse(cache.store(KEY, PAYLOAD));
        assertNull(cache.load(KEY));
        cache.loading(KEY).close();
        cache.evict(KEY);

        var gone = ProgramBinaryCache.at(dir.resolve("missing/kernels"));
        assertNull(gone.load(KEY), "a missing folder is an empty cache");
        assertTrue(gone.store(KEY, PAYLOAD), "and is created on the first store");
    }

    @Test
    void anEntryThatIsAFolderIsSkipped() throws IOException {
        var cache = ProgramBinaryCache.at(dir);
        Files.createDirectories(cache.file(KEY));
        assertNull(cache.load(KEY));
        assertFalse(cache.store(KEY, PAYLOAD), "cannot replace a folder; the run goes on");
    }

    @Test
    void aKeyMustBeADigest() {
        var cache = ProgramBinaryCache.at(dir);
        assertThrows(IllegalArgumentException.class, () -> cache.file("../../etc/passwd"));
        assertThrows(IllegalArgumentException.class, () -> cache.load("not-hex"));
    }

    @Test
    void theSystemPropertyChoosesOrDisablesTheFolder() {
        String before = System.getProperty(ProgramBinaryCache.PROPERTY);
        try {
            System.setProperty(ProgramBinaryCache.PROPERTY, "off");
            assertFalse(ProgramBinaryCache.atOrDisabled(ProgramBinaryCache.directoryFromSystem()).enabled());
            System.setProperty(ProgramBinaryCache.PROPERTY, " ");
            assertFalse(ProgramBinaryCache.atOrDisabled(ProgramBinaryCache.directoryFromSystem()).enabled());
            System.setProperty(ProgramBinaryCache.PROPERTY, dir.toString());
            assertEquals(dir, ProgramBinaryCache.atOrDisabled(ProgramBinaryCache.directoryFromSystem()).dir());
            System.clearProperty(ProgramBinaryCache.PROPERTY);
            Path def = ProgramBinaryCache.directoryFromSystem();
            assertNotNull(def);
            assertTrue(def.endsWith(Path.of("infercl", "kernels")), def.toString());
        } finally {
            if (before == null) System.clearProperty(ProgramBinaryCache.PROPERTY);
            else System.setProperty(ProgramBinaryCache.PROPERTY, before);
        }
        var off = ProgramBinaryCache.disabled();
        assertFalse(off.store(KEY, PAYLOAD));
        assertNull(off.load(KEY));
    }
}
