package dev.infercl.model;

import dev.infercl.backend.RopeSpec;
import dev.infercl.gguf.GgufFile;
import java.io.IOException;

/**
 * The rotary-position scaling a GGUF file declares ({@code <arch>.rope.scaling.*}), read as llama.cpp reads it
 * ({@code load_hparams}, then the context's {@code cparams}), and turned into the {@link RopeSpec.Scaling} ggml's rope
 * would compute with ({@link #spec}).
 *
 * @param type            {@code rope.scaling.type}: none, linear, yarn or longrope; absent means linear (llama.cpp's
 *                        default), which with no factor is plain RoPE
 * @param factor          {@code rope.scaling.factor}, else the older {@code rope.scale_linear}; 1 when absent or 0.
 *                        Every type but none divides the angles by it (ggml's freq_scale = 1/factor)
 * @param originalContext {@code rope.scaling.original_context_length}; 0 when absent (the trained context stands in)
 * @param attnFactor      {@code rope.scaling.attn_factor}: multiplies cos and sin whatever the type (Phi-3's LongRoPE
 *                        attention factor is written here); 1 when absent
 * @param betaFast        YaRN's correction range in rotations over the original context,
 * @param betaSlow        {@code rope.scaling.yarn_beta_fast} and {@code _slow}; 32 and 1 when absent (llama.cpp's defaults)
 * @param extFactor       YaRN's extrapolation mix ({@code rope.scaling.yarn_ext_factor}); absent or negative: 1 for
 *                        yarn, 0 otherwise (llama.cpp's rule)
 */
public record RopeScaling(Type type, float factor, int originalContext, float attnFactor, float betaFast, float betaSlow,
                          float extFactor) {

    public enum Type { NONE, LINEAR, YARN, LONGROPE }

    /** Plain RoPE: what a file without scaling keys declares. */
    public static final RopeScaling NONE = new RopeScaling(Type.NONE, 1, 0, 1, 32, 1, 0);

    public RopeScaling {
        if (!(factor > 0) || !Float.isFinite(factor) || originalContext < 0 || !(attnFactor > 0) || !Float.isFinite(attnFactor)
                || !(betaFast > 0) || !Float.isFinite(betaFast) || !(betaSlow > 0) || !Float.isFinite(betaSlow) || !Float.isFinite(extFactor)) {
            throw new IllegalArgumentException("rope scaling: factor " + factor + ", attention factor " + attnFactor + ", betas "
                    + betaFast + "/" + betaSlow + " must be positive and finite, original context " + originalContext + " ≥ 0");
        }
    }

    /** The original context YaRN's correction range and Phi-3's factor choice refer to: the declared one, else {@code trained}. */
    public int originalContext(int trained) {
        return originalContext > 0 ? originalContext : trained;
    }

    /**
     * What ggml's rope computes with for this declaration: angles divided by the factor (never for type none), YaRN's
     * ramp where the extrapolation factor is not 0, and the magnitude llama.cpp ends up with — YaRN's
     * 1 + 0.1·ln(factor) (factor &gt; 1) where the extrapolation factor is not 0, times the attention factor.
     */
    public RopeSpec.Scaling spec(int ropeDims, float base, int trainedContext) {
        double f = type == Type.NONE ? 1 : factor;
        RopeSpec.Scaling s = extFactor == 0 ? RopeSpec.Scaling.linear(f)
                : RopeSpec.Scaling.yarn(f, originalContext(trainedContext), ropeDims, base, betaFast, betaSlow).withExtFactor(extFactor);
        return s.withMagnitude(s.magnitude() * attnFactor);
    }

    /**
     * Reads {@code <arch>.rope.scaling.*}. Refused with {@link UnsupportedModelException}, naming the file, the key and
     * its value: a type other than none, linear, yarn and longrope; {@code rope.scaling.yarn_log_multiplier} (DeepSeek's
     * mscale_all_dim, which llama.cpp reads for other architectures only); and a {@code rope.scaling.yarn_attn_factor}
     * other than the magnitude computed here (transformers would use it in its place, llama.cpp ignores it for these
     * architectures: the file's intent is ambiguous).
     */
    static RopeScaling fromGguf(GgufFile f, String arch, String file, int ropeDims, float base, int trainedContext) throws IOException {
        String p = arch + ".rope.";
        String typeKey = p + "scaling.type";
        String name = f.getString(typeKey, "linear");
        Type type = switch (name) {
            case "none" -> Type.NONE;
            case "linear" -> Type.LINEAR;
            case "yarn" -> Type.YARN;
            case "longrope" -> Type.LONGROPE;
            default -> throw new UnsupportedModelException(file + ": metadata '" + typeKey + "' is " + GgufFile.quote(name)
                    + ": InferCL implements the rope scaling types none, linear, yarn and longrope");
        };
        String factorKey = f.has(p + "scaling.factor") || !f.has(p + "scale_linear") ? p + "scaling.factor" : p + "scale_linear";
        float factor = f.getFloat(factorKey, 0f);
        positive(file, factorKey, factor, true);
        String ctxKey = p + "scaling.original_context_length";
        int originalContext = f.getInt(ctxKey, 0);
        if (f.has(ctxKey) && originalContext <= 0) throw new ModelLoadException(file + ": metadata '" + ctxKey + "' is " + originalContext + ", expected a positive length");
        float attn = f.getFloat(p + "scaling.attn_factor", 1f);
        positive(file, p + "scaling.attn_factor", attn, false);
        float betaFast = f.getFloat(p + "scaling.yarn_beta_fast", 32f), betaSlow = f.getFloat(p + "scaling.yarn_beta_slow", 1f);
        positive(file, p + "scaling.yarn_beta_fast", betaFast, false);
        positive(file, p + "scaling.yarn_beta_slow", betaSlow, false);
        float ext = f.getFloat(p + "scaling.yarn_ext_factor", -1f);
        if (!Float.isFinite(ext)) throw new ModelLoadException(file + ": metadata '" + p + "scaling.yarn_ext_factor' is " + ext);
        if (ext < 0) ext = type == Type.YARN ? 1f : 0f;

        String logMulKey = p + "scaling.yarn_log_multiplier";
        float logMul = f.getFloat(logMulKey, 0f);
        if (logMul != 0) {
            throw new UnsupportedModelException(file + ": metadata '" + logMulKey + "' is " + logMul
                    + ": InferCL does not implement YaRN's log multiplier (mscale_all_dim) for " + arch);
        }
        var scaling = new RopeScaling(type, factor == 0 ? 1f : factor, originalContext, attn, betaFast, betaSlow, ext);
        String yarnAttnKey = p + "scaling.yarn_attn_factor";
        if (f.has(yarnAttnKey)) {
            float declared = f.getFloat(yarnAttnKey);
            double computed = scaling.spec(ropeDims, base, trainedContext).magnitude() / attn;
            if (!(Math.abs(declared - computed) <= 1e-5 * computed)) {
                throw new UnsupportedModelException(file + ": metadata '" + yarnAttnKey + "' is " + declared + ", not the magnitude "
                        + (float) computed + " InferCL computes from the other rope.scaling keys; an explicit YaRN attention factor is not implemented");
            }
        }
        return scaling;
    }

    private static void positive(String file, String key, float v, boolean zeroAllowed) throws ModelLoadException {
        if (!Float.isFinite(v) || v < 0 || (v == 0 && !zeroAllowed)) {
            throw new ModelLoadException(file + ": metadata '" + key + "' is " + v + ", expected a positive number");
        }
    }
}
