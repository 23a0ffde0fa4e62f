package dev.infercl.cli;

import dev.infercl.api.Draft;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Speculation;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/** Speculative decoding's options, shared by generate and bench. */
final class SpeculationOptions {

    @Option(names = "--spec", description = "speculative decoding with this draft: ngram (prompt lookup over the text so far) | model (--draft)")
    String spec;

    @Option(names = "--draft", description = "draft model for --spec model: a GGUF file with the target's vocabulary")
    Path draft;

    @Option(names = "--spec-k", defaultValue = "4", description = "tokens drafted per target step (default: ${DEFAULT-VALUE})")
    int k;

    @Option(names = "--spec-n", defaultValue = "3", description = "longest n-gram --spec ngram looks up (default: ${DEFAULT-VALUE})")
    int n;

    /** Whether --spec was given (as one of {@code kinds}); refuses options that do not fit together. */
    boolean on(String... kinds) {
        if (spec == null) {
            if (draft != null) throw new IllegalArgumentException("--draft needs --spec model");
            return false;
        }
        if (!java.util.List.of(kinds).contains(spec)) throw new IllegalArgumentException("--spec must be " + String.join(" or ", kinds) + ", got '" + spec + "'");
        if (k < 1) throw new IllegalArgumentException("--spec-k must be ≥ 1, got " + k);
        if (n < 1) throw new IllegalArgumentException("--spec-n must be ≥ 1, got " + n);
        if (spec.equals("model") != (draft != null)) {
            throw new IllegalArgumentException(draft == null ? "--spec model needs --draft MODEL" : "--draft goes with --spec model, not --spec " + spec);
        }
        return true;
    }

    /** The draft model for --spec model, loaded as the target is; null for other drafts. Close it after the target's sessions. */
    Model loadDraft(LoadOptions options) throws IOException {
        return "model".equals(spec) ? Model.load(draft, options) : null;
    }

    /** The draft of --spec (ngram or model; model needs the loaded draft). */
    Draft draft(Model draftModel) {
        return switch (spec) {
            case "ngram" -> Draft.ngram(n);
            case "model" -> Draft.model(draftModel);
            default -> throw new IllegalArgumentException("--spec " + spec + " has no draft of its own");
        };
    }

    /** "ngram, k 4, n 3" or "model draft.gguf, k 4". */
    String describe() {
        return switch (spec) {
            case "ngram" -> "ngram, k " + k + ", n " + n;
            case "model" -> "model " + draft.getFileName() + ", k " + k;
            default -> spec + ", k " + k;
        };
    }

    /** One line of what speculation did. */
    static String report(Speculation.Stats s) {
        return String.format(Locale.ROOT, "%d of %d drafted tokens accepted (%.1f%%), %.2f tokens per target forward (%d tokens in %d forwards)",
                s.accepted(), s.drafted(), 100 * (s.drafted() == 0 ? 0 : s.acceptanceRate()), s.tokensPerForward(), s.tokens(), s.targetForwards());
    }
}
