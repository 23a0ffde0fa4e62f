package dev.infercl.langchain4j;

import dev.infercl.api.BackendKind;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import java.io.IOException;
import java.nio.file.Path;

/** The root project's embedded stories260K (../test-models), loaded on the CPU backend. */
final class TestModels {
    private TestModels() {}

    static final Path STORIES = Path.of(System.getProperty("user.dir")).resolve("../test-models/stories260K.gguf").normalize();

    /** stories260K on the CPU backend; {@code parallel} &gt; 1 runs its sessions through the batching scheduler. */
    static Model load(int parallel) throws IOException {
        return Model.load(STORIES, LoadOptions.defaults().withBackend(BackendKind.CPU).withParallel(parallel));
    }
}
