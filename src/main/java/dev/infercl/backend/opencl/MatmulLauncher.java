package dev.infercl.backend.opencl;

import dev.infercl.backend.Elementwise;
import dev.infercl.backend.Linear;
import dev.infercl.gguf.GgmlType;
import java.util.Locale;
import org.jocl.cl_mem;

/**
 * Launches of the matrix products: {@code out = x · wᵀ} for every weight type (GEMV or tiled GEMM, per part of a
 * split weight), the fused one-token kernels (up to three products of one input, optionally accumulated into their
 * outputs; gate·up·SwiGLU), and W8A8's per-token activation quantization. Biases, accumulation and gates the fused
 * kernels do not cover go through the element-wise ops on a scratch product.
 */
final class MatmulLauncher {
    private final ClRuntime rt;
    private final KernelChooser choose;
    private final Kernels kernels;
    private final ElementwiseLauncher elementwise;
    private cl_mem quantized;     // W8A8: (tokens, in) int8 activations
    private cl_mem tokenScales;   // W8A8: (tokens) F32 activation scales
    private cl_mem product;       // (tokens, out) F32: a product before its bias, accumulation or gate
    private cl_mem q8kValues;     // K-quant products: (tokens, in) int8 activations (quantize_f32_q8k) …
    private cl_mem q8kScales;     // … (tokens, in / 256) F32 scales …
    private cl_mem q8kSums;       // … (tokens, in / 16) int16 sums of 16
    private ClTensor q8kOf;       // the input those hold, within one linear or gated call (null: none)
    private boolean q8kFailed;    // "auto" found that blocks_q8k.h does not build on this device
    private cl_mem amxValues;     // AMX products: activations as Q8_0 in tile order (quantize_f32_q8_0tiles) …
    private cl_mem amxScales;     // … their F16 scales …
    private cl_mem amxSums;       // … and F32 block sums (the offsets' products)
    private cl_mem unpackedValues;  // AMX products of Q4_0 weights: a part unpacked to int8 …
    private cl_mem unpackedScales;  // … and its F32 block scales
    private ClTensor amxOf;       // the input those hold, within one linear or gated call (null: none)
    private boolean amxFailed;    // "auto" found that the AMX kernel does not build on this device
    private cl_mem q8xValues;     // Q8_0 one-token products: activations as Q8_0 in rows (quantize_f32_q8_0) …
    private cl_mem q8xScales;     // … and their F16 scales
    private ClTensor q8xOf;       // the input those hold, within one linear or gated call (null: none)
    private boolean q8xFailed;    // matmul_q8_0_q8_0.h does not build on this device

    MatmulLauncher(ClRuntime rt, KernelChooser choose, Kernels kernels, ElementwiseLauncher elementwise) {
        this.rt = rt;
        this.choose = choose;
        this.kernels = kernels;
        this.elementwise = elementwise;
    }

    void linear(ClTensor in, Linear[] outputs) {
        try {
            linearProducts(in, outputs);
        } finally {
            forgetQuantized(); // the next call's input may be the same buffer with new values
        }
    }

    private void forgetQuantized() {
        q8kOf = null;
        amxOf = null;
        q8xOf = null;
    }

    private void linearProducts(ClTensor in, Linear[] outputs) {
        if (fusedGemv(in, outputs)) {
            gemvMulti(in, outputs);
            return;
        }
        if (outputs.length > 2 && fusedByType(in, outputs)) return;
        for (Linear l : outputs) {
            ClTensor o = ClBackend.act(l.out()), w = (ClTensor) l.weight();
            ClTensor dst = l.accumulate() ? productScratch(in.rows, o.cols) : o;
            matmul(dst, in, w);
            if (l.bias() != null) elementwise.map(dst, Elementwise.ADD_ROW, dst, (ClTensor) l.bias());
            if (l.accumulate()) elementwise.map(o, Elementwise.ADD, o, dst);
        }
    }

    /** out = glu(x·gateᵀ, x·upᵀ): one launch for SwiGLU of one token where a fused kernel exists, else two products and the gate op. */
    void gated(ClTensor o, ClTensor in, ClTensor g, ClTensor u, Elementwise glu) {
        try {
            gatedProducts(o, in, g, u, glu);
        } finally {
            forgetQuantized();
        }
    }

