package dev.infercl.model;

import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufWriter;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.tensor.Dequant;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a model with LoRA adapters folded into its weights: W' = W + Σ s·B·A over the adapters that target W,
 * computed in double from W's dequantized values. Every other tensor and all metadata are copied as they are.
 * A merged weight is written in its own type where that is F32, F16 or BF16, otherwise (a quantized base) as F16,
 * or in the type asked for.
 */
public final class LoraMerge {
    private LoraMerge() {}

    /** What was written: the merged tensors and the type each got. */
    public record Result(Map<String, GgmlType> merged) {}

    /**
     * Merges {@code adapters} (loaded for the model of {@code file}) into a copy of that GGUF file at {@code out}.
     *
     * @param type the merged weights' type (F32 or F16), or null: F32, F16 and BF16 weights keep theirs, quantized
     *             ones become F16
     */
    public static Result write(ModelFile file, List<LoraAdapter.Scaled> adapters, Path out, GgmlType type) throws IOException {
        if (!(file instanceof GgufModelFile g)) throw new UnsupportedModelException(file.path().getFileName() + ": merging adapters needs a GGUF base model");
        if (type != null && type != GgmlType.F32 && type != GgmlType.F16) throw new IllegalArgumentException("merged weights are written as F32 or F16, not " + type);
        if (out.toAbsolutePath().normalize().equals(file.path().toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("the merged model would overwrite its base " + out);
        }
        GgufFile src = g.gguf();
        // each targeted weight's terms: (s·B (out, r), A (r, in), r)
        Map<String, List<Object[]>> terms = new HashMap<>();
        for (LoraAdapter.Scaled a : adapters) {
            for (LoraAdapter.Target t : a.adapter().targetList()) {
                float s = a.adapter().scale(a.scale(), t.rank());
                terms.computeIfAbsent(t.name(), k -> new ArrayList<>()).add(new Object[] {t.b(), t.aFloats(), t.rank(), s});
            }
        }
        var w = new GgufWriter();
        if (src.has("general.alignment")) w.alignment((int) src.alignment());
        for (GgufFile.MetadataEntry e : src.metadata()) {
            if (e.key().equals("general.alignment")) continue;   // set above, as the writer keeps it
            if (e.value() instanceof GgufFile.MetadataArray arr) w.putArray(e.key(), arr.elementType(), arr.values());
            else w.put(e.key(), e.type(), e.value());
        }
        var merged = new java.util.LinkedHashMap<String, GgmlType>();
        for (TensorInfo t : src.tensors()) {
            List<Object[]> list = terms.get(t.name());
            if (list == null) {
                w.addTensor(t.name(), t.type(), t.dims(), sink -> sink.write(src.data(t).asByteBuffer()));
                continue;
            }
            if (t.type() == GgmlType.I8) {
                throw new UnsupportedModelException(file.path().getFileName() + ": tensor '" + t.name() + "' is an INT8 weight; merge adapters into the float model, then quantize");
            }
            GgmlType outType = type != null ? type
                    : t.type() == GgmlType.F32 || t.type() == GgmlType.F16 || t.type() == GgmlType.BF16 ? t.type() : GgmlType.F16;
            merged.put(t.name(), outType);
            int in = (int) t.dim(0), rows = (int) t.rows();
            w.addTensor(t.name(), outType, t.dims(), sink -> {
                float[] row = new float[in];
                double[] acc = new double[in];
                ByteBuffer buf = ByteBuffer.allocate((int) outType.byteSize(in)).order(ByteOrder.LITTLE_ENDIAN);
                for (int o = 0; o < rows; o++) {
                    Dequant.row(t.type(), src.data(t), (long) o * in, row, 0, in);
                    for (int i = 0; i < in; i++) acc[i] = row[i];
                    for (Object[] term : list) {
                        float[] b = (float[]) term[0], a = (float[]) term[1];
                        int r = (int) term[2];
                        double s = (float) term[3];
                        for (int k = 0; k < r; k++) {
                            double c = s * b[o * r + k];
                            int base = k * in;
                            for (int i = 0; i < in; i++) acc[i] += c * a[base + i];
                        }
                    }
                    buf.clear();
                    for (int i = 0; i < in; i++) {
                        float v = (float) acc[i];
                        switch (outType) {
                            case F32 -> buf.putFloat(v);
                            case F16 -> buf.putShort(Float.floatToFloat16(v));
                            case BF16 -> buf.putShort(Dequant.toBf16(v));
                            default -> throw new IllegalStateException(outType.toString());
                        }
                    }
                    buf.flip();
                    sink.write(buf);
                }
            });
        }
        w.write(out);
        return new Result(merged);
    }
}
