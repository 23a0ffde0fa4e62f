package dev.infercl;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Locates ../shared (read-only oracles beside the project); tests that need it skip with a clear message where it is absent. */
public final class SharedData {
    private SharedData() {}

    public static Path root() {
        return Path.of(System.getProperty("user.dir")).resolve("../shared").normalize();
    }

    /** The path of a file under ../shared; skips the calling test when it does not exist. */
    public static Path require(String relative) {
        Path p = root().resolve(relative);
        Assumptions.assumeTrue(Files.exists(p), () -> "skipped: " + p + " is absent (../shared is not beside the project)");
        return p;
    }
}
