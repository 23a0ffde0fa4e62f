package dev.infercl.backend;

/**
 * Rotary position embedding of one head: the first {@code ropeDims} of {@code headDim} values are rotated in
 * pairs, pair i by angle {@code position · theta(i)}, its cos and sin multiplied by {@link #magnitude()}.
 * {@code neox} false pairs (2i, 2i+1) (GGUF llama layout); true pairs (i, i + ropeDims/2) (qwen2, phi3, gemma …).
 * {@code freqFactors} (length ropeDims/2: Llama 3's {@code rope_freqs.weight}, Phi-3's long or short factors) divide
 * the frequencies; null means all 1. {@code scaling} stretches positions past the trained context ({@link Scaling}).
 *
 * <p>{@link #theta(int)} is the one place the per-pair angle is computed: the backends' rope (the reference, the
 * CPU's per-token tables, OpenCL's host-computed inverse frequencies) all read it, so every scaling is data here
 * and never a branch in a kernel.
 */
public record RopeSpec(int headDim, int ropeDims, float base, boolean neox, float[] freqFactors, Scaling scaling) {
    public RopeSpec {
        if (ropeDims > headDim || ropeDims % 2 != 0 || ropeDims <= 0) {
            throw new IllegalArgumentException("rope dims " + ropeDims + " must be even, positive and ≤ head dim " + headDim);
        }
        if (freqFactors != null && freqFactors.length != ropeDims / 2) {
            throw new IllegalArgumentException("rope frequency factors: " + freqFactors.length + " values, expected " + ropeDims / 2);
        }
        if (scaling == null) scaling = Scaling.NONE;
    }

    public RopeSpec(int headDim, int ropeDims, float base, boolean neox, float[] freqFactors) {
        this(headDim, ropeDims, base, neox, freqFactors, Scaling.NONE);
    }

    public RopeSpec(int headDim, int ropeDims, float base, boolean neox) {
        this(headDim, ropeDims, base, neox, null, Scaling.NONE);
    }

    /**
     * The angle per unit position of pair i, ggml's {@code rope_yarn} in double: θ_extrap = base^(−2i/ropeDims) /
     * freqFactors[i], θ_interp = freqScale · θ_extrap, and with an extrapolation factor the two mixed by YaRN's ramp,
     * θ = θ_interp · (1 − mix) + θ_extrap · mix, mix = ramp(i) · extFactor. Every case is linear in the position, so
     * a backend may tabulate θ per pair once.
     */
    public double theta(int i) {
        double extrap = Math.pow(base, -2.0 * i / ropeDims);
        if (freqFactors != null) extrap /= freqFactors[i];
        double interp = scaling.freqScale() * extrap;
        if (scaling.extFactor() == 0) return interp;
        double mix = scaling.ramp(i) * scaling.extFactor();
        return interp * (1 - mix) + extrap * mix;
    }

    /** The factor on cos and sin (YaRN's mscale times the file's attention factor); 1 for plain RoPE. */
    public double magnitude() {
        return scaling.magnitude();
    }

    /**
     * How positions are stretched, in ggml's rope parameters: {@code freqScale} (1/factor: linear interpolation),
     * {@code extFactor} (0: no YaRN mixing), YaRN's correction range {@code [rampLow, rampHigh]} over pair indices,
     * and the {@code magnitude} cos and sin are multiplied by. {@link #NONE} is plain RoPE.
     */
    public record Scaling(double freqScale, double extFactor, double rampLow, double rampHigh, double magnitude) {
        public static final Scaling NONE = new Scaling(1, 0, 0, 0, 1);

        public Scaling {
            if (!(freqScale > 0) || !Double.isFinite(freqScale) || !Double.isFinite(extFactor) || !Double.isFinite(rampLow)
                    || !Double.isFinite(rampHigh) || !(magnitude > 0) || !Double.isFinite(magnitude)) {
                throw new IllegalArgumentException("rope scaling: frequency scale " + freqScale + " and magnitude " + magnitude
                        + " must be positive and finite, extrapolation factor " + extFactor + " and ramp [" + rampLow + ", " + rampHigh + "] finite");
            }
        }

        /** Linear position interpolation: every angle divided by {@code factor}. */
        public static Scaling linear(double factor) {
            return new Scaling(1 / factor, 0, 0, 0, 1);
        }

        /**
         * YaRN as llama.cpp applies it: angles interpolated by 1/{@code factor}, except the pairs that turn more than
         * {@code betaFast} times over the original context, which keep their angle, with a linear ramp between them
         * and the pairs turning fewer than {@code betaSlow} times (ggml_rope_yarn_corr_dims); cos and sin scaled by
         * 1 + 0.1·ln(factor) for factor &gt; 1 (YaRN's attention temperature), else 1.
         */
        public static Scaling yarn(double factor, int originalContext, int ropeDims, double base, double betaFast, double betaSlow) {
            double low = Math.max(0, Math.floor(correctionDim(ropeDims, originalContext, betaFast, base)));
            double high = Math.min(ropeDims - 1, Math.ceil(correctionDim(ropeDims, originalContext, betaSlow, base)));
            return new Scaling(1 / factor, 1, low, high, factor > 1 ? 1 + 0.1 * Math.log(factor) : 1);
        }

        /** The pair index whose wavelength fits {@code rotations} times into {@code context} positions. */
        static double correctionDim(int ropeDims, int context, double rotations, double base) {
            return ropeDims * Math.log(context / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
        }

        public Scaling withExtFactor(double e) {
            return new Scaling(freqScale, e, rampLow, rampHigh, magnitude);
        }

        public Scaling withMagnitude(double m) {
            return new Scaling(freqScale, extFactor, rampLow, rampHigh, m);
        }

        /** YaRN's ramp at pair i: 1 below the correction range (angle kept), 0 above it (interpolated). */
        double ramp(int i) {
            double y = (i - rampLow) / Math.max(0.001, rampHigh - rampLow);
            return 1 - Math.min(1, Math.max(0, y));
        }
    }
}
