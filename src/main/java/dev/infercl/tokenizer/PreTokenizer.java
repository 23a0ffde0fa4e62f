package dev.infercl.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The split a byte-level BPE vocabulary applies before merging (GGUF {@code tokenizer.ggml.pre}): text becomes
 * "words" and BPE never merges across a word boundary.
 *
 * <p>A pre-tokenizer is a list of regular expressions applied in sequence, as llama.cpp applies them: the first
 * splits the text into its matches and the runs between matches (nothing is dropped); each following expression
 * splits every piece of the previous step the same way, seeing only that piece (so {@code $} and lookaheads stop at
 * the piece's end). Most vocabularies use a single expression.
 *
 * <p>The expressions are the ones published with each model's tokenizer definition, written for
 * {@link java.util.regex} with Unicode semantics: {@code \s} is Unicode White_Space, {@code \p{L}}, {@code \p{N}},
 * {@code \p{P}} are the Unicode general categories (letters, numbers, punctuation). Immutable and thread-safe.
 */
public final class PreTokenizer {

    // ---- the expressions, named by what they are (see the per-name table in forName) ----

    /** GPT-2: English contractions, then optional-space runs of letters, of numbers, of other symbols; whitespace. */
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** Case-insensitive contractions (Llama 3, Qwen2). */
    private static final String CONTRACTIONS_ANY_CASE = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

    /**
     * Llama 3 ("llama-bpe"): letters may take one leading non-letter non-digit non-newline character; numbers in
     * groups of at most three digits; symbol runs keep trailing newlines; newline runs keep leading whitespace.
     */
    static final String LLAMA3 = CONTRACTIONS_ANY_CASE
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** Qwen2: as Llama 3 but every digit is its own word. */
    static final String QWEN2 = CONTRACTIONS_ANY_CASE
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** CJK ideographs (U+4E00..U+9FA5), U+0800..U+4E00, Hangul syllables and jamo extension (U+AC00..U+D7FF). */
    private static final String CJK_RUN = "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+";

    /** DeepSeek LLM: newlines alone, cased-letter words, ASCII/fullwidth punctuation runs, trailing space, CJK, numbers. */
    static final List<String> DEEPSEEK_LLM = List.of(
            "[\\r\\n]",
            "\\s?\\p{LC}+", // letters that have case (upper, lower, title)
            // ASCII punctuation !-/ :-~ (also [-`, {-~), fullwidth ！-／ ：-～, quotes ‘-‟, CJK punctuation 　-。
            "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
            "\\s+\\z",
            CJK_RUN,
            "\\p{N}+");

    /** DeepSeek Coder: newlines alone, letter words, punctuation runs, CJK runs, single digits. */
    static final List<String> DEEPSEEK_CODER = List.of(
            "[\\r\\n]",
            "\\s?\\p{L}+",
            "\\s?\\p{P}+",
            CJK_RUN,
            "\\p{N}");

    /** Falcon: punctuation and math/ASCII symbol runs first, then GPT-2, then ASCII digits in threes. */
    static final List<String> FALCON = List.of(
            "[\\p{P}\\$\\+<=>\\^~\\|`]+",
            GPT2,
            "[0-9][0-9][0-9]");

    /** StarCoder, Refact (and Command-R, SmolLM …): every digit alone, then GPT-2. */
    static final List<String> STARCODER = List.of("\\p{N}", GPT2);

    /** llama.cpp's generic BPE split ("default" or no {@code pre} key). */
    static final List<String> DEFAULT = List.of(
            "[\\p{P}\\$\\+<=>\\^~\\|]+",
            GPT2,
            "\\p{N}+",
            "[0-9][0-9][0-9]");

    private final String name;
    private final List<Pattern> patterns;

    private PreTokenizer(String name, List<String> expressions) {
        this.name = name;
        this.patterns = expressions.stream().map(e -> Pattern.compile(e, Pattern.UNICODE_CHARACTER_CLASS)).toList();
    }

    /** A pre-tokenizer from explicit expressions (applied in sequence). */
    public static PreTokenizer of(String name, List<String> expressions) {
        return new PreTokenizer(name, expressions);
    }

    /** Whether the name is one of the {@code tokenizer.ggml.pre} values this class knows. */
    public static boolean isKnown(String pre) {
        return expressionsFor(pre) != null;
    }

    /** Whether llama.cpp looks a whole word up in the vocabulary before merging for this {@code pre} (Llama 3). */
    static boolean ignoresMerges(String pre) {
        return isLlama3Family(pre);
    }

    /** Whether vocabularies of this family add BOS by default when the file does not say (Llama 3). */
    static boolean addsBosByDefault(String pre) {
        return isLlama3Family(pre);
    }

    private static boolean isLlama3Family(String pre) {
        return switch (pre == null ? "" : pre.toLowerCase(Locale.ROOT)) {
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral" -> true;
            default -> false;
        };
    }

    private static List<String> expressionsFor(String pre) {
        if (pre == null) {
            return DEFAULT;
        }
        return switch (pre.toLowerCase(Locale.ROOT)) {
            case "default", "" -> DEFAULT;
            case "gpt-2", "gpt2", "mpt", "gpt-neox", "olmo", "phi-2", "jais", "roberta-bpe",
                 "jina-es", "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code" -> List.of(GPT2);
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "dbrx", "smaug-bpe" -> List.of(LLAMA3);
            case "qwen2", "deepseek-r1-qwen", "megrez" -> List.of(QWEN2);
            case "deepseek-llm" -> DEEPSEEK_LLM;
            case "deepseek-coder" -> DEEPSEEK_CODER;
            case "falcon" -> FALCON;
            case "starcoder", "refact", "command-r", "smollm", "codeshell" -> STARCODER;
            default -> null;
        };
    }

    /**
     * The pre-tokenizer for a {@code tokenizer.ggml.pre} value. {@code null} (key absent) and "default" give
     * llama.cpp's generic split; an unknown name is reported once through {@code warn} and falls back to GPT-2's.
     */
    public static PreTokenizer forName(String pre, Consumer<String> warn) {
        List<String> e = expressionsFor(pre);
        if (e == null) {
            warn.accept("unknown pre-tokenizer " + dev.infercl.gguf.GgufFile.quote(String.valueOf(pre)) + " (tokenizer.ggml.pre); using the gpt-2 split,"
                    + " tokenization may differ from the model's own");
            return new PreTokenizer("gpt-2", List.of(GPT2));
        }
        return new PreTokenizer(pre == null ? "default" : pre, e);
    }

    public String name() {
        return name;
    }

    /** Splits text into words; the words concatenate to the text. */
    public List<String> split(String text) {
        List<int[]> pieces = new ArrayList<>();
        if (text.isEmpty()) {
            return List.of();
        }
        pieces.add(new int[] {0, text.length()});
        for (Pattern p : patterns) {
            List<int[]> next = new ArrayList<>(pieces.size() * 2);
            Matcher m = p.matcher(text);
            for (int[] piece : pieces) {
                int start = piece[0], end = piece[1];
                m.region(start, end); // opaque, anchoring bounds: the expression sees only this piece
                int pos = start;
                while (m.find()) {
                    if (m.start() == m.end()) {
                        continue;
                    }
                    if (m.start() > pos) {
                        next.add(new int[] {pos, m.start()});
                    }
                    next.add(new int[] {m.start(), m.end()});
                    pos = m.end();
                }
                if (pos < end) {
                    next.add(new int[] {pos, end});
                }
            }
            pieces = next;
        }
        List<String> words = new ArrayList<>(pieces.size());
        for (int[] piece : pieces) {
            words.add(text.substring(piece[0], piece[1]));
        }
        return words;
    }

    @Override
    public String toString() {
        return "PreTokenizer[" + name + "]";
    }
}
