package dev.infercl.cli;

import dev.infercl.gguf.GgmlType;
import dev.infercl.model.SyntheticModel;
import dev.infercl.quant.Quantizer;
import dev.infercl.quant.Scheme;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
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

    @Option(names = "--type", description = "f32 | f16 | bf16 | q8_0 | q4_0, or a K-quant mix: q4_k_m | q5_k_m | q6_k | q4_k_s | q3_k_m | q2_k"
            + " (written as F16, then quantized as infercl quantize does; default: f32)")
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
        Scheme mix = kMix(type);
        GgmlType t = type == null ? base.type() : mix != null ? GgmlType.F16 : switch (type.toLowerCase(Locale.ROOT)) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "bf16" -> GgmlType.BF16;
            case "q8_0" -> GgmlType.Q8_0;
            case "q4_0" -> GgmlType.Q4_0;
            default -> throw new IllegalArgumentException("unknown type '" + type + "' (f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k, q4_k_s, q3_k_m, q2_k)");
        };
        var spec = new SyntheticModel.Spec(base.name(), or(dim, base.dim()), or(layers, base.layers()), or(heads, base.heads()),
                or(kvHeads, base.kvHeads()), or(ffn, base.ffn()), or(vocab, base.vocab()), or(ctx, base.contextLength()), t,
                seed != null ? seed : base.seed());
        long start = System.nanoTime();
        // a K mix: the F16 model first (beside the output), then the same conversion as infercl quantize
        Path f16 = mix == null ? output : output.resolveSibling(output.getFileName() + ".f16.tmp");
        try {
            try (var bar = new ProgressBar(err, "writing " + f16.getFileName(), SyntheticModel.weightBytes(spec))) {
                SyntheticModel.write(spec, f16, bar::update);
            }
            if (mix != null) {
                var bar = new QuantizeCommand.Bar(err, System.console() != null && System.console().isTerminal());
                var r = Quantizer.quantize(f16, output, Quantizer.Options.of(mix), (d, n, name) -> bar.update("quantize", d, n, name));
                bar.done();
                for (String note : r.notes()) err.println("note: " + note);
            }
        } finally {
            if (mix != null) Files.deleteIfExists(f16);
        }
        err.printf(Locale.ROOT, "wrote %s (%s%s) in %.1f s%n", output, spec, mix != null ? ", quantized to " + mix.id() : "", (System.nanoTime() - start) / 1e9);
        return 0;
    }

    /** The K-quant mix {@code type} names, or null. */
    private static Scheme kMix(String type) {
        if (type == null) return null;
        for (Scheme s : Scheme.values()) if (s.kMix() && s.id().equalsIgnoreCase(type)) return s;
        return null;
    }

    private static int or(Integer v, int dflt) {
        return v != null ? v : dflt;
    }
}
