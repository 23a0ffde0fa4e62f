package dev.infercl.gguf;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashSet;
import java.util.Set;

/**
 * The check every model file goes through before it is opened: it must be a regular, readable file. Only the file's
 * attributes are read (stat), never the file itself, so a named pipe is refused without blocking on it, and a
 * directory or a device is refused before mapping fails with a bare errno text ("No such device").
 */
public final class FileChecks {
    private FileChecks() {}

    /** Symbolic links followed before a chain counts as a loop: Linux's own limit (MAXSYMLINKS). */
    private static final int MAX_LINKS = 40;

    /**
     * Returns normally when {@code path} is a regular file this process may read; otherwise throws an
     * {@link IOException} whose message is one line, "PATH: reason", with a reason for each case: no such file
     * ({@link NoSuchFileException}), a directory, a named pipe, a character or block device, a socket, a symbolic
     * link loop or a dangling link, or no permission to read ({@link AccessDeniedException}).
     *
     * @param what what the file should be, for the messages ("model file", "GGUF file")
     */
    public static void requireRegularFile(Path path, String what) throws IOException {
        String p = path.toString();
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(p, null, danglingLink(path).orElse("no such " + what));
        } catch (AccessDeniedException e) {
            throw new AccessDeniedException(p, null, "permission denied: a folder on its path cannot be searched by this user");
        } catch (FileSystemException e) {
            String reason = e.getReason() == null ? "" : e.getReason();
            if (isLinkLoop(path) || reason.startsWith("Too many levels of symbolic links")) throw new FileSystemException(p, null, "symbolic link loop (too many levels of symbolic links)");
            throw new FileSystemException(p, null, reason.isEmpty() ? "cannot be read" : reason);
        }
        if (a.isDirectory()) throw new FileSystemException(p, null, "is a directory, not a " + what);
        if (!a.isRegularFile()) throw new FileSystemException(p, null, "is " + kind(path) + ", not a regular file");
        if (!Files.isReadable(path)) throw new AccessDeniedException(p, null, "permission denied: this user may not read it");
    }

    /** "a named pipe (FIFO)", "a character device" … from the Unix file mode where the platform gives it. */
    private static String kind(Path path) {
        try {
            if (Files.getAttribute(path, "unix:mode") instanceof Integer mode) {
                return switch (mode & 0170000) {
                    case 0010000 -> "a named pipe (FIFO)";
                    case 0020000 -> "a character device";
                    case 0060000 -> "a block device";
                    case 0140000 -> "a socket";
                    default -> "a special file";
                };
            }
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            // no Unix attribute view here: the generic wording below
        }
        return "a special file";
    }

    /** "is a symbolic link to T, which does not exist" when {@code path} is a link whose target is missing. */
    private static java.util.Optional<String> danglingLink(Path path) {
        if (!Files.isSymbolicLink(path)) return java.util.Optional.empty();
        try {
            return java.util.Optional.of("is a symbolic link to " + Files.readSymbolicLink(path) + ", which does not exist");
        } catch (IOException | UnsupportedOperationException e) {
            return java.util.Optional.of("is a symbolic link to a file that does not exist");
        }
    }

    /** Whether following {@code path}'s chain of symbolic links comes back to one already seen (or never ends). */
    private static boolean isLinkLoop(Path path) {
        Set<Path> seen = new HashSet<>();
        Path p = path.toAbsolutePath().normalize();
        try {
            for (int i = 0; i <= MAX_LINKS; i++) {
                if (!Files.isSymbolicLink(p)) return false;
                if (!seen.add(p)) return true;
                Path target = Files.readSymbolicLink(p);
                p = (p.getParent() == null ? target : p.getParent().resolve(target)).normalize();
            }
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
