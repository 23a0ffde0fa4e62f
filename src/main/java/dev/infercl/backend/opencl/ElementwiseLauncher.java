package dev.infercl.backend.opencl;

import static dev.infercl.backend.opencl.KernelChooser.ELEMENT_LOCAL;
import static dev.infercl.backend.opencl.KernelChooser.roundUp;

import dev.infercl.backend.Elementwise;
import dev.infercl.backend.Norm;
import dev.infercl.gguf.GgmlType;
import java.util.Map;
import org.jocl.cl_kernel;

/** Launches of the row- and value-wise ops: element-wise maps, norms, row gathers (embed) and block copies. */
final class ElementwiseLauncher {
    private final ClRuntime rt;
    private final KernelChooser choose;
    private final Kernels kernels;
    private final IntRing ints;

    ElementwiseLauncher(ClRuntime rt, KernelChooser choose, Kernels kernels, IntRing ints) {
        this.rt = rt;
        this.choose = choose;
        this.kernels = kernels;
        this.ints = ints;
    }

    /** out = op(a, b) over out's values: elementwise_f32_f32 built for the op (b may be null for the unary ops). */
    void map(ClTensor o, Elementwise op, ClTensor a, ClTensor b) {
        if (o.rows != a.rows || o.cols != a.cols) throw new IllegalArgumentException(op.kind() + ": " + o.name + " and " + a.name + " differ in shape");
        if (op.binary()) {
            boolean row = op.kind() == Elementwise.Kind.ADD_ROW;
            if (b == null || (row ? b.cols != a.cols || b.rows != 1 : b.rows != a.rows || b.cols != a.cols)) {
                throw new IllegalArgumentException(op.kind() + ": " + (b == null ? "no second operand" : b.name + " (" + b.rows + "×" + b.cols + ")")
                        + " for " + a.name + " (" + a.rows + "×" + a.cols + ")");
            }
        }
        int count = o.rows * o.cols;
        var bm = !op.binary() ? a.act() : op.kind() == Elementwise.Kind.ADD_ROW ? b.vector() : b.act();
        rt.launch(kernels.get("elementwise_f32_f32", Map.of("OP", String.valueOf(opNumber(op.kind())))), op.kind().name().toLowerCase(java.util.Locale.ROOT))
                .mem(o.act()).mem(a.act()).mem(bm).f(op.c()).i(o.cols).i(count)
                .run(new long[] {roundUp(count, ELEMENT_LOCAL)}, new long[] {ELEMENT_LOCAL});
    }

    /** The OP number elementwise_f32_f32.cl gives each kind. */
    private static int opNumber(Elementwise.Kind k) {
        return switch (k) {
            case ADD -> 0;
            case ADD_ROW -> 1;
            case SILU_MUL -> 2;
            case GELU_MUL -> 3;
            case GELU -> 4;
            case SCALE -> 5;
            case SOFTCAP -> 6;
            case RELU -> 7;
        };
    }

    /** RMS norm per group of the weight's width (a row, or one head), or layer norm per row; one work-group each. */
    void norm(ClTensor o, ClTensor in, Norm norm) {
        ClTensor w = (ClTensor) norm.weight();
        int local = choose.normLocal;
        if (norm.kind() == Norm.Kind.LAYER) {
            ClTensor b = (ClTensor) norm.bias();
            if (w.cols != in.cols || b.cols != in.cols || o.cols != in.cols || o.rows < in.rows) {
                throw new IllegalArgumentException("layer norm shapes: " + o.name + ", " + in.name + ", " + w.name + ", " + b.name);
            }
            rt.launch(kernels.get("layernorm_f32_f32"), "layernorm").mem(in.act()).mem(w.vector()).mem(b.vector()).mem(o.act()).i(in.cols).f(norm.eps())
                    .run(new long[] {(long) local * in.rows}, new long[] {local});
            return;
        }
        if (w.cols == 0 || in.cols % w.cols != 0 || o.cols != in.cols || o.rows < in.rows) {
            throw new IllegalArgumentException("RMS norm shapes: " + o.name + ", " + in.name + ", " + w.name + " (" + w.cols + " wide, must divide " + in.cols + ")");
        }
        long groups = (long) in.rows * (in.cols / w.cols); // a row, or one head of a row
        rt.launch(kernels.get("rmsnorm_f32_f32"), "rmsnorm").mem(in.act()).mem(w.vector()).mem(o.act()).i(w.cols).f(norm.eps())
                .run(new long[] {local * groups}, new long[] {local});
    }