    private void gatedProducts(ClTensor o, ClTensor in, ClTensor g, ClTensor u, Elementwise glu) {
        if (!glu.gate()) throw new IllegalArgumentException("gatedLinear takes SILU_MUL or GELU_MUL, not " + glu.kind());
        if (glu.kind() == Elementwise.Kind.SILU_MUL && fusedGemv(in, g, u) && g.rows == u.rows && o.rows == 1 && o.cols == g.rows) {
            var launch = fusedLaunch("gemvswiglu", in, g);
            launch.i(g.rows);
            weight(launch, g.parts[0]);
            weight(launch, u.parts[0]);
            launch.mem(o.act()).run(new long[] {choose.gemvGlobal(g.rows, 1)[0]}, new long[] {choose.gemvLocal()[0]});
            return;
        }
        matmul(o, in, g);
        ClTensor up = productScratch(in.rows, u.rows);
        matmul(up, in, u);
        elementwise.map(o, glu, o, up);
    }

    /** out = x · wᵀ with the kernel the chooser picks, one launch per part of the weight. */
    void matmul(ClTensor o, ClTensor in, ClTensor w) {
        if (in.cols != w.cols || o.cols != w.rows || o.rows != in.rows) {
            throw new IllegalArgumentException("matmul shapes: out " + o.rows + "×" + o.cols + ", x " + in.rows + "×" + in.cols
                    + ", " + w.name + " " + w.rows + "×" + w.cols);
        }
        int n = in.rows;
        KernelChooser.Matmul kind = choose.matmul(n);
        boolean q8x = choose.q8Activations(w.type) && !q8xFailed;
        if ((kind == KernelChooser.Matmul.GEMM || q8x) && choose.amx(w.type, n, q8x) && !amxFailed && amxMatmul(o, in, w)) return;
        if (q8x && q8Activations(in, w)) {
            q8xMatmul(o, in, w);
            return;
        }
        if (choose.q8k(w.type) && !q8kFailed && q8kMatmul(o, in, w, kind == KernelChooser.Matmul.GEMM)) return;
        String variant = kind.name().toLowerCase(Locale.ROOT);
        String stem = (w.type != GgmlType.I8 ? "matmul_" + ElementwiseLauncher.typeName(w.type) + "_f32_"
                : w.w8a8 ? "matmul_i8_i8_" : "matmul_i8_f32_") + variant;
        var defines = new java.util.HashMap<>(ElementwiseLauncher.typeDefines(w.type));
        if (kind == KernelChooser.Matmul.GEMM) defines.putAll(choose.gemmDefines(n));
        var k = kernels.get(stem, defines);
        quantizeInput(in, w);
        for (ClTensor.Part p : w.parts) {
            int rows = Math.min(p.rows(), w.rows - p.row0());
            if (rows <= 0) continue;
            var launch = rt.launch(k, stem + " on '" + w.name + "'");
            input(launch, in, w);
            weight(launch, p).mem(o.act()).i(n).i(in.cols).i(rows).i(o.cols).i(p.row0());
            if (w.type == GgmlType.I8 && !w.w8a8) launch.i(w.groupSize);
            launch.run(choose.matmulGlobal(kind, rows, n), choose.matmulLocal(kind));
        }
    }

    /**
     * out = x · wᵀ with int8 activations (matmul_block_q8k_gemv, or _gemm for {@code gemm}, a work-item per row and
     * {@link KernelChooser#q8kTokens} tokens: the same sums per token as the GEMV's): x quantized once per
     * linear or gated call, then one launch per part. False, with nothing launched, where "auto" finds the kernels do
     * not build on this device.
     */
    private boolean q8kMatmul(ClTensor o, ClTensor in, ClTensor w, boolean gemm) {
        int tokens = KernelChooser.q8kTokens(in.rows);
        String stem = gemm ? "matmul_block_q8k_gemm" : "matmul_block_q8k_gemv";
        var k = q8kKernel(stem, w, gemm ? tokens : 0);
        if (k == null) return false;
        int n = in.rows;
        quantizeQ8k(in, w);
        for (ClTensor.Part p : w.parts) {
            int rows = Math.min(p.rows(), w.rows - p.row0());
            if (rows <= 0) continue;
            rt.launch(k, stem + " on '" + w.name + "'")
                    .mem(q8kValues).mem(q8kScales).mem(q8kSums).mem(p.data()).mem(o.act())
                    .i(n).i(in.cols).i(rows).i(o.cols).i(p.row0())
                    .run(choose.gemvGlobal(rows, gemm ? (n + tokens - 1) / tokens : n), choose.gemvLocal());
        }
        return true;
    }

