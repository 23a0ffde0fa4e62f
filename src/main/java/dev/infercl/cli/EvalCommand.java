package dev.infercl.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.infercl.api.Model;
import dev.infercl.quant.Calibration;
import dev.infercl.quant.Evaluator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Perplexity of a model on a text, and its divergence from a reference model. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Perplexity on a text; with --ref also mean KL divergence and top-1 agreement against a reference model (95%% intervals).")
final class EvalCommand extends Streams.Command implements Callable<Integer> {

    @Mixin ModelOptions model;

    @Mixin LoraOptions lora;

    @Option(names = "--ref", description = "reference model (e.g. the full-precision original; a file or OWNER/NAME[:QUANT]), run on the same backend")
    String reference;

    @Option(names = {"-f", "--file"}, required = true, description = "text to score")
    Path text;

    @Option(names = "--max-windows", defaultValue = "0", description = "score at most this many windows of --ctx tokens; 0 = all (default)")
    int maxWindows;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(text)) throw new IllegalArgumentException("-f " + text + ": no such file");
        Path refPath = reference != null ? HubModels.resolve(reference, "--ref", err) : null;
        if (refPath != null && !Files.isRegularFile(refPath)) throw new IllegalArgumentException("--ref " + reference + ": no such file");
        if (maxWindows < 0) throw new IllegalArgumentException("--max-windows must be ≥ 0, got " + maxWindows);
        var opts = model.loadOptions(n -> err.println("note: " + n));
        try (Model m = Model.load(model.modelPath(err), opts); Model ref = refPath != null ? Model.load(refPath, opts) : null) {
            int ctx = model.context(m, err);
            var tok = m.tokenizer();
            var windows = Calibration.windows(tok.encode(Files.readString(text), false, false), ctx,
                    tok.addBosByDefault() ? tok.bosId() : -1, maxWindows);
            boolean terminal = !json && System.console() != null && System.console().isTerminal();
            var bar = new QuantizeCommand.Bar(err, terminal);
            var r = Evaluator.evaluate(m, lora.load(m), ref, windows, terminal ? (d, n) -> bar.update("eval", d, n, "window " + d) : null);
            bar.done();
            if (json) {
                var mapper = new ObjectMapper();
                ObjectNode o = mapper.createObjectNode();
                o.put("model", m.path().toString());
                if (ref != null) o.put("reference", ref.path().toString());
                o.put("backend", m.backendName()).put("context", ctx).put("windows", r.windows()).put("tokens", r.tokens());
                o.put("perplexity", r.perplexity().value());
                o.putArray("perplexity_ci95").add(r.perplexity().low()).add(r.perplexity().high());
                o.put("nll_mean", r.nll().value());
                if (r.kld() != null) {
                    o.put("kld_mean", r.kld().value());
                    o.putArray("kld_ci95").add(r.kld().low()).add(r.kld().high());
                    o.put("kld_max", r.kldMax());
                    o.put("top1_agreement", r.top1().value());
                    o.putArray("top1_ci95").add(r.top1().low()).add(r.top1().high());
                }
                out.println(mapper.writeValueAsString(o));
            } else {
                out.printf(Locale.ROOT, "model: %s%nbackend: %s%n", m.path(), m.backendName());
                if (ref != null) out.printf(Locale.ROOT, "reference: %s%n", ref.path());
                out.printf(Locale.ROOT, "tokens: %d scored in %d windows of ≤ %d%n", r.tokens(), r.windows(), ctx);
                out.printf(Locale.ROOT, "perplexity:     %.4f  (95%% CI %.4f – %.4f)%n", r.perplexity().value(), r.perplexity().low(), r.perplexity().high());
                if (r.kld() != null) {
                    out.printf(Locale.ROOT, "kld_mean:       %.6f  (95%% CI %.6f – %.6f; max %.4f)%n", r.kld().value(), r.kld().low(), r.kld().high(), r.kldMax());
                    out.printf(Locale.ROOT, "top1_agreement: %.2f%%  (95%% CI %.2f – %.2f%%)%n", 100 * r.top1().value(), 100 * r.top1().low(), 100 * r.top1().high());
                }
            }
        }
        return 0;
    }
}
