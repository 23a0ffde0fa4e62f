package dev.infercl.hub;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A GGUF file named the way llama.cpp's {@code -hf} names one: {@code OWNER/NAME[:QUANT]}, e.g.
 * {@code bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M}. The quant picks the file whose name carries it (case does not
 * matter) and defaults to {@value #DEFAULT_QUANT}; a quant ending in {@code .gguf} names the file itself.
 *
 * @param repo the repository id, {@code OWNER/NAME}
 * @param quant the quant (or file name) asked for
 * @param quantGiven whether the reference named the quant; a defaulted one may fall back to a repository's only file
 */
public record HubReference(String repo, String quant, boolean quantGiven) {
    public static final String DEFAULT_QUANT = "Q4_K_M";

    // the hub's own rule for names: letters, digits, '-', '_', '.'; neither part may start with '.' or '-'
    private static final String PART = "[A-Za-z0-9_][A-Za-z0-9._-]*";
    private static final Pattern FORM = Pattern.compile("(" + PART + ")/(" + PART + ")(?::([A-Za-z0-9._-]+))?");

    public HubReference {
        if (!FORM.matcher(repo).matches() || repo.contains(":")) throw new IllegalArgumentException("not a repository id OWNER/NAME: '" + repo + "'");
        if (quant.isEmpty()) throw new IllegalArgumentException("empty quant in " + repo + ":");
    }

    /** Parses {@code OWNER/NAME[:QUANT]}; an {@link IllegalArgumentException} says what is wrong. */
    public static HubReference parse(String text) {
        var m = FORM.matcher(text);
        if (!m.matches() || text.contains("..")) {
            throw new IllegalArgumentException("'" + text + "' is not a Hugging Face model reference OWNER/NAME[:QUANT] (e.g. bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M)");
        }
        String quant = m.group(3);
        return new HubReference(m.group(1) + "/" + m.group(2), quant != null ? quant : DEFAULT_QUANT, quant != null);
    }

    /**
     * Whether {@code text} reads as a reference rather than a file path. Callers ask this only of values that name
     * no existing file; a name ending in {@code .gguf} or {@code .bin} is taken for a missing file, never a repository.
     */
    public static boolean looksLike(String text) {
        if (!FORM.matcher(text).matches() || text.contains("..")) return false;
        String name = text.substring(text.indexOf('/') + 1);
        int colon = name.indexOf(':');
        if (colon >= 0) name = name.substring(0, colon);
        String lower = name.toLowerCase(Locale.ROOT);
        return !lower.endsWith(".gguf") && !lower.endsWith(".bin");
    }

    /** The cache folder's name for this repository, {@code models--OWNER--NAME} (huggingface_hub's layout). */
    String folderName() {
        return "models--" + repo.replace("/", "--");
    }

    @Override
    public String toString() {
        return repo + ":" + quant;
    }
}