    /**
     * The int8-activation kernel {@code stem} for w's type ({@code tokens} > 0: Q8K_TOKENS of the GEMM), or null
     * where "auto" finds that blocks_q8k.h does not build on this device (the float kernels then serve).
     */
    private org.jocl.cl_kernel q8kKernel(String stem, ClTensor w, int tokens) {
        if (q8kFailed) return null;
        var defines = new java.util.HashMap<>(ElementwiseLauncher.typeDefines(w.type));
        if (choose.q8k > 0) defines.put("Q8K_BYTES", String.valueOf(choose.q8k));
        if (tokens > 0) defines.put("Q8K_TOKENS", String.valueOf(tokens));
        try {
            return kernels.get(stem, defines);
        } catch (KernelBuildException e) {
            if (choose.q8k > 0) throw e;
            q8kFailed = true;
            return null;
        }
    }

    /** x as Q8_K (quantize_f32_q8k) into the K-quant scratch, once per linear or gated call. */
    private void quantizeQ8k(ClTensor in, ClTensor w) {
        if (q8kOf == in) return;
        int n = in.rows;
        q8kValues = rt.grow(q8kValues, "K-quant activation scratch", (long) n * in.cols);
        q8kScales = rt.grow(q8kScales, "K-quant activation scales", 4L * n * (in.cols / 256));
        q8kSums = rt.grow(q8kSums, "K-quant activation sums", 2L * n * (in.cols / 16));
        rt.launch(kernels.get("quantize_f32_q8k"), "quantize_f32_q8k for '" + w.name + "'")
                .mem(in.act()).mem(q8kValues).mem(q8kScales).mem(q8kSums).i(in.cols)
                .run(new long[] {in.cols / 256, n}, null);
        q8kOf = in;
    }

    /**
     * Whether the product of {@code w} takes Q8_0 activations ({@link KernelChooser#q8Activations}) and they are ready:
     * x quantized to Q8_0 in rows once per linear or gated call (quantize_f32_q8_0). False, with nothing launched,
     * where "auto" finds that matmul_q8_0_q8_0.h does not build on this device (the float kernels then serve).
     */
    private boolean q8Activations(ClTensor in, ClTensor w) {
        if (!choose.q8Activations(w.type) || q8xFailed) return false;
        try {
            kernels.get("matmul_q8_0_q8_0_gemv");
        } catch (KernelBuildException e) {
            if (choose.amxRequired) throw e;
            q8xFailed = true;
            return false;
        }
        if (q8xOf != in) {
            int n = in.rows, stride = KernelChooser.q8xStride(in.cols);
            q8xValues = rt.grow(q8xValues, "Q8_0 activations", (long) n * in.cols);
            q8xScales = rt.grow(q8xScales, "Q8_0 activation scales", 2L * n * stride);
            rt.launch(kernels.get("quantize_f32_q8_0"), "quantize_f32_q8_0 for '" + w.name + "'")
                    .mem(in.act()).mem(q8xValues).mem(q8xScales).i(in.cols)
                    .run(new long[] {stride, n}, null);
            q8xOf = in;
        }
        return true;
    }

    /** out = x · wᵀ with matmul_q8_0_q8_0_gemv, x already quantized by {@link #q8Activations}: one launch per part. */
    private void q8xMatmul(ClTensor o, ClTensor in, ClTensor w) {
        String stem = "matmul_q8_0_q8_0_gemv";
        var k = kernels.get(stem);
        int n = in.rows;
        for (ClTensor.Part p : w.parts) {
            int rows = Math.min(p.rows(), w.rows - p.row0());
            if (rows <= 0) continue;
            rt.launch(k, stem + " on '" + w.name + "'")
                    .mem(q8xValues).mem(q8xScales).mem(p.data()).mem(o.act())
                    .i(n).i(in.cols).i(rows).i(o.cols).i(p.row0())
                    .run(choose.gemvGlobal(rows, n), choose.gemvLocal());
        }
    }

