package dev.infercl.cli;

import dev.infercl.api.BackendKind;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.gguf.GgmlType;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** LoRA adapters: {@code lora merge} folds them into a copy of the base model. */
@Command(name = "lora", mixinStandardHelpOptions = true, subcommands = LoraCommand.Merge.class,
        description = "LoRA adapters (llama.cpp's GGUF adapter files); generate, chat, logits and eval apply them at run time with --lora / --lora-scaled.")
final class LoraCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand: merge (see infercl lora --help)");
    }

    /** Writes W + s·B·A for every adapted weight into a copy of the base GGUF. */
    @Command(name = "merge", mixinStandardHelpOptions = true,
            description = "Write a GGUF with the adapters merged into the base weights (W + s·B·A, computed in double). Merged weights keep their "
                    + "type where it is F32, F16 or BF16; quantized ones are dequantized and written as F16 (not requantized). Other tensors and all "
                    + "metadata are copied unchanged.")
    static final class Merge extends Streams.Command implements Callable<Integer> {
        @Option(names = {"-m", "--model"}, required = true, description = "base GGUF model")
        Path model;

        @Mixin LoraOptions lora;

        @Option(names = {"-o", "--output"}, required = true, description = "GGUF file to write")
        Path output;

        @Option(names = "--type", description = "type of the merged weights: f32 | f16 (default: the base weight's own float type; F16 for quantized bases)")
        String type;

        @Option(names = "--verbose", description = "print stack traces of errors")
        boolean verbose;

        @Override
        public Integer call() throws Exception {
            if (!lora.any()) throw new IllegalArgumentException("name at least one adapter: --lora FILE or --lora-scaled FILE SCALE");
            GgmlType t = null;
            if (type != null) {
                t = switch (type.toLowerCase(java.util.Locale.ROOT)) {
                    case "f32" -> GgmlType.F32;
                    case "f16" -> GgmlType.F16;
                    default -> throw new IllegalArgumentException("--type must be f32 or f16, got '" + type + "'");
                };
            }
            // the reference backend wraps the mapped weights without copying them and needs no Vector API; nothing is computed
            try (Model m = Model.load(model, LoadOptions.defaults().withBackend(BackendKind.REFERENCE))) {
                var adapters = lora.load(m);
                var r = m.mergeAdapters(adapters, output, t);
                var types = new java.util.TreeMap<GgmlType, Integer>();
                r.merged().values().forEach(x -> types.merge(x, 1, Integer::sum));
                out.println("wrote " + output + ": " + r.merged().size() + " weights merged (" + types.entrySet().stream()
                        .map(e -> e.getValue() + " " + e.getKey()).collect(java.util.stream.Collectors.joining(", ")) + ") from " + adapters.size() + " adapter"
                        + (adapters.size() == 1 ? "" : "s"));
            }
            return 0;
        }
    }
}
