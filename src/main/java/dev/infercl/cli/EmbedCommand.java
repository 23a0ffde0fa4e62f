package dev.infercl.cli;

import dev.infercl.api.Model;
import dev.infercl.api.Pooling;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Prints each text's embedding (Model.embed: the final-normed hidden states, pooled, L2-normalised) as a JSON array on one line. */
@Command(name = "embed", mixinStandardHelpOptions = true, description = "Print the embedding of each text (a JSON array of floats per line).")
final class EmbedCommand extends Streams.Command implements Callable<Integer> {

    @Mixin ModelOptions model;

    @Option(names = "--pooling", defaultValue = "mean", description = "mean | last: average every token's hidden state, or take the last one (default: ${DEFAULT-VALUE})")
    String pooling;

    @Option(names = {"-f", "--file"}, description = "embed each non-empty line of this file")
    Path file;

    @Parameters(arity = "0..*", paramLabel = "TEXT", description = "texts to embed")
    List<String> texts = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Pooling p = switch (pooling.toLowerCase(Locale.ROOT)) {
            case "mean" -> Pooling.MEAN;
            case "last" -> Pooling.LAST;
            default -> throw new IllegalArgumentException("--pooling must be mean or last, got '" + pooling + "'");
        };
        var all = new ArrayList<>(texts);
        if (file != null) for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) if (!line.isBlank()) all.add(line);
        if (all.isEmpty()) throw new IllegalArgumentException("nothing to embed: give texts or -f FILE");
        try (Model m = Model.load(model.modelPath(err), model.loadOptions(n -> err.println("note: " + n)))) {
            for (String t : all) {
                float[] v = m.embed(t, p);
                var b = new StringBuilder("[");
                for (int i = 0; i < v.length; i++) b.append(i == 0 ? "" : ",").append(v[i]);
                out.println(b.append(']'));
            }
        }
        return 0;
    }
}
