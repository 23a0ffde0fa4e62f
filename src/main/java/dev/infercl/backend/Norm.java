package dev.infercl.backend;

/**
 * A normalisation, as data ({@link Backend#norm}):
 * <ul>
 *   <li>{@code RMS}: out = x / sqrt(mean(x²) + eps) · weight. A weight narrower than x (a divisor of its width)
 *       normalises each group of weight.cols() values on its own (per-head norms);</li>
 *   <li>{@code LAYER}: out = (x − mean) / sqrt(variance + eps) · weight + bias.</li>
 * </ul>
 */
public record Norm(Kind kind, Tensor weight, Tensor bias, float eps) {
    public enum Kind { RMS, LAYER }

    public Norm {
        if (weight == null || (kind == Kind.LAYER) != (bias != null)) {
            throw new IllegalArgumentException(kind + " norm needs a weight" + (kind == Kind.LAYER ? " and a bias" : " and no bias"));
        }
    }

    public static Norm rms(Tensor weight, float eps) {
        return new Norm(Kind.RMS, weight, null, eps);
    }

    public static Norm layer(Tensor weight, Tensor bias, float eps) {
        return new Norm(Kind.LAYER, weight, bias, eps);
    }
}
