package dev.infercl.quant;

import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.backend.cpu.CpuBackend;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.commons.math3.stat.descriptive.rank.Percentile;

/**
 * Activation statistics of a full-precision model over calibration text: for every linear layer (keyed by its
 * weight's GGUF name) the absolute maximum of each input column over all calibration tokens.
 *
 * @param inputAbsMax weight name -> (in) max |x_j|
 * @param tokens      calibration tokens the model ran over
 * @param windows     forward windows they were split into
 */
public record Calibration(Map<String, float[]> inputAbsMax, long tokens, int windows) {

    /** Receives (windows done, windows in all). */
    @FunctionalInterface
    public interface Progress {
        void update(int done, int total);
    }

    public Calibration {
        inputAbsMax = Map.copyOf(inputAbsMax);
    }

    /** The per-column input maxima of the layer whose weight is {@code weightName}, or null when it never ran. */
    public float[] absMax(String weightName) {
        float[] m = inputAbsMax.get(weightName);
        return m == null ? null : m.clone();
    }

    /**
     * How far the largest channel stands out: max_j / median_j of a layer's input maxima (about 1–5 in a model
     * without outlier channels; large language models show 20–100).
     */
    public double outlierRatio(String weightName) {
        float[] m = inputAbsMax.get(weightName);
        if (m == null) throw new IllegalArgumentException("no calibration for " + weightName);
        double[] d = new double[m.length];
        double max = 0;
        for (int i = 0; i < m.length; i++) {
            d[i] = m[i];
            max = Math.max(max, m[i]);
        }
        double median = new Percentile().evaluate(d, 50);
        return median > 0 ? max / median : Double.POSITIVE_INFINITY;
    }

    /**
     * Splits {@code textIds} (tokenized text without BOS) into windows of at most {@code context} tokens, each
     * starting with {@code bos} when it is ≥ 0, keeping at most {@code maxWindows} (≤ 0: all).
     */
    public static List<int[]> windows(int[] textIds, int context, int bos, int maxWindows) {
        if (context < 2) throw new IllegalArgumentException("context must be ≥ 2 tokens, got " + context);
        int body = bos >= 0 ? context - 1 : context;
        var r = new ArrayList<int[]>();
        for (int from = 0; from < textIds.length && (maxWindows <= 0 || r.size() < maxWindows); from += body) {
            int[] part = Arrays.copyOfRange(textIds, from, Math.min(textIds.length, from + body));
            if (bos >= 0) {
                int[] w = new int[part.length + 1];
                w[0] = bos;
                System.arraycopy(part, 0, w, 1, part.length);
                part = w;
            }
            if (part.length >= 2) r.add(part);
        }
        return r;
    }

    /**
     * Runs the model in {@code modelPath} on the CPU backend ({@code threads}; ≤ 0: all cores) over {@code text},
     * in windows of {@code context} tokens (≤ 0: the model's default context, {@link dev.infercl.model.ModelConfig#defaultContext()}), at most {@code maxWindows} of
     * them (≤ 0: all), recording every linear layer's input maxima.
     */
    public static Calibration run(Path modelPath, String text, int context, int maxWindows, int threads, Progress progress) throws IOException {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        var backend = new CalibratingBackend(new CpuBackend(CpuBackend.Mode.FAST, n));
        try (Model model = Model.load(modelPath, LoadOptions.defaults(), backend)) {
            int ctx = context > 0 ? context : model.config().defaultContext();
            var tok = model.tokenizer();
            int bos = tok.addBosByDefault() ? tok.bosId() : -1;
            List<int[]> windows = windows(tok.encode(text, false, false), ctx, bos, maxWindows);
            if (windows.isEmpty()) throw new IllegalArgumentException("the calibration text holds fewer than 2 tokens");
            return run(model, backend, windows, progress);
        }
    }

    /** Runs {@code model} (loaded onto {@code backend}) over the windows and returns what the backend recorded. */
    public static Calibration run(Model model, CalibratingBackend backend, List<int[]> windows, Progress progress) {
        backend.clear();
        long tokens = 0;
        int ctx = windows.stream().mapToInt(w -> w.length).max().orElse(1);
        try (Session s = model.newSession(ctx)) {
            for (int i = 0; i < windows.size(); i++) {
                s.reset();
                s.logits(windows.get(i));   // every row reaches every matmul, the classifier included
                tokens += windows.get(i).length;
                if (progress != null) progress.update(i + 1, windows.size());
            }
        }
        return new Calibration(backend.inputAbsMax(), tokens, windows.size());
    }
}
