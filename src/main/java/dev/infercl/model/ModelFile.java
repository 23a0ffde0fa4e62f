package dev.infercl.model;

import dev.infercl.gguf.FileChecks;
import dev.infercl.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A model on disk, opened: its config, its tokenizer and its weights (views into the memory-mapped file).
 * GGUF files carry all three; llama2.c checkpoints need their tokenizer file beside them.
 */
public interface ModelFile extends AutoCloseable {
    Path path();

    /** "gguf" or "llama2.c". */
    String format();

    ModelConfig config();

    Tokenizer tokenizer();

    /**
     * The chat template: the file's {@code tokenizer.chat_template} (Jinja), or the built-in template named
     * {@code name} when given, or one detected from the vocabulary's special tokens.
     */
    dev.infercl.tokenizer.ChatTemplate chatTemplate(String name) throws IOException;

    /**
     * A raw metadata value (GGUF: as {@link dev.infercl.gguf.GgufFile#get} returns it), or empty; formats without
     * key-value metadata have none.
     */
    default Optional<Object> metadata(String key) {
        return Optional.empty();
    }

    /** The weight with this GGUF tensor name, or empty. */
    Optional<WeightData> weight(String name);

    @Override
    void close();

    /**
     * Opens a GGUF file, or a llama2.c checkpoint when the file does not start with "GGUF" (its tokenizer
     * then comes from {@code tokenizer}, which must be given). A path that is no readable regular file is refused
     * before it is opened, with the reason ({@link FileChecks#requireRegularFile}: missing, a directory, a named pipe,
     * a device, a link loop, no permission).
     */
    static ModelFile open(Path path, Path tokenizer) throws IOException {
        FileChecks.requireRegularFile(path, "model file");
        if (tokenizer != null) FileChecks.requireRegularFile(tokenizer, "tokenizer file");
        byte[] magic = new byte[4];
        try (var in = Files.newInputStream(path)) {
            int n = in.readNBytes(magic, 0, 4);
            if (n == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F') {
                if (tokenizer != null) throw new ModelLoadException(path + ": a GGUF file carries its own tokenizer; --tokenizer is for llama2.c checkpoints");
                return GgufModelFile.open(path);
            }
        }
        if (tokenizer == null) {
            throw new ModelLoadException(path + ": not a GGUF file (no 'GGUF' magic); a llama2.c checkpoint needs --tokenizer FILE");
        }
        return Llama2cModelFile.open(path, tokenizer);
    }

}
