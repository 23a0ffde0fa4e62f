package dev.infercl.cli;

import dev.infercl.gguf.GgmlType;
import dev.infercl.model.SyntheticModel;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Writes a deterministic random-weight Llama model (see {@link SyntheticModel}). */
@Command(name = "synth", mixinStandardHelpOptions = true, description = "Write a random-weight Llama GGUF model of any shape.")
final class SynthCommand extends Streams.Command implements Callable<Integer> {

    @Option(names = "--preset", description = "tiny | 110m | 1b: a named shape (the other options override it)")
    String preset;

    @Option(names = "--dim") Integer dim;
    @Option(names = "--layers") Integer layers;
    @Option(names = "--heads") Integer heads;
    @Option(names = "--kv-heads") Integer kvHeads;
    @Option(names = "--ffn") Integer ffn;
    @Option(names = "--vocab") Integer vocab;
    @Option(names = "--ctx") Integer ctx;

    @Option(names = "--type", description = "f32 | f16 | bf16 | q8_0 | q4_0 (default: f32)")
    String type;

    @Option(names = "--seed") Long seed;

    @Option(names = {"-o", "--output"}, required = true, description = "output GGUF file")
    Path output;

    @Option(names = "--verbose", description = "print stack traces of errors")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        SyntheticModel.Spec base = switch (preset == null ? "tiny" : preset) {
            case "tiny" -> SyntheticModel.Spec.tiny();
            case "110m" -> new SyntheticModel.Spec("infercl-110m-random", 768, 12, 12, 12, 2048, 32000, 2048, GgmlType.F32, 42);
            case "1b" -> new SyntheticModel.Spec("infercl-1b-random", 2048, 22, 32, 4, 5632, 32000, 2048, GgmlType.F32, 42);
            default -> throw new IllegalArgumentException("unknown preset '" + preset + "' (tiny, 110m, 1b)");
        };
        GgmlType t = type == null ? base.type() : switch (type.toLowerCase(java.util.Locale.ROOT)) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "bf16" -> GgmlType.BF16;
            case "q8_0" -> GgmlType.Q8_0;
            case "q4_0" -> GgmlType.Q4_0;
            default -> throw new IllegalArgumentException("unknown type '" + type + "' (f32, f16, bf16, q8_0, q4_0)");
        };
        var spec = new SyntheticModel.Spec(base.name(), or(dim, base.dim()), or(layers, base.layers()), or(heads, base.heads()),
                or(kvHeads, base.kvHeads()), or(ffn, base.ffn()), or(vocab, base.vocab()), or(ctx, base.contextLength()), t,
                seed != null ? seed : base.seed());
        long start = System.nanoTime();
        try (var bar = new ProgressBar(err, "writing " + output.getFileName(), SyntheticModel.weightBytes(spec))) {
            SyntheticModel.write(spec, output, bar::update);
        }
        err.printf("wrote %s (%s) in %.1f s%n", output, spec, (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private static int or(Integer v, int dflt) {
        return v != null ? v : dflt;
    }
}
