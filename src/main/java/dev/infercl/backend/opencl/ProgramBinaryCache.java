package dev.infercl.backend.opencl;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.HexFormat;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Compiled OpenCL programs on disk, so that a second start loads each kernel's binary instead of compiling its
 * source again. One file per program, named by its {@link #key key}: a SHA-256 over everything the binary depends
 * on (platform, device, driver, the expanded source, the build options, this class's format version).
 *
 * <p>An entry is a header and the driver's binary: magic {@code ICLBIN\r\n}, format version (int), the key's 32
 * bytes, the payload's SHA-256 (32 bytes), the payload length (long), then the payload; big-endian. {@link #load}
 * returns the payload only when every header field checks out and the file holds exactly that many bytes;
 * otherwise it deletes the entry and returns null, so a corrupt, truncated, misplaced or stale file is rebuilt
 * from source, never trusted. Writes go to a temporary file in the same folder that is then renamed over the
 * entry, so a concurrent reader sees the old file or the new one, never half of one.
 *
 * <p>A driver may crash the process on a binary it should have refused (POCL does on a cut one). While the driver
 * loads an entry, a marker file {@code <key>.loading} holds the loading process's id ({@link #loading}). The first
 * {@link #load} of a cache looks for markers of processes that no longer run: one means a driver died on this
 * cache's entries, so all of them are deleted and rebuilt, rather than crashing start after start.
 *
 * <p>The cache never fails a run: a folder that cannot be created, read or written only means building from
 * source (logged at FINE). Location: the system property {@code infercl.opencl.cacheDir} (empty or {@code off}
 * disables the cache), else {@code $XDG_CACHE_HOME/infercl/kernels}, else {@code ~/.cache/infercl/kernels}.
 */
final class ProgramBinaryCache {
    private static final Logger LOG = Logger.getLogger(ProgramBinaryCache.class.getName());

    /** Raised whenever the entry layout or the key's ingredients change, so older entries stop matching. */
    static final int FORMAT = 1;
    static final String PROPERTY = "infercl.opencl.cacheDir";
    private static final byte[] MAGIC = "ICLBIN\r\n".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER_BYTES = MAGIC.length + Integer.BYTES + 32 + 32 + Long.BYTES;
    private static final String SUFFIX = ".clbin";
    private static final String LOADING = ".loading";

    /** The folder's size limit: some hundred program sets of a few MiB; see {@link #prune}. */
    static final long MAX_BYTES = 256L << 20;

    private final Path dir; // null: disabled
    private final long maxBytes;
    private boolean checkedForCrashes;

    private ProgramBinaryCache(Path dir, long maxBytes) {
        this.dir = dir;
        this.maxBytes = maxBytes;
    }

    /** A cache in {@code dir} (created on the first store). */
    static ProgramBinaryCache at(Path dir) {
        return new ProgramBinaryCache(dir, MAX_BYTES);
    }

    /** A cache in {@code dir} whose entries are pruned to at most {@code maxBytes}. */
    static ProgramBinaryCache at(Path dir, long maxBytes) {
        return new ProgramBinaryCache(dir, maxBytes);
    }

    /** A cache that stores nothing and finds nothing. */
    static ProgramBinaryCache disabled() {
        return new ProgramBinaryCache(null, 0);
    }

    /** A cache in {@code dir}, or a disabled one when dir is null. */
    static ProgramBinaryCache atOrDisabled(Path dir) {
        return dir == null ? disabled() : at(dir);
    }

    /** The folder the system property and environment choose (see the class comment), or null: no disk cache. */
    static Path directoryFromSystem() {
        String prop = System.getProperty(PROPERTY);
        if (prop != null) {
            String p = prop.strip();
            return p.isEmpty() || p.equalsIgnoreCase("off") ? null : Path.of(p);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base;
        if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()) {
            base = Path.of(xdg);
        } else {
            String home = System.getProperty("user.home");
            if (home == null || home.isBlank() || home.equals("?")) return null;
            base = Path.of(home, ".cache");
        }
        return base.resolve("infercl").resolve("kernels");
    }

    boolean enabled() {
        return dir != null;
    }

    /** The folder entries live in, or null when disabled. */
    Path dir() {
        return dir;
    }

    /**
     * The key of a program: SHA-256 (hex) over the format version and each ingredient, each prefixed by its length
     * so that no two different lists hash the same bytes.
     */
    static String key(String... ingredients) {
        MessageDigest md = sha256();
        var b = ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.BIG_ENDIAN);
        md.update(b.putInt(0, FORMAT).array());
        for (String s : ingredients) {
            byte[] bytes = (s == null ? "\0null" : s).getBytes(StandardCharsets.UTF_8);
            md.update(b.putInt(0, bytes.length).array());
            md.update(bytes);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** The entry file of {@code key} (whether or not it exists), or null when disabled. */
    Path file(String key) {
        keyBytes(key); // a key is also a file name: refuse anything but 64 hex digits
        return dir == null ? null : dir.resolve(key + SUFFIX);
    }

    /** The payload stored under {@code key}, or null when there is none or it did not check out (then it is deleted). */
    byte[] load(String key) {
        if (dir == null) return null;
        Path f = file(key);
        byte[] bytes;
        try {
            if (!checkedForCrashes) {
                checkedForCrashes = true;
                clearAfterCrash();
            }
            if (!Files.isRegularFile(f)) return null;
            bytes = Files.readAllBytes(f);
        } catch (IOException | SecurityException e) {
            LOG.log(Level.FINE, "kernel cache: cannot read " + f + " (" + e + "); building from source");
            return null;
        }
        String problem = check(bytes, key);
        if (problem != null) {
            LOG.fine(() -> "kernel cache: " + f + " " + problem + "; deleting it and building from source");
            evict(key);
            return null;
        }
        try {
            Files.setLastModifiedTime(f, FileTime.fromMillis(System.currentTimeMillis())); // last use, for pruning
        } catch (IOException | SecurityException e) {
            // a read-only cache: the entry still loads, it just looks older to pruning
        }
        return Arrays.copyOfRange(bytes, HEADER_BYTES, bytes.length);
    }

    /** Why {@code entry} is not a valid entry for {@code key}, or null when it is. */
    static String check(byte[] entry, String key) {
        if (entry.length < HEADER_BYTES) return "is truncated (" + entry.length + " bytes, less than a header)";
        var in = ByteBuffer.wrap(entry).order(ByteOrder.BIG_ENDIAN);
        byte[] magic = new byte[MAGIC.length];
        in.get(magic);
        if (!Arrays.equals(magic, MAGIC)) return "is not a kernel cache entry (wrong magic)";
        int format = in.getInt();
        if (format != FORMAT) return "has format " + format + ", not " + FORMAT;
        byte[] storedKey = new byte[32];
        in.get(storedKey);
        if (!Arrays.equals(storedKey, keyBytes(key))) return "belongs to another key";
        byte[] digest = new byte[32];
        in.get(digest);
        long length = in.getLong();
        if (length != entry.length - HEADER_BYTES) {
            return "holds " + (entry.length - HEADER_BYTES) + " payload bytes, its header says " + length;
        }
        MessageDigest md = sha256();
        md.update(entry, HEADER_BYTES, entry.length - HEADER_BYTES);
        if (!MessageDigest.isEqual(md.digest(), digest)) return "fails its checksum";
        return null;
    }

    /** The entry bytes for {@code payload} under {@code key}: header, then payload. */
    static byte[] entry(String key, byte[] payload) {
        var out = ByteBuffer.allocate(HEADER_BYTES + payload.length).order(ByteOrder.BIG_ENDIAN);
        out.put(MAGIC).putInt(FORMAT).put(keyBytes(key)).put(sha256().digest(payload)).putLong(payload.length).put(payload);
        return out.array();
    }

    /**
     * Stores {@code payload} under {@code key}; returns whether it was written. Failures (a read-only or missing
     * folder, a full disk) are logged at FINE and otherwise ignored.
     */
    boolean store(String key, byte[] payload) {
        if (dir == null) return false;
        Path f = file(key);
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, key.substring(0, 16) + ".", ".tmp");
            Files.write(tmp, entry(key, payload));
            try {
                Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING);
            }
            prune(f);
            return true;
        } catch (IOException | SecurityException | UnsupportedOperationException e) {
            LOG.log(Level.FINE, "kernel cache: cannot write " + f + " (" + e + "); the program is rebuilt next start");
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException | SecurityException ignored) {
                    // the folder refused the write already; nothing more to do
                }
            }
            return false;
        }
    }

    /**
     * Keeps the folder under {@link #maxBytes}: when the entries exceed it, the least recently used (by modification
     * time, which {@link #load} refreshes) are deleted until they fill three quarters of it. Entries of kernel
     * sources or drivers no longer in use are never loaded again, so without this the folder would only grow.
     */
    private void prune(Path keep) throws IOException {
        record Entry(Path path, long bytes, long used) {}
        List<Entry> entries = new ArrayList<>();
        long total = 0;
        try (var files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path f : files) {
                var attrs = Files.readAttributes(f, java.nio.file.attribute.BasicFileAttributes.class);
                entries.add(new Entry(f, attrs.size(), attrs.lastModifiedTime().toMillis()));
                total += attrs.size();
            }
        }
        if (total <= maxBytes) return;
        entries.sort(java.util.Comparator.comparingLong(Entry::used));
        for (Entry e : entries) {
            if (total <= maxBytes / 4 * 3) break;
            if (e.path().equals(keep)) continue;
            Files.deleteIfExists(e.path());
            total -= e.bytes();
        }
        LOG.fine(() -> "kernel cache: pruned " + dir + " to " + (maxBytes / 4 * 3 >> 20) + " MiB of least recently used entries");
    }

    /** Deletes the entry of {@code key} and its marker, if any (the driver rejected it, or it did not check out). */
    void evict(String key) {
        if (dir == null) return;
        for (Path f : new Path[] {file(key), marker(key)}) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException | SecurityException e) {
                LOG.log(Level.FINE, "kernel cache: cannot delete " + f + " (" + e + ")");
            }
        }
    }

    /** Held while the driver loads the payload of {@code key}: see the class comment. Closing it removes the marker. */
    interface Loading extends AutoCloseable {
        @Override
        void close();
    }

    Loading loading(String key) {
        if (dir == null) return () -> {};
        Path m = marker(key);
        try {
            Files.writeString(m, Long.toString(ProcessHandle.current().pid()));
        } catch (IOException | SecurityException e) {
            return () -> {}; // a read-only cache: no crash guard, and nothing could be evicted anyway
        }
        return () -> {
            try {
                Files.deleteIfExists(m);
            } catch (IOException | SecurityException e) {
                LOG.log(Level.FINE, "kernel cache: cannot delete " + m + " (" + e + ")");
            }
        };
    }

    private Path marker(String key) {
        return dir.resolve(key + LOADING);
    }

    /** Deletes every entry when a marker names a process that is gone (see the class comment). */
    private void clearAfterCrash() throws IOException {
        if (!Files.isDirectory(dir)) return;
        List<Path> dead = new ArrayList<>();
        try (var files = Files.newDirectoryStream(dir, "*" + LOADING)) {
            for (Path m : files) {
                long pid;
                try {
                    pid = Long.parseLong(Files.readString(m).strip());
                } catch (NumberFormatException | IOException e) {
                    pid = -1; // unreadable: a process died between creating and writing it
                }
                if (pid < 0 || ProcessHandle.of(pid).isEmpty()) dead.add(m);
            }
        }
        if (dead.isEmpty()) return;
        LOG.fine(() -> "kernel cache: a process died while its OpenCL driver loaded an entry of " + dir + " (" + dead.getFirst().getFileName()
                + "); deleting every entry, so they are rebuilt from source");
        try (var files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path f : files) Files.deleteIfExists(f);
        }
        for (Path m : dead) Files.deleteIfExists(m);
    }

    /** The 32 bytes a key names; a key is what {@link #key} returns (64 hex digits). */
    private static byte[] keyBytes(String key) {
        byte[] b = key.length() == 64 ? HexFormat.of().parseHex(key) : null;
        if (b == null) throw new IllegalArgumentException("not a kernel cache key: " + key);
        return b;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }
}
