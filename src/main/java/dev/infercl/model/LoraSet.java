package dev.infercl.model;

import dev.infercl.backend.Tensor;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The LoRA adapters a sequence runs with, each at its own scale, resolved to the terms the forward pass adds: for
 * a base weight W, every active adapter that targets it contributes s·B·(A·x) to W·x.
 */
public final class LoraSet {
    /** One adapter's term on one weight: A (r, in) in its file type and s·B (out, r) in F32. */
    record Term(Tensor a, Tensor b, int rank) {}

    private final List<LoraAdapter.Scaled> adapters;
    private final Map<Tensor, Term[]> terms;   // by base weight, identity

    private LoraSet(List<LoraAdapter.Scaled> adapters, Map<Tensor, Term[]> terms) {
        this.adapters = adapters;
        this.terms = terms;
    }

    /**
     * The adapters at their scales, all for {@code weights}; uploads each adapter's scaled B the first time a scale
     * is used (the caller has the backend to itself). Null for no adapters.
     */
    public static LoraSet of(List<LoraAdapter.Scaled> adapters, Weights weights) {
        if (adapters == null || adapters.isEmpty()) return null;
        Map<Tensor, List<Term>> byWeight = new IdentityHashMap<>();
        for (LoraAdapter.Scaled a : adapters) {
            if (a.adapter().weights() != weights) {
                throw new IllegalArgumentException(a.adapter() + " was loaded for another model");
            }
            Tensor[] b = a.adapter().scaledB(a.scale());
            var targets = a.adapter().targetList();
            for (int i = 0; i < targets.size(); i++) {
                var t = targets.get(i);
                byWeight.computeIfAbsent(t.base(), k -> new ArrayList<>()).add(new Term(t.a(), b[i], t.rank()));
            }
        }
        Map<Tensor, Term[]> terms = new IdentityHashMap<>();
        byWeight.forEach((w, list) -> terms.put(w, list.toArray(Term[]::new)));
        return new LoraSet(List.copyOf(adapters), terms);
    }

    /** The adapters and their user scales, as given. */
    public List<LoraAdapter.Scaled> adapters() {
        return adapters;
    }

    /** The terms on weight {@code w}, or null when no active adapter targets it. */
    Term[] terms(Tensor w) {
        return terms.get(w);
    }

    boolean targets(Tensor w) {
        return w != null && terms.containsKey(w);
    }
}
