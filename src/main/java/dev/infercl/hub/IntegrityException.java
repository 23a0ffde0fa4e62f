package dev.infercl.hub;

/**
 * A downloaded file is not what the hub said it would be: its size or its sha256 differs. Nothing was cached: the
 * partial file was deleted and no snapshot points at it.
 */
public final class IntegrityException extends HubException {
    private final String file;
    private final String property;
    private final String expected;
    private final String actual;

    public IntegrityException(String repo, String file, String property, String expected, String actual) {
        super(repo + ": " + file + ": " + property + " mismatch: the hub says " + expected + ", the download has " + actual
                + "; the download was deleted and nothing was cached (run again to download it afresh)");
        this.file = file;
        this.property = property;
        this.expected = expected;
        this.actual = actual;
    }

    /** The file's path in its repository. */
    public String file() {
        return file;
    }

    /** "size" or "sha256". */
    public String property() {
        return property;
    }

    public String expected() {
        return expected;
    }

    public String actual() {
        return actual;
    }
}
