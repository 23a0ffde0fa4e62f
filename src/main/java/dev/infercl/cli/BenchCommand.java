package dev.infercl.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.infercl.api.Benchmark;
import dev.infercl.api.Model;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Prefill and decode speed, read bandwidth and arithmetic rate, and the rooflines of decode and prefill of a model on a backend. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prefill (pp) and decode (tg) tokens/s, bandwidth and arithmetic rate, and both rooflines.")
final class BenchCommand extends Streams.Command implements Callable<Integer> {

    @Mixin ModelOptions model;

    @Option(names = {"-p", "--prompts"}, split = ",", defaultValue = "128,512", description = "prefill sizes (default: ${DEFAULT-VALUE})")
    int[] prompts;

    @Option(names = {"-n", "--n-gen"}, defaultValue = "128", description = "tokens per decode run (default: ${DEFAULT-VALUE})")
    int generate;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "5", description = "runs per measurement (default: ${DEFAULT-VALUE})")
    int repetitions;

    @Option(names = "--long-ctx", defaultValue = "2048", description = "also decode after this many positions; 0 = skip (default: ${DEFAULT-VALUE})")
    int longContext;

    @Option(names = "--ctx-sweep", split = ",", description = "instead: decode tokens/s at each of these context lengths "
            + "(median of three runs of -n tokens each), e.g. 128,512,1024,2048")
    int[] contextSweep;

    @Option(names = "--parallel", split = ",", description = "instead: aggregate decode tokens/s of N sequences generating -n tokens "
            + "each at once through the continuous-batching scheduler (N threads, one session each), e.g. 1,2,4,8,16")
    int[] parallel;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Mixin SpeculationOptions speculation;

    @Option(names = "--spec-prompt", defaultValue = "Once upon a time", description = "with --spec: the prompt the greedy runs continue (default: \"${DEFAULT-VALUE}\")")
    String specPrompt;

    @Override
    public Integer call() throws Exception {
        if (generate < 1 || repetitions < 1) throw new IllegalArgumentException("-n and -r must be ≥ 1");
        for (int p : prompts) if (p < 1) throw new IllegalArgumentException("prefill sizes must be ≥ 1, got " + p);
        long t0 = System.nanoTime();
        if (parallel != null) return parallel();
        if (speculation.on("ngram", "model", "oracle")) return speculative();
        try (Model m = Model.load(model.modelPath(err), model.loadOptions(n -> err.println("note: " + n)))) {
            double loadSec = (System.nanoTime() - t0) / 1e9;
            if (contextSweep != null) return sweep(m);
            int maxCtx = Math.max(m.config().contextLength(), longContext + generate);
            int depth = Math.min(longContext, maxCtx - generate);
            var r = Benchmark.run(m, new Benchmark.Options(prompts, generate, repetitions, depth, 1234));
            long peak = r.peakHostBytes();
            if (json) {
                var mapper = new ObjectMapper();
                var root = mapper.createObjectNode();
                root.put("model", m.path().toString()).put("backend", r.backend()).put("load_seconds", loadSec);
                var pp = root.putObject("pp_tokens_per_s");
                var ppSd = root.putObject("pp_tokens_per_s_sd");
                var ppRoof = root.putObject("pp_roofline_tokens_per_s");
                var ppFrac = root.putObject("pp_roofline_fraction");
                for (Map.Entry<Integer, Benchmark.Stat> e : r.prefill().entrySet()) {
                    String p = String.valueOf(e.getKey());
                    pp.put(p, e.getValue().mean());
                    ppSd.put(p, e.getValue().sd());
                    ppRoof.put(p, r.prefillRoofline().get(e.getKey()));
                    ppFrac.put(p, r.prefillRooflineFraction(e.getKey()));
                }
                var macs = root.putObject("multiply_adds_per_s");
                r.multiplyAddRates().forEach((type, rate) -> macs.put(type.name(), rate));
                root.put("tg_tokens_per_s", r.decode().mean()).put("tg_tokens_per_s_sd", r.decode().sd()).put("tg_tokens", generate)
                        .put("tg_cpu_ms_per_token", r.decodeCpuMsPerToken());
                if (r.decodeLong() != null) {
                    root.put("tg_long_context", r.longContext()).put("tg_long_tokens_per_s", r.decodeLong().mean())
                            .put("tg_long_tokens_per_s_sd", r.decodeLong().sd()).put("tg_long_ratio", r.decodeLongRatio());
                }
                var probes = root.put("bandwidth_gb_per_s", r.bandwidth() / 1e9).putArray("bandwidth_probes_gb_per_s");
                r.bandwidthProbes().forEach(b -> probes.add(b / 1e9));
                root.put("bytes_per_token", r.bytesPerToken())
                        .put("roofline_tokens_per_s", r.rooflineTokensPerSecond()).put("roofline_fraction", r.rooflineFraction())
                        .put("weight_bytes", r.weightBytes()).put("peak_host_bytes", peak).put("device_bytes", r.deviceBytes())
                        .put("repetitions", repetitions);
                out.println(mapper.writeValueAsString(root));
            } else {
                out.printf(Locale.ROOT, "model: %s%nbackend: %s, load %.2f s%n", m.path(), r.backend(), loadSec);
                for (var e : r.prefill().entrySet()) {
                    out.printf(Locale.ROOT, "pp%-5d %10.1f ± %.1f tokens/s (%.0f%% of its compute roofline, %.1f tokens/s)%n", e.getKey(),
                            e.getValue().mean(), e.getValue().sd(), 100 * r.prefillRooflineFraction(e.getKey()), r.prefillRoofline().get(e.getKey()));
                }
                out.printf(Locale.ROOT, "tg%-5d %10.1f ± %.1f tokens/s, %.1f ms of process CPU time per token%n", generate,
                        r.decode().mean(), r.decode().sd(), r.decodeCpuMsPerToken());
                if (r.decodeLong() != null) {
                    out.printf(Locale.ROOT, "tg%d @ %d  %6.1f ± %.1f tokens/s (%.0f%% of short-context decode: median over %d back-to-back pairs of runs)%n",
                            generate, r.longContext(), r.decodeLong().mean(), r.decodeLong().sd(), 100 * r.decodeLongRatio(), r.decodeLong().runs());
                }
                String probes = r.bandwidthProbes().stream().map(b -> String.format(Locale.ROOT, "%.1f", b / 1e9))
                        .collect(java.util.stream.Collectors.joining(", "));
                out.printf(Locale.ROOT, "bandwidth %.1f GB/s (probes before and after decode: %s); a decode step reads %.1f MB -> roofline %.1f tokens/s; achieved %.0f%%%n",
                        r.bandwidth() / 1e9, probes, r.bytesPerToken() / 1e6, r.rooflineTokensPerSecond(), 100 * r.rooflineFraction());
                out.printf(Locale.ROOT, "compute: %s multiply-adds/s (the probe of the arithmetic each weight type's products use)%n",
                        r.multiplyAddRates().entrySet().stream().map(e -> String.format(Locale.ROOT, "%s %.1f G", e.getKey(), e.getValue() / 1e9))
                                .collect(java.util.stream.Collectors.joining(", ")));
                out.printf(Locale.ROOT, "memory: peak host %s, backend buffers %s%n", InfoCommand.bytes(peak), InfoCommand.bytes(r.deviceBytes()));
            }
        }
        return 0;
    }

    /**
     * --spec: greedy decoding of -n tokens after --spec-prompt with and without speculation (medians of -r runs each),
     * the acceptance rate and tokens per target forward, and a verification step's price against a decode step.
     */
    private int speculative() throws Exception {
        var options = model.loadOptions(n -> err.println("note: " + n));
        try (Model m = Model.load(model.modelPath(err), options); Model draftModel = speculation.loadDraft(options)) {
            var draft = speculation.spec.equals("oracle") ? null : speculation.draft(draftModel);
            var r = Benchmark.speculative(m, specPrompt, generate, repetitions, draft, speculation.k);
            if (json) {
                var mapper = new ObjectMapper();
                var root = mapper.createObjectNode();
                root.put("model", m.path().toString()).put("backend", r.backend()).put("spec", r.draft()).put("spec_k", r.k());
                if (draftModel != null) root.put("draft_model", draftModel.path().toString());
                if (r.draft().equals("ngram")) root.put("spec_n", speculation.n);
                root.put("tg_tokens", r.tokens()).put("repetitions", r.runs())
                        .put("plain_tokens_per_s", r.plainTokensPerS()).put("spec_tokens_per_s", r.specTokensPerS()).put("speedup", r.speedup())
                        .put("acceptance_rate", r.acceptanceRate()).put("tokens_per_target_forward", r.tokensPerForward())
                        .put("decode_step_ms", r.decodeStepMs()).put("verify_step_ms", r.verifyStepMs()).put("verify_over_decode", r.verifyOverDecode());
                out.println(mapper.writeValueAsString(root));
            } else {
                out.printf(Locale.ROOT, "model: %s%nbackend: %s%nspeculation: %s%n", m.path(), r.backend(), speculation.describe());
                out.printf(Locale.ROOT, "tg%-5d plain %8.2f tokens/s, speculative %8.2f tokens/s (%.2f×), medians of %d runs%n",
                        r.tokens(), r.plainTokensPerS(), r.specTokensPerS(), r.speedup(), r.runs());
                out.printf(Locale.ROOT, "acceptance %.1f%%, %.2f tokens per target forward%n", 100 * r.acceptanceRate(), r.tokensPerForward());
                out.printf(Locale.ROOT, "a forward of %d tokens %.2f ms, of 1 token %.2f ms: %.2f× (median of back-to-back pairs)%n",
                        r.k() + 1, r.verifyStepMs(), r.decodeStepMs(), r.verifyOverDecode());
            }
        }
        return 0;
    }

    private int parallel() throws Exception {
        int most = 0;
        for (int n : parallel) {
            if (n < 1) throw new IllegalArgumentException("--parallel counts must be ≥ 1, got " + n);
            most = Math.max(most, n);
        }
        // each session holds its prompt and -n tokens; the shared cache holds the largest N of them (batched even at N = 1)
        var options = model.loadOptions(n -> err.println("note: " + n))
                .withContextLength(Benchmark.PARALLEL_PROMPT + generate + 1).withParallel(Math.max(2, most));
        try (Model m = Model.load(model.modelPath(err), options)) {
            Map<Integer, Benchmark.Stat> rates = Benchmark.parallelDecode(m, parallel, generate, repetitions, 1234);
            double one = rates.containsKey(1) ? rates.get(1).mean() : Double.NaN;
            if (json) {
                var mapper = new ObjectMapper();
                var root = mapper.createObjectNode();
                root.put("model", m.path().toString()).put("backend", m.backendName()).put("tg_tokens", generate).put("repetitions", repetitions);
                var tps = root.putObject("parallel_tokens_per_s");
                var sd = root.putObject("parallel_tokens_per_s_sd");
                rates.forEach((n, s) -> {
                    tps.put(String.valueOf(n), s.mean());
                    sd.put(String.valueOf(n), s.sd());
                });
                out.println(mapper.writeValueAsString(root));
            } else {
                out.printf(Locale.ROOT, "model: %s%nbackend: %s%n", m.path(), m.backendName());
                rates.forEach((n, s) -> out.printf(Locale.ROOT, "tg%d × %-3d %10.1f ± %.1f tokens/s in all%s%n", generate, n, s.mean(), s.sd(),
                        Double.isNaN(one) ? "" : String.format(Locale.ROOT, " (%.2f× one sequence)", s.mean() / one)));
            }
        }
        return 0;
    }

    private int sweep(Model m) throws Exception {
        for (int d : contextSweep) if (d < 1) throw new IllegalArgumentException("--ctx-sweep lengths must be ≥ 1, got " + d);
        Map<Integer, Double> rates = Benchmark.contextSweep(m, contextSweep, generate, 1234);
        if (json) {
            var mapper = new ObjectMapper();
            var root = mapper.createObjectNode();
            root.put("model", m.path().toString()).put("backend", m.backendName()).put("tg_tokens", generate);
            var sweep = root.putObject("ctx_sweep_tokens_per_s");
            rates.forEach((d, r) -> sweep.put(String.valueOf(d), r));
            out.println(mapper.writeValueAsString(root));
        } else {
            out.printf(Locale.ROOT, "model: %s%nbackend: %s%n", m.path(), m.backendName());
            rates.forEach((d, r) -> out.printf(Locale.ROOT, "tg%d @ %-6d %8.2f tokens/s%n", generate, d, r));
        }
        return 0;
    }
}