    /**
     * out = x · wᵀ on the AMX tile unit: x quantized to Q8_0 in tile order once per linear or gated call, then per part
     * matmul_q8_0_q8_0_amx (Q8_0), matmul_block_q8_0_amx (Q4_K, Q5_K, Q6_K, unpacked tile by tile as it goes), or the
     * part unpacked to int8 with F32 scales into scratch (unpack_q4_0_i8) and matmul_i8_q8_0_amx (Q4_0). False, with
     * nothing launched, where "auto" finds the kernels do not build.
     */
    private boolean amxMatmul(ClTensor o, ClTensor in, ClTensor w) {
        boolean q8 = w.type == GgmlType.Q8_0, q4 = w.type == GgmlType.Q4_0;
        String stem = q8 ? "matmul_q8_0_q8_0_amx" : q4 ? "matmul_i8_q8_0_amx" : "matmul_block_q8_0_amx", unpackStem = "unpack_q4_0_i8";
        org.jocl.cl_kernel k, unpack = null;
        try {
            var defines = new java.util.HashMap<String, String>(ElementwiseLauncher.typeDefines(w.type));
            defines.put("AMX_GROUPS", String.valueOf(q4 || q8 ? KernelChooser.AMX_GROUPS : KernelChooser.AMX_BLOCK_GROUPS));
            if (q4) unpack = kernels.get(unpackStem);
            k = kernels.get(stem, defines);
        } catch (KernelBuildException e) {
            if (choose.amxRequired) throw e;
            amxFailed = true;
            return false;
        }
        int n = in.rows, groups = (n + 15) / 16, blocks = in.cols / 32;
        if (amxOf != in) {
            amxValues = rt.grow(amxValues, "Q8_0 activation tiles", (long) groups * 16 * in.cols);
            amxScales = rt.grow(amxScales, "Q8_0 activation scales", 2L * groups * 16 * blocks);
            amxSums = rt.grow(amxSums, "Q8_0 activation sums", 4L * groups * 16 * blocks);
            rt.launch(kernels.get("quantize_f32_q8_0tiles"), "quantize_f32_q8_0tiles for '" + w.name + "'")
                    .mem(in.act()).mem(amxValues).mem(amxScales).mem(amxSums).i(n).i(in.cols)
                    .run(new long[] {blocks, groups * 16L}, null);
            amxOf = in;
        }
        // a row's scales padded to whole groups of 16 (the product reads 16 at a time)
        int stride = (in.cols / 32 + 15) / 16 * 16;
        for (ClTensor.Part p : w.parts) {
            int rows = Math.min(p.rows(), w.rows - p.row0());
            if (rows <= 0) continue;
            int perItem = q4 || q8 ? KernelChooser.AMX_GROUPS : KernelChooser.AMX_BLOCK_GROUPS;
            long[] global = {(rows + 15) / 16, (groups + perItem - 1) / perItem}, local = {1, 1};
            if (!q4) {
                var launch = rt.launch(k, stem + " on '" + w.name + "'").mem(amxValues).mem(amxScales);
                if (!q8) launch.mem(amxSums); // the K types' minimums
                launch.mem(p.data()).mem(o.act()).i(n).i(in.cols).i(rows).i(o.cols).i(p.row0()).run(global, local);
                continue;
            }
            // the part in chunks of rows whose int8 copy stays small: in cache for the product that reads it, and
            // within the device's largest buffer (int8 takes more room than the packed weights)
            int chunk = (int) Math.max(16, Math.min(KernelChooser.AMX_UNPACK_BYTES, rt.maxAlloc()) / in.cols / 16 * 16);
            unpackedValues = rt.grow(unpackedValues, "unpacked int8 weights", (long) Math.min(chunk, rows) * in.cols);
            unpackedScales = rt.grow(unpackedScales, "unpacked weight scales", 4L * Math.min(chunk, rows) * stride);
            for (int first = 0; first < rows; first += chunk) {
                int m = Math.min(chunk, rows - first);
                var u = rt.launch(unpack, unpackStem + " on '" + w.name + "'");
                weight(u, p).mem(unpackedValues).mem(unpackedScales).i(in.cols).i(m).i(stride).i(first).run(new long[] {blocks, m}, null);
                rt.launch(k, stem + " on '" + w.name + "'")
                        .mem(amxValues).mem(amxScales).mem(unpackedValues).mem(unpackedScales)
                        .mem(o.act()).i(n).i(in.cols).i(m).i(o.cols).i(p.row0() + first).i(stride)
                        .run(new long[] {(m + 15) / 16, global[1]}, local);
            }
        }
        return true;
    }

