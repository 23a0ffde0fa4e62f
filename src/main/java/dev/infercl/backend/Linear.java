package dev.infercl.backend;

/**
 * One output of {@link Backend#linear}: {@code out = x · weightᵀ + bias}, or {@code out += x · weightᵀ + bias}
 * when {@code accumulate} (a residual add). The bias (one row, as wide as out) may be null.
 */
public record Linear(Tensor out, Tensor weight, Tensor bias, boolean accumulate) {
    public Linear {
        if (out == null || weight == null) throw new IllegalArgumentException("a linear output needs a tensor and a weight");
    }

    /** out = x · weightᵀ. */
    public Linear(Tensor out, Tensor weight) {
        this(out, weight, null, false);
    }

    /** out = x · weightᵀ + bias (bias may be null). */
    public static Linear of(Tensor out, Tensor weight, Tensor bias) {
        return new Linear(out, weight, bias, false);
    }

    /** out += x · weightᵀ + bias (bias may be null). */
    public static Linear accumulate(Tensor out, Tensor weight, Tensor bias) {
        return new Linear(out, weight, bias, true);
    }
}
