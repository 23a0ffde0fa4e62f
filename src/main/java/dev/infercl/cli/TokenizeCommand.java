package dev.infercl.cli;

import dev.infercl.gguf.GgufFile;
import dev.infercl.model.ModelFile;
import dev.infercl.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Prints the token ids (or ids with pieces) of a text. Needs only tokenizer metadata: vocab-only GGUFs work. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Print the tokens of a text.")
final class TokenizeCommand extends Streams.Command implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, required = true, description = "GGUF file (a vocab-only file is enough), llama2.c checkpoint, or Hugging Face model OWNER/NAME[:QUANT]")
    String modelArg;

    @Option(names = "--tokenizer", description = "tokenizer file of a llama2.c checkpoint")
    Path tokenizer;

    @Option(names = "--ids", description = "print only the ids, as a list")
    boolean idsOnly;

    @Option(names = "--bos", description = "prepend the BOS token")
    boolean bos;

    @Option(names = "--special", description = "parse special tokens written in the text (e.g. <s>)")
    boolean special;

    @Option(names = {"-f", "--file"}, description = "read the text from a file")
    Path file;

    @Parameters(arity = "0..1", paramLabel = "TEXT", description = "the text (or use -f)")
    String text;

    @Option(names = "--verbose", description = "print stack traces of errors")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        if ((file == null) == (text == null)) throw new IllegalArgumentException("give the text either as an argument or with -f FILE");
        String input = file != null ? Files.readString(file) : text;
        Path model = HubModels.resolve(modelArg, "-m", err);
        int[] ids;
        Tokenizer tok;
        if (tokenizer != null) {
            try (ModelFile mf = ModelFile.open(model, tokenizer)) {
                tok = mf.tokenizer();
            }
        } else {
            try (GgufFile f = GgufFile.open(model)) {
                tok = Tokenizer.fromGguf(f);
            }
        }
        ids = tok.encode(input, bos, special);
        if (idsOnly) {
            out.println(Arrays.toString(ids));
        } else {
            for (int id : ids) out.printf("%6d -> '%s'%n", id, tok.piece(id));
        }
        return 0;
    }
}
