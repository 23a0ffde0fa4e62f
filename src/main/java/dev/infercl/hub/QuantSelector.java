package dev.infercl.hub;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.regex.Pattern;

/** Picks the GGUF file a {@link HubReference} names out of a repository's file list. */
final class QuantSelector {
    private QuantSelector() {}

    /** llama.cpp's gguf-split names: {@code NAME-00001-of-00003.gguf}. */
    private static final Pattern SPLIT = Pattern.compile("(?i)-\\d{5}-of-\\d{5}\\.gguf$");

    /**
     * The path (in the repository) of the one GGUF file {@code ref} names, or a {@link HubException} that says why
     * there is none: no GGUF at all, no file of that quant (listing the quants there are), several (split files,
     * or several variants of one quant). Multimodal projectors ({@code mmproj*}) are never picked by quant.
     */
    static String select(HubReference ref, Collection<String> paths) throws HubException {
        List<String> ggufs = paths.stream().filter(p -> p.toLowerCase(Locale.ROOT).endsWith(".gguf")).sorted().toList();
        if (ggufs.isEmpty()) {
            throw new HubException(ref.repo() + ": the repository holds no .gguf file (" + paths.size() + " other files)");
        }
        if (ref.quant().toLowerCase(Locale.ROOT).endsWith(".gguf")) {
            for (String p : ggufs) if (p.equalsIgnoreCase(ref.quant()) || fileName(p).equalsIgnoreCase(ref.quant())) return p;
            throw new HubException(ref.repo() + ": no file " + ref.quant() + "; its GGUF files: " + String.join(", ", ggufs));
        }
        List<String> models = ggufs.stream().filter(p -> !fileName(p).toLowerCase(Locale.ROOT).startsWith("mmproj")).toList();
        if (models.isEmpty()) models = ggufs;
        List<String> matches = models.stream().filter(p -> matches(p, ref.quant())).toList();
        if (matches.size() == 1) return matches.getFirst();
        if (matches.isEmpty()) {
            // llama.cpp's -hf takes a repository's only file when the default quant is not there; so does this
            if (!ref.quantGiven() && models.size() == 1 && !isSplit(models.getFirst())) return models.getFirst();
            throw new HubException(ref.repo() + ": no GGUF file of quant " + ref.quant() + (ref.quantGiven() ? "" : " (the default)")
                    + "; available: " + String.join(", ", quants(models)) + " (name one as " + ref.repo() + ":QUANT)");
        }
        if (matches.stream().allMatch(QuantSelector::isSplit)) {
            throw new HubException(ref.repo() + ": quant " + ref.quant() + " is split into " + matches.size() + " files ("
                    + String.join(", ", matches) + "); split GGUF files are not supported yet (merge them with llama.cpp's"
                    + " llama-gguf-split --merge, or pick a smaller quant)");
        }
        throw new HubException(ref.repo() + ": several files match quant " + ref.quant() + ": " + String.join(", ", matches)
                + "; name one as " + ref.repo() + ":FILE.gguf");
    }

    /**
     * Whether the file name carries {@code quant} as a whole word: case-insensitive, with neither a letter, digit nor
     * underscore on either side, so {@code Q4_0} does not pick {@code Q4_0_4_4} and {@code Q4_XS} does not pick
     * {@code IQ4_XS}.
     */
    static boolean matches(String path, String quant) {
        String name = fileName(path).toLowerCase(Locale.ROOT);
        String q = quant.toLowerCase(Locale.ROOT);
        for (int i = name.indexOf(q); i >= 0; i = name.indexOf(q, i + 1)) {
            int end = i + q.length();
            if ((i == 0 || !wordChar(name.charAt(i - 1))) && (end == name.length() || !wordChar(name.charAt(end)))) return true;
        }
        return false;
    }

    static boolean isSplit(String path) {
        return SPLIT.matcher(path).find();
    }

    /** The quant part of each file name (what follows its last '-' or '.'), once each, for error messages. */
    static List<String> quants(List<String> paths) {
        var out = new TreeSet<String>(String.CASE_INSENSITIVE_ORDER);
        for (String p : paths) {
            String stem = SPLIT.matcher(fileName(p)).replaceFirst(".gguf");
            stem = stem.substring(0, stem.length() - ".gguf".length());
            out.add(stem.substring(Math.max(stem.lastIndexOf('-'), stem.lastIndexOf('.')) + 1));
        }
        return new ArrayList<>(out);
    }

    static String fileName(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    private static boolean wordChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }
}
