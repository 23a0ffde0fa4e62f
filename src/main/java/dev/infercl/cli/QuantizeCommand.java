package dev.infercl.cli;

import dev.infercl.quant.Calibration;
import dev.infercl.quant.Quantizer;
import dev.infercl.quant.Scheme;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Writes a quantized copy of a GGUF model. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Write a quantized GGUF: w8a16 (INT8 weights), w8a8 (INT8 weights and activations, SmoothQuant), q8_0, q4_0, f16, "
                + "or one of llama.cpp's K-quant mixes q4_k_m, q5_k_m, q6_k, q4_k_s, q3_k_m, q2_k.")
final class QuantizeCommand extends Streams.Command implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, required = true, description = "full-precision GGUF file (F32, F16 or BF16), or Hugging Face model OWNER/NAME[:QUANT]")
    String model;

    private Path input;

    @Option(names = {"-o", "--output"}, required = true, description = "GGUF file to write")
    Path output;

    @Option(names = "--scheme", required = true, description = "w8a16 | w8a8 | q8_0 | q4_0 | f16 | q4_k_m | q5_k_m | q6_k | q4_k_s | q3_k_m | q2_k")
    String scheme;

    @Option(names = "--group", defaultValue = "0", description = "w8a16: input columns per scale, 32, 64 or 128 (default: one scale per output channel)")
    int group;

    @Option(names = "--calibration", description = "w8a8: text file the full-precision model runs over to measure activations")
    Path calibration;

    @Option(names = "--alpha", defaultValue = "0.5", description = "w8a8: SmoothQuant migration strength in [0, 1] (default: ${DEFAULT-VALUE})")
    float alpha;

    @Option(names = "--samples", defaultValue = "0", description = "w8a8: calibration windows of --ctx tokens to use; 0 = the whole text (default)")
    int samples;

    @Option(names = {"-c", "--ctx"}, defaultValue = "0", description = "w8a8: calibration window in tokens (default: the model's trained context, at most 4096)")
    int context;

    @Option(names = "--no-smooth", description = "w8a8 without SmoothQuant (naive per-token activations; no calibration needed)")
    boolean noSmooth;

    @Option(names = "--allow-requantize", description = "accept a source that is already quantized (Q8_0, Q4_0, I8)")
    boolean allowRequantize;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "CPU threads for calibration (default: all cores)")
    int threads;

    @Option(names = "--verbose", description = "print stack traces of errors")
    boolean verbose;

    @Spec
    CommandSpec spec;

    /** The W8A8/W8A16 options, which a K-quant mix has no use for. */
    private static final String[] INT8_OPTIONS = {"--group", "--calibration", "--alpha", "--samples", "--ctx", "--no-smooth"};

    @Override
    public Integer call() throws Exception {
        Scheme s = Scheme.parse(scheme);
        if (s.kMix()) {
            for (String name : INT8_OPTIONS) {
                if (spec.commandLine().getParseResult().hasMatchedOption(name)) {
                    throw new IllegalArgumentException(name + " does not apply to " + s.id()
                            + ": the K-quant mixes take llama.cpp's per-tensor types and its rounding, with no calibration or groups");
                }
            }
        }
        if (samples < 0) throw new IllegalArgumentException("--samples must be ≥ 0, got " + samples);
        if (context < 0 || context == 1) throw new IllegalArgumentException("--ctx must be ≥ 2 (or 0 for the model's), got " + context);
        input = HubModels.resolve(model, "-m", err);
        if (!Files.isRegularFile(input)) throw new IllegalArgumentException(input + ": no such file");
        if (calibration != null && !Files.isRegularFile(calibration)) throw new IllegalArgumentException("--calibration " + calibration + ": no such file");
        boolean smooth = s == Scheme.W8A8 && !noSmooth;
        if (noSmooth && s != Scheme.W8A8) throw new IllegalArgumentException("--no-smooth applies to w8a8 only");
        if (calibration != null && !smooth) err.println("note: --calibration is used by w8a8 with smoothing only; ignored");
        // check everything cheap before the (slow) calibration
        if (smooth && calibration == null) throw new IllegalArgumentException(Quantizer.NEEDS_CALIBRATION);
        var options = new Quantizer.Options(s, group, alpha, false, allowRequantize, null);
        Quantizer.preflight(input, output, options);
        options = options.withSmooth(smooth);
        long t0 = System.nanoTime();
        var bar = new Bar(err, System.console() != null && System.console().isTerminal());
        if (smooth) {
            String text = Files.readString(calibration);
            Calibration c = Calibration.run(input, text, context, samples, threads, (d, n) -> bar.update("calibrate", d, n, "window " + d));
            bar.done();
            err.printf(Locale.ROOT, "calibration: %d tokens in %d windows%n", c.tokens(), c.windows());
            options = options.withCalibration(c);
        }
        var r = Quantizer.quantize(input, output, options, (d, n, name) -> bar.update("quantize", d, n, name));
        bar.done();
        for (String note : r.notes()) err.println("note: " + note);
        err.printf(Locale.ROOT, "wrote %s: %s, %s (from %s), %d matrices converted, %.1f s%n", output, s.id(),
                InfoCommand.bytes(r.bytes()), InfoCommand.bytes(Files.size(input)), r.quantized(), (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /** A progress bar redrawn in place on a terminal; one plain line per step otherwise. */
    static final class Bar {
        private final java.io.PrintStream err;
        private final boolean terminal;
        private boolean open;

        Bar(java.io.PrintStream err, boolean terminal) {
            this.err = err;
            this.terminal = terminal;
        }

        void update(String phase, int done, int total, String what) {
            if (terminal) {
                int width = 30, filled = total == 0 ? width : done * width / total;
                String line = String.format(Locale.ROOT, "\r%-9s [%s%s] %3d%% %s", phase, "#".repeat(filled), " ".repeat(width - filled), total == 0 ? 100 : 100 * done / total, what);
                err.print(line.length() > 100 ? line.substring(0, 100) : line + " ".repeat(100 - line.length()));
                err.flush();
                open = true;
            } else {
                err.printf(Locale.ROOT, "%s %d/%d %s%n", phase, done, total, what);
            }
        }

        void done() {
            if (open) err.println();
            open = false;
        }
    }
}
