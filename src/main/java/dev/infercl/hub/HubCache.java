package dev.infercl.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Hugging Face hub cache, in huggingface_hub's layout, so that files any tool downloaded are found and files
 * downloaded here are found by the others:
 * <pre>
 * ROOT/models--OWNER--NAME/
 *   blobs/SHA256                  the file's bytes, named by their sha256 (a non-LFS file: by its git blob id)
 *   blobs/SHA256.incomplete       a download in progress or interrupted; resumed from its length
 *   snapshots/COMMIT/PATH         a relative symbolic link to ../../blobs/SHA256 (one more ../ per folder in PATH)
 *   refs/main                     the commit main pointed at when last resolved (no newline)
 * </pre>
 */
public final class HubCache {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]+");

    private final Path root;

    public HubCache(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    /** {@code ROOT/models--OWNER--NAME}. */
    public Path repoDir(String repo) {
        return root.resolve("models--" + repo.replace("/", "--"));
    }

    public Path blob(String repo, String hash) {
        return repoDir(repo).resolve("blobs").resolve(checkName(hash, "blob hash"));
    }

    /** Where the download of a blob accumulates until it is complete and verified. */
    public Path incomplete(String repo, String hash) {
        return repoDir(repo).resolve("blobs").resolve(checkName(hash, "blob hash") + ".incomplete");
    }

    /** {@code snapshots/COMMIT/PATH}; a path that would leave the snapshot folder is refused. */
    public Path snapshotFile(String repo, String commit, String path) {
        Path dir = repoDir(repo).resolve("snapshots").resolve(checkName(commit, "commit"));
        for (String part : path.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..") || part.contains("\\")) {
                throw new IllegalArgumentException("unsafe file path in repository " + repo + ": '" + path + "'");
            }
            dir = dir.resolve(part);
        }
        return dir;
    }

    public Path ref(String repo, String revision) {
        return repoDir(repo).resolve("refs").resolve(checkName(revision, "revision"));
    }

    /** The commit {@code refs/REVISION} holds, if the file is there. */
    public Optional<String> readRef(String repo, String revision) throws IOException {
        Path ref = ref(repo, revision);
        if (!Files.isRegularFile(ref)) return Optional.empty();
        String commit = Files.readString(ref, StandardCharsets.UTF_8).trim();
        return NAME.matcher(commit).matches() ? Optional.of(commit) : Optional.empty();
    }

    /**
     * Records that {@code revision} points at {@code commit}. Written in place, as huggingface_hub writes it: tools
     * that scan the cache take every file in refs/ for a ref, so a temporary file there would show up as one.
     */
    public void writeRef(String repo, String revision, String commit) throws IOException {
        if (revision.equals(commit)) return;
        Path ref = ref(repo, revision);
        if (readRef(repo, revision).filter(commit::equals).isPresent()) return;
        Files.createDirectories(ref.getParent());
        Files.writeString(ref, commit, StandardCharsets.UTF_8);
    }

    /**
     * Points {@code snapshot} at {@code blob} with a relative symbolic link; where the file system has none, a hard
     * link, else a copy (as huggingface_hub falls back on such systems).
     */
    public void link(Path snapshot, Path blob) throws IOException {
        Files.createDirectories(snapshot.getParent());
        if (Files.isSymbolicLink(snapshot) && !Files.exists(snapshot)) Files.delete(snapshot); // a dangling link
        if (Files.exists(snapshot)) return;
        try {
            Files.createSymbolicLink(snapshot, snapshot.getParent().relativize(blob));
        } catch (FileAlreadyExistsException e) {
            // another process linked it first
        } catch (UnsupportedOperationException | FileSystemException e) {
            try {
                Files.createLink(snapshot, blob);
            } catch (UnsupportedOperationException | FileSystemException e2) {
                Files.copy(blob, snapshot);
            }
        }
    }

    /**
     * The files (paths relative to the snapshot, '/'-separated) a cached snapshot holds and that can be read: links
     * whose blob is gone are left out.
     */
    public List<String> snapshotFiles(String repo, String commit) throws IOException {
        Path dir = repoDir(repo).resolve("snapshots").resolve(checkName(commit, "commit"));
        if (!Files.isDirectory(dir)) return List.of();
        var out = new ArrayList<String>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.filter(Files::isRegularFile).forEach(p -> out.add(dir.relativize(p).toString().replace('\\', '/')));
        }
        return out;
    }

    private static String checkName(String s, String what) {
        if (!NAME.matcher(s).matches() || s.equals(".") || s.equals("..")) throw new IllegalArgumentException("unsafe " + what + ": '" + s + "'");
        return s;
    }
}
