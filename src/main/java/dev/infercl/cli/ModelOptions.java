package dev.infercl.cli;

import dev.infercl.api.BackendKind;
import dev.infercl.api.LoadOptions;
import dev.infercl.backend.KvType;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every command that loads a model shares. */
final class ModelOptions {
    /** The embedded model, relative to the InferCL home (the launcher sets -Dinfercl.home). */
    static final String DEFAULT_MODEL = "test-models/stories260K.gguf";

    @Option(names = {"-m", "--model"}, description = "GGUF file, llama2.c checkpoint, or Hugging Face model OWNER/NAME[:QUANT]"
            + " (fetched through the hub cache, as infercl pull does; default: the embedded stories260K model, " + DEFAULT_MODEL + ")")
    String model;

    private Path resolved;

    @Option(names = "--tokenizer", description = "tokenizer file of a llama2.c checkpoint (tokenizer.bin)")
    Path tokenizer;

    @Option(names = "--backend", defaultValue = "auto", description = "auto | opencl | cpu | reference (default: ${DEFAULT-VALUE})")
    BackendKind backend;

    @Option(names = "--device", description = "OpenCL device index or name fragment")
    String device;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "CPU backend threads (default: all cores)")
    int threads;

    @Option(names = {"-c", "--ctx"}, defaultValue = "0", description = "context length in tokens (default: the model's trained context, at most "
            + dev.infercl.model.ModelConfig.DEFAULT_CONTEXT + ")")
    int contextLength;

    @Option(names = "--kv-type", defaultValue = "auto", description = "OpenCL KV cache type: auto | f16 | f32 | i8 (default: ${DEFAULT-VALUE}, which is f16; f32: exact keys and values, twice the memory; i8: int8 with a scale per block and head, half of f16; the CPU backend always keeps F32)")
    String kvType;

    @Option(names = "--verbose", description = "print stack traces of errors, and diagnostics to stderr (OpenCL compiler output, kernel cache)")
    boolean verbose;

    /**
     * The model path: the file -m names, the hub cache's file for an OWNER/NAME[:QUANT] that names no file (fetched
     * on first use, with notes and progress on {@code err}), or the embedded default.
     */
    Path modelPath(PrintStream err) throws IOException {
        if (resolved == null) resolved = model != null ? HubModels.resolve(model, "-m", err) : defaultModel();
        return resolved;
    }

    boolean usingDefault() {
        return model == null;
    }

    static Path defaultModel() {
        String home = System.getProperty("infercl.home", System.getenv().getOrDefault("INFERCL_HOME", "."));
        Path p = Path.of(home).resolve(DEFAULT_MODEL);
        if (!Files.exists(p)) {
            throw new IllegalArgumentException("no -m given and the embedded model " + p + " is missing (test-models/README.md says how to regenerate it)");
        }
        return p;
    }

    /**
     * The context a session gets: -c, else the model's default ({@link dev.infercl.model.ModelConfig#defaultContext()}),
     * with a note on {@code err} when that is shorter than the trained context, so a long-context model's cap is said.
     */
    int context(dev.infercl.api.Model m, PrintStream err) {
        if (contextLength > 0) return contextLength;
        var c = m.config();
        if (c.contextLength() > c.defaultContext()) {
            err.println("note: the model was trained for a context of " + c.contextLength() + " tokens; this run holds "
                    + c.defaultContext() + " (-c N for another length)");
        }
        return c.defaultContext();
    }

    LoadOptions loadOptions(java.util.function.Consumer<String> notices) {
        if (contextLength < 0) throw new IllegalArgumentException("-c must be ≥ 1 (or 0: the model's default), got " + contextLength);
        KvType type;
        try {
            type = kvType.equalsIgnoreCase("auto") ? null : KvType.parse(kvType);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--kv-type must be auto, f16, f32 or i8, got '" + kvType + "'");
        }
        return new LoadOptions(backend, device, threads, tokenizer, contextLength, notices, type);
    }
}
