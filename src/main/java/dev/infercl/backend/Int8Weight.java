package dev.infercl.backend;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An INT8 linear-layer weight as docs/QUANT-FORMAT.md defines it (the host-side description handed to
 * {@link Backend#upload}): symmetric int8 values with float scales, value = q · scale.
 *
 * @param name                 GGUF tensor name, for errors
 * @param rows                 output channels
 * @param cols                 input columns
 * @param values               (rows, cols) int8 at o·cols + j; row o is output channel o
 * @param scales               (rows, groups) F32 at o·groups + g, groups = cols / groupSize (1 per channel)
 * @param groupSize            input columns per scale; 0 = one scale per output channel
 * @param smooth               (cols) SmoothQuant factors: activation column j is divided by smooth[j] before
 *                             quantization; null when absent (W8A8 only)
 * @param quantizeActivations  true = W8A8 (activations quantized per token to int8, int32 accumulation);
 *                             false = W8A16 (activations stay float)
 */
public record Int8Weight(String name, int rows, int cols, MemorySegment values, float[] scales, int groupSize,
                         float[] smooth, boolean quantizeActivations) implements HostWeight {

    public Int8Weight {
        if (rows < 1 || cols < 1) throw new IllegalArgumentException(name + ": shape " + rows + " × " + cols);
        if (groupSize < 0 || (groupSize > 0 && cols % groupSize != 0)) {
            throw new IllegalArgumentException(name + ": group size " + groupSize + " does not divide " + cols + " columns");
        }
        if (quantizeActivations && groupSize != 0) {
            throw new IllegalArgumentException(name + ": W8A8 weights have one scale per output channel, not groups of " + groupSize);
        }
        if (!quantizeActivations && smooth != null) throw new IllegalArgumentException(name + ": a smoothing vector needs W8A8");
        if (values.byteSize() < (long) rows * cols) {
            throw new IllegalArgumentException(name + ": " + values.byteSize() + " value bytes, need " + (long) rows * cols);
        }
        int groups = groupSize == 0 ? 1 : cols / groupSize;
        if (scales.length != (long) rows * groups) {
            throw new IllegalArgumentException(name + ": " + scales.length + " scales, need " + rows + " × " + groups);
        }
        if (smooth != null && smooth.length != cols) {
            throw new IllegalArgumentException(name + ": smoothing vector of " + smooth.length + " values, need " + cols);
        }
    }

    /** Scales per row: cols / groupSize, or 1 per channel. */
    public int groups() {
        return groupSize == 0 ? 1 : cols / groupSize;
    }

    /** Input columns one scale covers (cols when per channel). */
    public int effectiveGroupSize() {
        return groupSize == 0 ? cols : groupSize;
    }

    /** The int8 value at (o, j). */
    public byte value(int o, int j) {
        return values.get(ValueLayout.JAVA_BYTE, (long) o * cols + j);
    }

    /** All values dequantized (q · scale), row-major, into dst (rows · cols floats). */
    public void dequantize(float[] dst) {
        int gs = effectiveGroupSize(), groups = groups();
        for (int o = 0; o < rows; o++) {
            for (int j = 0; j < cols; j++) dst[o * cols + j] = value(o, j) * scales[o * groups + j / gs];
        }
    }
}
