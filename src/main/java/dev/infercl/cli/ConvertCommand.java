package dev.infercl.cli;

import dev.infercl.gguf.GgmlType;
import dev.infercl.model.Llama2cConverter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Writes a GGUF from a llama2.c checkpoint and its tokenizer (see {@link Llama2cConverter}). */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a llama2.c checkpoint and its tokenizer.bin to a GGUF file (F32 or F16); the same inputs give the same bytes.")
final class ConvertCommand extends Streams.Command implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, required = true, description = "llama2.c checkpoint (run.c's format)")
    Path input;

    @Option(names = "--tokenizer", required = true, description = "the checkpoint's tokenizer file (tokenizer.bin)")
    Path tokenizer;

    @Option(names = {"-o", "--output"}, required = true, description = "GGUF file to write")
    Path output;

    @Option(names = "--type", defaultValue = "f32", description = "f32 | f16: the matrices' type; norms stay F32 (default: ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--name", description = "general.name (default: the checkpoint's file name without extension)")
    String name;

    @Option(names = "--license", description = "general.license, e.g. MIT")
    String license;

    @Option(names = "--source-url", description = "general.source.url: where the checkpoint comes from")
    String sourceUrl;

    @Option(names = "--verbose", description = "print stack traces of errors")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        GgmlType t = switch (type.toLowerCase(Locale.ROOT)) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            default -> throw new IllegalArgumentException("--type must be f32 or f16, got '" + type + "'");
        };
        if (!Files.isRegularFile(input)) throw new IllegalArgumentException(input + ": no such file");
        if (!Files.isRegularFile(tokenizer)) throw new IllegalArgumentException("--tokenizer " + tokenizer + ": no such file");
        long t0 = System.nanoTime();
        var r = Llama2cConverter.convert(input, tokenizer, output, new Llama2cConverter.Options(t, name, license, sourceUrl));
        var c = r.config();
        err.printf(Locale.ROOT, "wrote %s: %s, %d tensors, %s (dim %d, %d layers, %d heads, %d KV heads, FFN %d, vocab %d, context %d), %.1f s%n",
                output, t, r.tensors(), InfoCommand.bytes(r.bytes()), c.dim(), c.layers(), c.heads(), c.kvHeads(), c.ffnDim(),
                c.vocabSize(), c.contextLength(), (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
