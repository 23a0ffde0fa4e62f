package dev.infercl.backend;

/**
 * An element-wise op, as data ({@link Backend#map}): {@code out[i] = f(a[i], b[i])} over every element of out.
 * GELU is the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 */
public record Elementwise(Kind kind, float c) {
    public enum Kind {
        /** a + b. */
        ADD,
        /** a + b[column]: b is one row as wide as a (a bias). */
        ADD_ROW,
        /** silu(a) · b = a / (1 + e^−a) · b (SwiGLU). */
        SILU_MUL,
        /** gelu(a) · b (GEGLU). */
        GELU_MUL,
        /** gelu(a); b unused. */
        GELU,
        /** a · c; b unused. */
        SCALE,
        /** c · tanh(a / c); b unused. */
        SOFTCAP,
        /** max(a, 0); b unused (T5 v1.0's feed-forward). */
        RELU
    }

    public static final Elementwise ADD = new Elementwise(Kind.ADD, 0);
    public static final Elementwise ADD_ROW = new Elementwise(Kind.ADD_ROW, 0);
    public static final Elementwise SILU_MUL = new Elementwise(Kind.SILU_MUL, 0);
    public static final Elementwise GELU_MUL = new Elementwise(Kind.GELU_MUL, 0);
    public static final Elementwise GELU = new Elementwise(Kind.GELU, 0);
    public static final Elementwise RELU = new Elementwise(Kind.RELU, 0);

    public static Elementwise scale(float s) {
        return new Elementwise(Kind.SCALE, s);
    }

    public static Elementwise softcap(float cap) {
        if (!(cap > 0)) throw new IllegalArgumentException("soft-cap must be > 0, got " + cap);
        return new Elementwise(Kind.SOFTCAP, cap);
    }

    /** Whether the op reads b. */
    public boolean binary() {
        return switch (kind) {
            case ADD, ADD_ROW, SILU_MUL, GELU_MUL -> true;
            case GELU, SCALE, SOFTCAP, RELU -> false;
        };
    }

    /** Whether the op is a gate (activation of a times b), the combine step of {@link Backend#gatedLinear}. */
    public boolean gate() {
        return kind == Kind.SILU_MUL || kind == Kind.GELU_MUL;
    }
}
