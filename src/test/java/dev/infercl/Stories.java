package dev.infercl;

import java.nio.file.Path;

/**
 * The vendored stories260K (test-models/, converted from llama2.c's checkpoint by {@code infercl convert}) and its
 * float64 reference — prompt, 200 greedy ids and text, teacher-forced logits — the end-to-end oracle every clone
 * has, with or without ../shared.
 */
public final class Stories {
    private Stories() {}

    private static Path file(String name) {
        return Path.of(System.getProperty("user.dir"), "test-models", name);
    }

    /** The F32 model (the launcher's default). */
    public static final Path MODEL = file("stories260K.gguf");
    /** prompt, prompt_ids, greedy_ids, greedy_text. */
    public static final Path REFERENCE = file("stories260K.reference.json");
    /** Teacher-forced logits: little-endian float32, 64 positions × 512. */
    public static final Path LOGITS = file("stories260K.reference.logits.f32");
}