    /**
     * The precondition of the fused one-token kernels ({@code gemvmulti}, {@code gemvswiglu}): fusion on, one input
     * row on the GEMV path, weights of one type that has the fused kernel (Q8_0, Q4_0, F16, I8; the K types where their
     * int8-activation kernels build), each in one part, as
     * wide as x. I8 weights must also agree on the scheme and group size, and W8A8 ones on the smoothing vector (the
     * one quantized copy of x serves them all). Anything else takes the general kernels.
     */
    private boolean fusedGemv(ClTensor in, ClTensor... ws) {
        if (!choose.fuse || in.rows != 1 || choose.matmul(1) != KernelChooser.Matmul.GEMV) return false;
        ClTensor first = ws[0];
        boolean q8k = choose.q8k(first.type) && q8kKernel("matmul_block_q8k_gemv", first, 0) != null;
        if (!q8k && first.type != GgmlType.Q8_0 && first.type != GgmlType.Q4_0 && first.type != GgmlType.F16 && first.type != GgmlType.I8) return false;
        for (ClTensor c : ws) {
            if (c.type != first.type || c.parts.length != 1 || c.cols != in.cols) return false;
            if (c.type == GgmlType.I8 && (c.w8a8 != first.w8a8 || c.groupSize != first.groupSize || c.smooth != first.smooth)) return false;
        }
        return true;
    }

    /** {@link #fusedGemv} for the outputs of {@link #linear}: at most three, no biases, one accumulate mode, one row each. */
    private boolean fusedGemv(ClTensor in, Linear[] outputs) {
        if (outputs.length > 3) return false;
        ClTensor[] ws = new ClTensor[outputs.length];
        for (int j = 0; j < outputs.length; j++) {
            Linear l = outputs[j];
            ws[j] = (ClTensor) l.weight();
            ClTensor o = (ClTensor) l.out();
            if (l.bias() != null || l.accumulate() != outputs[0].accumulate() || o.rows != 1 || o.cols != ws[j].rows) return false;
        }
        return fusedGemv(in, ws);
    }

    /**
     * Mixed-type files (a Q4_K_M file's V is Q6_K in some layers): the outputs whose weights share a type go through
     * one gemvmulti each where {@link #fusedGemv} allows, the rest alone. False, with nothing launched, where no two
     * share a fusable type.
     */
    private boolean fusedByType(ClTensor in, Linear[] outputs) {
        var byType = new java.util.LinkedHashMap<GgmlType, java.util.List<Linear>>();
        for (Linear l : outputs) byType.computeIfAbsent(l.weight().type(), t -> new java.util.ArrayList<>()).add(l);
        var groups = byType.values().stream().map(g -> g.toArray(Linear[]::new)).toList();
        if (groups.stream().noneMatch(g -> g.length > 1 && fusedGemv(in, g))) return false;
        for (Linear[] g : groups) linearProducts(in, g);
        return true;
    }

