package dev.infercl.cli;

import dev.infercl.hub.HubClient;
import dev.infercl.hub.HubConfig;
import dev.infercl.hub.HubListener;
import dev.infercl.hub.HubReference;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Model arguments that name a Hugging Face repository, {@code OWNER/NAME[:QUANT]}, rather than a file: resolved
 * through the hub cache (downloaded when it does not hold the file), notes and a progress bar on stderr.
 */
final class HubModels {
    private HubModels() {}

    /**
     * The file {@code value} names: the path itself when it exists or does not read as {@code OWNER/NAME[:QUANT]}
     * (so a missing file keeps its "no such file" error), else the hub cache's copy, fetched if need be. A symbolic
     * link counts as existing even when it leads nowhere (dangling, or a loop), so its own error is reported rather
     * than a hub lookup of its name.
     */
    static Path resolve(String value, String option, PrintStream err) throws IOException {
        Path p;
        try {
            p = Path.of(value);
        } catch (InvalidPathException e) {
            p = null; // "owner/name:Q4_K_M" is no path on Windows
        }
        if (p != null && (Files.exists(p) || Files.exists(p, LinkOption.NOFOLLOW_LINKS))) return p;
        if (!HubReference.looksLike(value)) {
            if (p == null) throw new IllegalArgumentException(option + " " + value + ": no such file");
            return p;
        }
        err.println("note: " + option + " " + value + " is no file here: fetching it as a Hugging Face model (OWNER/NAME[:QUANT]) through the hub cache");
        return fetch(HubReference.parse(value), err);
    }

    /** The cached file {@code ref} names, downloaded first if the cache does not hold it. */
    static Path fetch(HubReference ref, PrintStream err) throws IOException {
        try (var client = new HubClient(HubConfig.fromEnvironment())) {
            return client.fetch(ref, new Progress(err));
        }
    }

    /** Notes as "note:" lines, each download attempt as a progress bar. */
    private static final class Progress implements HubListener {
        private final PrintStream err;
        private ProgressBar bar;

        Progress(PrintStream err) {
            this.err = err;
        }

        @Override
        public void note(String message) {
            err.println("note: " + message);
        }

        @Override
        public void downloadStarted(String file, long total, long from) {
            String name = file.substring(file.lastIndexOf('/') + 1);
            err.println("downloading " + file + (total >= 0 ? " (" + InfoCommand.bytes(total) + ")" : "")
                    + (from > 0 ? ", resuming at " + InfoCommand.bytes(from) : ""));
            if (total > 0) {
                bar = new ProgressBar(err, name, total);
                bar.update(from);
            }
        }

        @Override
        public void downloaded(long done) {
            if (bar != null) bar.update(done);
        }

        @Override
        public void downloadEnded() {
            if (bar != null) bar.close();
            bar = null;
        }
    }
}
