package dev.infercl.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Teacher forcing: feeds the tokens as one batch (prefill chunks of 512) and prints the top-K (id, logit)
 * pairs after every position, for checking against other runtimes.
 */
@Command(name = "logits", mixinStandardHelpOptions = true, description = "Print the top-K logits after every position of a text.")
final class LogitsCommand extends Streams.Command implements Callable<Integer> {

    @Mixin ModelOptions model;

    @Mixin LoraOptions lora;

    @Option(names = "--top", defaultValue = "10", description = "pairs per position (default: ${DEFAULT-VALUE})")
    int top;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Option(names = "--no-bos", description = "do not prepend BOS to a text (ids are used as given)")
    boolean noBos;

    static final class Input {
        @Option(names = "--ids", split = ",", description = "comma-separated token ids")
        int[] ids;

        @Option(names = {"-f", "--file"}, description = "read the text from a file")
        Path file;
    }

    @ArgGroup(exclusive = true)
    Input input;

    @Option(names = "--decoder-ids", split = ",", description = "encoder-decoder models (T5): the decoder's input ids, teacher-forced "
            + "after the encoder has read the TEXT or --ids (default: the decoder start token alone)")
    int[] decoderIds;

    @Parameters(arity = "0..1", paramLabel = "TEXT")
    String text;

    @Override
    public Integer call() throws Exception {
        boolean hasInput = input != null || text != null;
        if (!hasInput || (input != null && text != null)) throw new IllegalArgumentException("give exactly one of --ids, -f FILE or TEXT");
        if (top < 1) throw new IllegalArgumentException("--top must be ≥ 1, got " + top);
        try (Model m = Model.load(model.modelPath(err), model.loadOptions(n -> err.println("note: " + n)))) {
            int[] ids;
            if (input != null && input.ids != null) {
                ids = input.ids;
                for (int id : ids) {
                    if (id < 0 || id >= m.config().vocabSize()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + m.config().vocabSize() + ")");
                }
            } else {
                String t = text != null ? text : Files.readString(input.file);
                ids = m.tokenizer().encode(t, !noBos && m.tokenizer().addBosByDefault(), false);
            }
            if (ids.length == 0) throw new IllegalArgumentException("no tokens to feed");
            int[] source = null;
            if (m.isEncoderDecoder()) {
                // the input is the encoder's source; the positions reported are the decoder's
                source = ids;
                ids = decoderIds != null ? decoderIds : new int[] {m.decoderStartToken()};
                for (int id : ids) {
                    if (id < 0 || id >= m.config().vocabSize()) throw new IllegalArgumentException("decoder token id " + id + " is outside the vocabulary [0, " + m.config().vocabSize() + ")");
                }
            } else if (decoderIds != null) {
                throw new IllegalArgumentException("--decoder-ids is for encoder-decoder models; " + m.config().arch().name() + " is decoder-only");
            }
            int ctx = Math.max(ids.length, model.context(m, err));
            float[][] logits;
            var adapters = lora.load(m);
            try (Session s = m.newSession(ctx)) {
                s.setAdapters(adapters);
                if (source != null) s.encode(source);
                logits = s.logits(ids);
            }
            int k = Math.min(top, m.config().vocabSize());
            var mapper = new ObjectMapper();
            ObjectNode root = mapper.createObjectNode();
            if (source != null) root.putPOJO("encoder_tokens", source);
            root.putPOJO("tokens", ids);
            ArrayNode positions = root.putArray("positions");
            for (int p = 0; p < ids.length; p++) {
                int[] best = topK(logits[p], k);
                if (json) {
                    ObjectNode pos = positions.addObject();
                    pos.put("index", p).put("token", ids[p]);
                    ArrayNode arr = pos.putArray("top");
                    for (int id : best) arr.addObject().put("id", id).put("logit", logits[p][id]);
                } else {
                    var sb = new StringBuilder(String.format(Locale.ROOT, "%4d %6d %-12s", p, ids[p], "'" + m.tokenizer().piece(ids[p]) + "'"));
                    for (int id : best) sb.append(String.format(Locale.ROOT, " %d:%.4f", id, logits[p][id]));
                    out.println(sb);
                }
            }
            if (json) out.println(mapper.writeValueAsString(root));
        }
        return 0;
    }

    /** Ids of the k largest values, largest first. */
    static int[] topK(float[] v, int k) {
        Integer[] idx = new Integer[v.length];
        for (int i = 0; i < v.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Float.compare(v[b], v[a]));
        int[] r = new int[k];
        for (int i = 0; i < k; i++) r[i] = idx[i];
        return r;
    }
}