    /** gemvmulti: up to three products in one launch over their concatenated rows (a missing weight repeats the last with 0 rows). */
    private void gemvMulti(ClTensor in, Linear[] outputs) {
        ClTensor w0 = (ClTensor) outputs[0].weight();
        int total = 0;
        for (Linear l : outputs) total += l.weight().rows();
        var launch = fusedLaunch("gemvmulti", in, w0);
        launch.i(outputs[0].accumulate() ? 1 : 0);
        for (int j = 0; j < 3; j++) {
            Linear l = outputs[Math.min(j, outputs.length - 1)];
            ClTensor w = (ClTensor) l.weight();
            weight(launch, w.parts[0]).mem(((ClTensor) l.out()).act()).i(j < outputs.length ? w.rows : 0);
        }
        launch.run(new long[] {choose.gemvGlobal(total, 1)[0]}, new long[] {choose.gemvLocal()[0]});
    }

    /**
     * A fused one-token kernel ({@code variant}: gemvmulti or gemvswiglu) for w's type, its input arguments set: Q8_0
     * activations, Q8_K activations (the K types), or x (quantized per token for W8A8); then in's width and, for
     * W8A16, the group size.
     */
    private ClRuntime.Launch fusedLaunch(String variant, ClTensor in, ClTensor w) {
        boolean q8x = q8Activations(in, w), q8k = choose.q8k(w.type);
        String stem = q8x ? "matmul_q8_0_q8_0_" + variant : q8k ? "matmul_block_q8k_" + variant : fusedStem(w, variant);
        var launch = rt.launch(q8k ? q8kKernel(stem, w, 0) : kernels.get(stem), stem);
        if (q8x) launch.mem(q8xValues).mem(q8xScales);
        else if (q8k) {
            quantizeQ8k(in, w);
            launch.mem(q8kValues).mem(q8kScales).mem(q8kSums);
        } else {
            quantizeInput(in, w);
            input(launch, in, w);
        }
        launch.i(in.cols);
        if (w.type == GgmlType.I8 && !w.w8a8) launch.i(w.groupSize);
        return launch;
    }

    /** The fused kernels' stem: matmul_{q8_0,q4_0,f16}_f32_, matmul_i8_f32_ (W8A16) or matmul_i8_i8_ (W8A8), then the variant. */
    private static String fusedStem(ClTensor w, String variant) {
        if (w.type != GgmlType.I8) return "matmul_" + ElementwiseLauncher.typeName(w.type) + "_f32_" + variant;
        return (w.w8a8 ? "matmul_i8_i8_" : "matmul_i8_f32_") + variant;
    }

    /** The input arguments: x, or for a W8A8 weight x quantized by {@link #quantizeInput} and its token scales. */
    private ClRuntime.Launch input(ClRuntime.Launch launch, ClTensor in, ClTensor w) {
        return w.type != GgmlType.I8 || !w.w8a8 ? launch.mem(in.act()) : launch.mem(quantized).mem(tokenScales);
    }

    /**
     * For a W8A8 weight: x divided by the weight's smoothing vector (when it has one), then int8 with one scale per
     * token (quantize_f32_i8), into scratch that grows on demand; nothing for the other types.
     */
    private void quantizeInput(ClTensor in, ClTensor w) {
        if (w.type != GgmlType.I8 || !w.w8a8) return;
        int n = in.rows;
        quantized = rt.grow(quantized, "W8A8 activation scratch", (long) n * in.cols);
        tokenScales = rt.grow(tokenScales, "W8A8 token scales", 4L * n);
        rt.launch(kernels.get("quantize_f32_i8"), "quantize_f32_i8 on '" + w.name + "'")
                .mem(in.act()).mem(w.smooth != null ? w.smooth : tokenScales).i(w.smooth != null ? 1 : 0).mem(quantized).mem(tokenScales).i(in.cols)
                .run(new long[] {(long) choose.normLocal * n}, new long[] {choose.normLocal});
    }

    /** A weight part's arguments: its data, and its scales where the type keeps them apart (Q4_0, I8). */
    private static ClRuntime.Launch weight(ClRuntime.Launch launch, ClTensor.Part p) {
        launch.mem(p.data());
        return p.scales() != null ? launch.mem(p.scales()) : launch;
    }

    /** The product scratch as a (rows, cols) activation, grown on demand. */
    private ClTensor productScratch(int rows, int cols) {
        product = rt.grow(product, "product scratch", 4L * rows * cols);
        return ClTensor.activation("product scratch", rows, cols, product);
    }
}
