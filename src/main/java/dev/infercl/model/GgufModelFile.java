package dev.infercl.model;

import dev.infercl.gguf.GgufFile;
import dev.infercl.tokenizer.ChatTemplate;
import dev.infercl.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/** A GGUF model: config and tokenizer from metadata, weights as views into the mapping. */
final class GgufModelFile implements ModelFile {
    private final GgufFile file;
    private final ModelConfig config;
    private final Tokenizer tokenizer;

    private GgufModelFile(GgufFile file, ModelConfig config, Tokenizer tokenizer) {
        this.file = file;
        this.config = config;
        this.tokenizer = tokenizer;
    }

    static GgufModelFile open(Path path) throws IOException {
        GgufFile f = GgufFile.open(path);
        try {
            return new GgufModelFile(f, ModelConfig.fromGguf(f), Tokenizer.fromGguf(f));
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** The underlying GGUF file (metadata for tools such as {@code info}). */
    GgufFile gguf() {
        return file;
    }

    @Override public Path path() { return file.path(); }
    @Override public String format() { return "gguf"; }
    @Override public ModelConfig config() { return config; }
    @Override public Tokenizer tokenizer() { return tokenizer; }

    @Override
    public ChatTemplate chatTemplate(String name) throws IOException {
        return ChatTemplate.fromGguf(file, tokenizer, name);
    }

    @Override
    public Optional<Object> metadata(String key) {
        return file.get(key);
    }

    @Override
    public Optional<WeightData> weight(String name) {
        return file.tensor(name).map(t -> new WeightData(t.name(), t.type(), t.dims(), file.data(t)));
    }

    @Override
    public void close() {
        file.close();
    }
}
