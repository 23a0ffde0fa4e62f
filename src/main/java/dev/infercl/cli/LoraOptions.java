package dev.infercl.cli;

import dev.infercl.api.Model;
import dev.infercl.model.LoraAdapter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** The LoRA adapters a command runs its model with: {@code --lora FILE} (scale 1) and {@code --lora-scaled FILE SCALE}, each repeatable. */
final class LoraOptions {
    @Option(names = "--lora", paramLabel = "FILE", description = "apply a LoRA adapter (llama.cpp's GGUF adapter format) at scale 1; repeatable")
    List<Path> lora = new ArrayList<>();

    @Option(names = "--lora-scaled", arity = "2", paramLabel = "FILE SCALE", description = "apply a LoRA adapter at a user scale (s = SCALE × alpha / rank, or SCALE where alpha is 0); repeatable")
    List<String> scaled = new ArrayList<>();

    /** The adapters as (file, user scale), in the order given (--lora first). */
    List<Entry> entries() {
        var out = new ArrayList<Entry>();
        for (Path p : lora) out.add(new Entry(p, 1f));
        for (int i = 0; i + 1 < scaled.size(); i += 2) {
            float s;
            try {
                s = Float.parseFloat(scaled.get(i + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--lora-scaled " + scaled.get(i) + " " + scaled.get(i + 1) + ": the scale is not a number");
            }
            if (!Float.isFinite(s)) throw new IllegalArgumentException("--lora-scaled " + scaled.get(i) + ": the scale must be finite, got " + s);
            out.add(new Entry(Path.of(scaled.get(i)), s));
        }
        return out;
    }

    boolean any() {
        return !lora.isEmpty() || !scaled.isEmpty();
    }

    /** One adapter file and its user scale. */
    record Entry(Path file, float scale) {}

    /** Loads each adapter for {@code m} (a file named twice is loaded once) at its scale. */
    List<LoraAdapter.Scaled> load(Model m) throws IOException {
        var loaded = new java.util.HashMap<Path, LoraAdapter>();
        var out = new ArrayList<LoraAdapter.Scaled>();
        for (Entry e : entries()) {
            LoraAdapter a = loaded.get(e.file().toAbsolutePath().normalize());
            if (a == null) {
                a = m.loadAdapter(e.file());
                loaded.put(e.file().toAbsolutePath().normalize(), a);
            }
            out.add(a.withScale(e.scale()));
        }
        return out;
    }
}
