package dev.infercl.cli;

import dev.infercl.api.GenerateOptions;
import dev.infercl.api.Generation;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.engine.SamplerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Streams a continuation of a prompt to stdout; timings go to stderr. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text after a prompt, streamed to stdout.")
final class GenerateCommand extends Streams.Command implements Callable<Integer> {

    @Mixin ModelOptions model;

    @Mixin LoraOptions lora;

    @Option(names = {"-p", "--prompt"}, description = "prompt text (default: \"${DEFAULT-VALUE}\")", defaultValue = "Once upon a time")
    String prompt;

    @Option(names = {"-f", "--file"}, description = "read the prompt from a file")
    Path promptFile;

    /** Tokens to generate when -n is not given, except with the embedded model (see {@link #budget}). */
    static final int DEFAULT_TOKENS = 128;

    @Option(names = {"-n", "--n-predict"}, description = "tokens to generate (default: " + DEFAULT_TOKENS
            + "; with the embedded model: until its story ends, at most what its context holds)")
    Integer nPredict;

    @Option(names = "--temp", defaultValue = "0.8", description = "temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", defaultValue = "40", description = "top-k, 0 = off (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "top-p, 1 = off (default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--min-p", defaultValue = "0.05", description = "min-p, 0 = off (default: ${DEFAULT-VALUE})")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.0", description = "repetition penalty, 1 = off (default: ${DEFAULT-VALUE})")
    float repeatPenalty;

    @Option(names = "--repeat-last-n", defaultValue = "64", description = "tokens the penalty looks back (default: ${DEFAULT-VALUE})")
    int repeatLastN;

    @Option(names = {"-s", "--seed"}, defaultValue = "-1", description = "random seed; -1 = pick one (printed)")
    long seed;

    @Option(names = "--ignore-eos", description = "keep generating past end-of-generation tokens")
    boolean ignoreEos;

    @Mixin SpeculationOptions speculation;

    @Override
    public Integer call() throws Exception {
        if (nPredict != null && nPredict < 0) throw new IllegalArgumentException("-n must be ≥ 0, got " + nPredict);
        String text = promptFile != null ? Files.readString(promptFile) : prompt;
        long usedSeed = seed >= 0 ? seed : new java.security.SecureRandom().nextLong() & Long.MAX_VALUE;
        var sampler = new SamplerOptions(temperature, topK, topP, minP, repeatPenalty, repeatLastN, usedSeed);
        boolean speculative = speculation.on("ngram", "model");
        try (Model m = Model.load(model.modelPath(err), model.loadOptions(n -> err.println("note: " + n)));
             Model draftModel = speculative ? speculation.loadDraft(model.loadOptions(n -> err.println("note (draft): " + n))) : null) {
            if (model.usingDefault()) {
                err.println("note: no -m given: running the embedded model " + model.modelPath(err)
                        + " (stories260K, a 260K-parameter model of children's stories; see README for running others)");
            }
            // the context holds the decoder's tokens for an encoder-decoder model (its start token, then the reply)
            int promptTokens = m.isEncoderDecoder() ? 1 : m.tokenizer().encode(text, m.tokenizer().addBosByDefault(), false).length;
            int ctx = model.context(m, err);
            int tokens = budget(promptTokens, ctx);
            if (model.contextLength <= 0 && (long) promptTokens + tokens > ctx) {
                long wanted = (long) promptTokens + tokens;
                if (wanted > Integer.MAX_VALUE) throw new IllegalArgumentException("-n " + tokens + " and a prompt of " + promptTokens + " tokens exceed any context");
                boolean trained = ctx == m.config().contextLength();
                err.println("note: " + promptTokens + " prompt + " + tokens + " new tokens exceed " + (trained ? "the model's trained context of " : "the default context of ")
                        + ctx + "; the context is extended to " + wanted + (trained || wanted > m.config().contextLength()
                        ? " (quality may degrade past the trained length)" : ""));
                ctx = (int) wanted;
            }
            if (temperature > 0) err.println("seed: " + usedSeed);
            var adapters = lora.load(m);
            try (Session s = m.newSession(ctx)) {
                s.setAdapters(adapters);
                // an encoder-decoder model's output is not a continuation of the prompt: it goes on a line of its own
                if (m.isEncoderDecoder()) out.println(text);
                else out.print(text);
                out.flush();
                // a session generates at most its context + 1 tokens (then it stops: context full), and sizes its
                // output array by the budget: a budget past that is the same run without an array of -n entries
                int budget = (int) Math.min(tokens, ctx + 1L);
                var options = new GenerateOptions(budget, sampler, null, !ignoreEos);
                if (speculative) options = options.speculative(speculation.draft(draftModel), speculation.k);
                Generation g = s.generate(text, options, (id, piece) -> {
                    out.print(piece);
                    out.flush();
                });
                out.println();
                err.printf("backend: %s%n", m.backendName());
                err.printf("prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s | stop: %s%n",
                        g.promptTokens().length, g.promptTokensPerSecond(), g.tokens().length, g.tokensPerSecond(),
                        g.stop().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '));
                if (g.speculation() != null) err.println("speculation (" + speculation.describe() + "): " + SpeculationOptions.report(g.speculation()));
                if (g.stop() == Generation.StopReason.CONTEXT_FULL) {
                    err.println("note: the context (" + ctx + " tokens) is full; raise it with --ctx");
                }
            }
        }
        return 0;
    }

    /**
     * The -n given, else {@link #DEFAULT_TOKENS}; with the embedded model, the room its context has left: its stories
     * run to 250–450 tokens and end on their own (the model emits its end-of-text token), so a fixed 128 would cut
     * the first run's story short.
     */
    private int budget(int promptTokens, int ctx) {
        if (nPredict != null) return nPredict;
        if (model.usingDefault() && ctx > promptTokens) return ctx - promptTokens;
        return DEFAULT_TOKENS;
    }
}
