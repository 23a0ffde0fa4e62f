package dev.infercl.quant;

/**
 * Symmetric INT8 quantization of weight rows, the reference the quantizer writes with:
 * scale = max|w| / 127 over each group of {@code groupSize} columns (the whole row when 0),
 * q = clamp(round_half_away_from_zero(w / scale), −127, 127); value = q · scale (scale 0 → q 0).
 */
public final class Int8 {
    private Int8() {}

    /** C's roundf: halves round away from zero (Java's Math.round rounds them up). */
    public static float roundHalfAway(float v) {
        float a = (float) Math.floor(Math.abs(v) + 0.5);
        return v < 0 ? -a : a;
    }

    /**
     * Quantizes {@code row} into {@code q} (same length), writing one scale per group to
     * {@code scales[scaleOff ..]}; {@code groupSize} 0 means one group spanning the row.
     */
    public static void quantizeRow(float[] row, int groupSize, byte[] q, float[] scales, int scaleOff) {
        int n = row.length, gs = groupSize == 0 ? n : groupSize;
        for (int g = 0; g * gs < n; g++) {
            int from = g * gs, to = Math.min(n, from + gs);
            float amax = 0;
            for (int j = from; j < to; j++) amax = Math.max(amax, Math.abs(row[j]));
            float scale = amax / 127f;
            scales[scaleOff + g] = scale;
            for (int j = from; j < to; j++) {
                q[j] = scale == 0 ? 0 : (byte) Math.max(-127, Math.min(127, roundHalfAway(row[j] / scale)));
            }
        }
    }
}
