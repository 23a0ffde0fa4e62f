package dev.infercl.quant;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.backend.cpu.CpuBackend;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SmoothQuant's acceptance, teacher-forced over the reference sequence of ../shared/reference/stories260K-f32.json
 * (prompt + 200 greedy ids, one window) against the F32 model on the same backend:
 * W8A16 per channel KLD ≤ 0.001 and top-1 ≥ 99%; W8A8 SmoothQuant (α = 0.5) KLD ≤ 0.002 and top-1 ≥ 97%; on the
 * function-preserving outlier model naive W8A8 has at least 10× SmoothQuant's KLD and SmoothQuant stays in bounds.
 * Calibration text: 16 stories sampled from the F32 model at temperature 1 (seeds 1–16); never the evaluated text.
 */
class SmoothQuantAcceptanceTest {

    @TempDir static Path tmp;
    static Path f32, outlier, w8a16, w8a8, w8a8Naive, outlierSq, outlierNaive;
    static int[] ids;

    @BeforeAll
    static void quantize() throws Exception {
        f32 = QuantTestModels.f32();
        ids = QuantTestModels.referenceIds();
        List<int[]> calibrationWindows = QuantTestModels.sampledWindows(1, 16, 120);
        outlier = tmp.resolve("outlier-f32.gguf");
        QuantTestModels.writeOutlierModel(f32, outlier);

        w8a16 = tmp.resolve("w8a16.gguf");
        Quantizer.quantize(f32, w8a16, Quantizer.Options.of(Scheme.W8A16), null);
        w8a8 = tmp.resolve("w8a8.gguf");
        Quantizer.quantize(f32, w8a8, Quantizer.Options.of(Scheme.W8A8).withCalibration(calibrate(f32, calibrationWindows)), null);
        w8a8Naive = tmp.resolve("w8a8-naive.gguf");
        Quantizer.quantize(f32, w8a8Naive, Quantizer.Options.of(Scheme.W8A8).withSmooth(false), null);
        outlierSq = tmp.resolve("outlier-w8a8.gguf");
        Quantizer.quantize(outlier, outlierSq, Quantizer.Options.of(Scheme.W8A8).withCalibration(calibrate(outlier, calibrationWindows)), null);
        outlierNaive = tmp.resolve("outlier-w8a8-naive.gguf");
        Quantizer.quantize(outlier, outlierNaive, Quantizer.Options.of(Scheme.W8A8).withSmooth(false), null);
    }

    static Calibration calibrate(Path model, List<int[]> windows) throws Exception {
        var backend = new CalibratingBackend(new CpuBackend(CpuBackend.Mode.FAST, 2));
        try (Model m = dev.infercl.api.Model.load(model, dev.infercl.api.LoadOptions.defaults(), backend)) {
            return Calibration.run(m, backend, windows, null);
        }
    }

    static Evaluator.Result eval(Path model, String backend) throws Exception {
        var r = QuantTestModels.evaluate(model, f32, backend, List.of(ids));
        System.out.printf(Locale.ROOT, "%-24s %-6s KLD %.6f [%.6f, %.6f] max %.4f  top-1 %.4f  ppl %.4f  (%d positions)%n",
                model.getFileName(), backend, r.kld().value(), r.kld().low(), r.kld().high(), r.kldMax(), r.top1().value(), r.perplexity().value(), r.tokens());
        return r;
    }

    @Test
    void outlierModelIsFunctionPreservingInF32() throws Exception {
        double d = QuantTestModels.maxLogitDifference(f32, outlier, "CPU", ids);
        assertTrue(d <= 1e-3, "max |logit(outlier) − logit(f32)| = " + d);
        // and the outliers are really there: the calibrated input maxima of attn_q stand out
        var c = calibrate(outlier, QuantTestModels.sampledWindows(1, 2, 60));
        assertTrue(c.outlierRatio("blk.2.attn_q.weight") > 10, "outlier ratio " + c.outlierRatio("blk.2.attn_q.weight"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"CPU", "OPENCL"})
    void w8a16PerChannel(String backend) throws Exception {
        var r = eval(w8a16, backend);
        assertTrue(r.kld().value() <= 0.001, "mean KLD " + r.kld().value());
        assertTrue(r.top1().value() >= 0.99, "top-1 agreement " + r.top1().value());
    }

    @ParameterizedTest
    @ValueSource(strings = {"CPU", "OPENCL"})
    void w8a8SmoothQuantAlphaHalf(String backend) throws Exception {
        var r = eval(w8a8, backend);
        assertTrue(r.kld().value() <= 0.002, "mean KLD " + r.kld().value());
        assertTrue(r.top1().value() >= 0.97, "top-1 agreement " + r.top1().value());
        eval(w8a8Naive, backend);   // reported for the documentation's table
    }

    @ParameterizedTest
    @ValueSource(strings = {"CPU", "OPENCL"})
    void outlierModelNaiveDegradesSmoothQuantRecovers(String backend) throws Exception {
        var naive = eval(outlierNaive, backend);
        var sq = eval(outlierSq, backend);
        assertTrue(naive.kld().value() >= 10 * sq.kld().value(), "naive KLD " + naive.kld().value() + " vs SmoothQuant " + sq.kld().value());
        assertTrue(sq.kld().value() <= 0.002, "SmoothQuant mean KLD " + sq.kld().value());
        assertTrue(sq.top1().value() >= 0.97, "SmoothQuant top-1 " + sq.top1().value());
    }

    /**
     * W8A16 gives the same logits on both backends (within 1e-3); W8A8 the same distributions (mean KLD between
     * them ≤ 5e-4): see the comment inside for why its logits cannot agree to 1e-3 over a long sequence.
     */
    @Test
    void openClAndCpuAgreeOnEveryQuantizedModel() throws Exception {
        dev.infercl.backend.opencl.ClTestSupport.requireOpenCl();
        for (Path p : new Path[] {w8a16, w8a8, w8a8Naive, outlierSq, outlierNaive}) {
            try (Model c = Model.load(p, QuantTestModels.options("CPU")); Model g = Model.load(p, QuantTestModels.options("OPENCL"));
                 Session sc = c.newSession(ids.length); Session sg = g.newSession(ids.length)) {
                float[][] a = sc.logits(ids), b = sg.logits(ids);
                double worst = 0;
                int first = -1;
                for (int i = 0; i < a.length; i++) {
                    for (int v = 0; v < a[i].length; v++) worst = Math.max(worst, Math.abs(a[i][v] - b[i][v]));
                    if (first < 0 && worst > 1e-3) first = i;
                }
                double kld = 0;
                for (int i = 0; i < a.length; i++) {
                    double[] la = Evaluator.logSoftmax(a[i]), lb = Evaluator.logSoftmax(b[i]);
                    for (int v = 0; v < la.length; v++) kld += Math.exp(la[v]) * (la[v] - lb[v]);
                }
                kld /= a.length;
                System.out.printf(Locale.ROOT, "%-24s CPU vs OPENCL max |Δlogit| %.2e, first position above 1e-3: %d, mean KLD(CPU‖OpenCL) %.2e%n",
                        p.getFileName(), worst, first, kld);
                if (p == w8a16) assertTrue(worst <= 1e-3, "W8A16: max |logit CPU − OpenCL| = " + worst);
                // W8A8 rounds every activation to int8: a value within float noise of a rounding boundary (the F32 ops
                // before it differ in their last bits between backends) lands on another integer, which moves the
                // logits by about one quantization step from that position on. So bound the distributions instead.
                assertTrue(kld <= 5e-4, p.getFileName() + ": mean KLD between the backends " + kld);
            }
        }
    }
}