    /** out[t] = table[tokens[t]], dequantized: one launch per part of a split table. */
    void embed(ClTensor o, ClTensor w, int[] tokens) {
        for (int tok : tokens) {
            if (tok < 0 || tok >= w.rows) throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + w.rows + ")");
        }
        if (tokens.length > o.rows || o.cols != w.cols) throw new IllegalArgumentException("embed: out " + o.rows + "×" + o.cols + " for " + tokens.length + " tokens of " + w.name);
        int off = ints.upload(tokens);
        String stem = "embed_" + typeName(w.type) + "_f32";
        cl_kernel k = kernels.get(stem, typeDefines(w.type));
        // the block types' gather takes one work-item per 32 values (one block decode), the others one per value
        long[] global = {roundUp(isBlockType(w.type) ? w.cols / 32 : w.cols, ELEMENT_LOCAL), tokens.length}, local = {ELEMENT_LOCAL, 1};
        for (ClTensor.Part p : w.parts) {
            var launch = rt.launch(k, stem).mem(p.data());
            if (p.scales() != null) launch.mem(p.scales());
            launch.mem(ints.buffer()).i(off).i(p.row0()).i(p.rows()).i(w.cols).i(tokens.length).mem(o.act()).run(global, local);
        }
    }

    /** dst = the block of src at (row, col) as large as dst: whole rows as one buffer copy, columns with copy_f32_f32. */
    void copy(ClTensor d, ClTensor s, int row, int col) {
        int srcRows = s.parts[0].rows();
        if (row < 0 || col < 0 || row + d.rows > srcRows || col + d.cols > s.cols || d.rows > d.parts[0].rows()) {
            throw new IllegalArgumentException("copy: rows " + row + ".." + (row + d.rows) + ", columns " + col + ".." + (col + d.cols)
                    + " of " + s.name + " (" + srcRows + "×" + s.cols + ") into " + d.name);
        }
        if (d.rows == 0) return;
        if (col == 0 && d.cols == s.cols) {
            rt.copy(s.act(), d.act(), 4L * row * s.cols, 0, 4L * d.rows * s.cols);
            return;
        }
        rt.launch(kernels.get("copy_f32_f32"), "copy").mem(d.act()).mem(s.act()).i(d.cols).i(s.cols).i(row).i(col)
                .run(new long[] {roundUp(d.cols, ELEMENT_LOCAL), d.rows}, new long[] {ELEMENT_LOCAL, 1});
    }

    /**
     * The GGML block types the OpenCL kernels read as the file stores them, through blocks.h (the kernels named
     * {@code *_block_f32*} built with BLOCK_TYPE = the type's id).
     */
    static boolean isBlockType(GgmlType type) {
        return switch (type) {
            case Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS -> true;
            default -> false;
        };
    }

    /** The weight types the OpenCL backend has kernels for (INT8 weights take their own path). */
    static final java.util.Set<GgmlType> SUPPORTED = java.util.EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0,
            GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K,
            GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS);

    /** A weight type's kernel-name part. */
    static String typeName(GgmlType type) {
        if (isBlockType(type)) return "block";
        return switch (type) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            case Q8_0 -> "q8_0";
            case Q4_0 -> "q4_0";
            default -> throw new IllegalArgumentException("no OpenCL kernels for " + type);
        };
    }

    /** The build defines a weight type's kernels need: the block type's id for the {@code *_block_f32*} kernels. */
    static Map<String, String> typeDefines(GgmlType type) {
        return isBlockType(type) ? Map.of("BLOCK_TYPE", String.valueOf(type.id)) : Map.of();
    }
}
