package dev.infercl.cli;

import dev.infercl.api.Chat;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.Generation;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.backend.ContextFullException;
import dev.infercl.engine.SamplerOptions;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A chat in the terminal (line editing and history through JLine) or over pipes (each stdin line is a user
 * message; each reply is printed on stdout followed by a newline). The conversation stays in the KV cache:
 * a new turn prefills only its own tokens.
 */
@Command(name = "chat", mixinStandardHelpOptions = true, description = "Chat with a model (interactive, or one message per stdin line).")
final class ChatCommand extends Streams.Command implements Callable<Integer> {

    @Mixin ModelOptions model;

    @Mixin LoraOptions lora;

    @Option(names = "--system", description = "system prompt")
    String system;

    @Option(names = "--template", description = "built-in chat template to use instead of the model's: llama-2, llama-3, chatml, phi-3, gemma")
    String template;

    @Option(names = "--drop-oldest", description = "when the context is full, drop the oldest turns instead of stopping")
    boolean dropOldest;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "512", description = "most tokens per reply (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temp", defaultValue = "0.8", description = "temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", defaultValue = "40") int topK;
    @Option(names = "--top-p", defaultValue = "0.95") float topP;
    @Option(names = "--min-p", defaultValue = "0.05") float minP;
    @Option(names = "--repeat-penalty", defaultValue = "1.0") float repeatPenalty;

    @Option(names = {"-s", "--seed"}, defaultValue = "-1", description = "random seed; -1 = pick one")
    long seed;

    @Option(names = "--interactive", negatable = true, description = "force (or with --no-interactive, disable) the terminal UI; default: when stdin is a terminal")
    Boolean interactive;

    /** Where non-interactive messages come from (tests replace it). */
    InputStream input = System.in;

    @Override
    public Integer call() throws Exception {
        long usedSeed = seed >= 0 ? seed : new java.security.SecureRandom().nextLong() & Long.MAX_VALUE;
        try (Model m = Model.load(model.modelPath(err), model.loadOptions(n -> err.println("note: " + n)))) {
            int ctx = model.context(m, err);
            // a reply ends when the context is full, at most ctx + 1 tokens: a larger -n sizes no larger array
            var options = new GenerateOptions((int) Math.min(maxTokens, ctx + 1L), new SamplerOptions(temperature, topK, topP, minP, repeatPenalty, 64, usedSeed), false, true);
            var adapters = lora.load(m);
            try (Session s = m.newSession(ctx)) {
                s.setAdapters(adapters);
                var chat = new Chat(m, s, m.chatTemplate(template), system, dropOldest);
                boolean tty = interactive != null ? interactive : System.console() != null && System.console().isTerminal();
                if (tty) interactive(m, chat, options);
                else piped(chat, options);
            }
        }
        return 0;
    }

    private void interactive(Model m, Chat chat, GenerateOptions options) throws Exception {
        try (Terminal terminal = TerminalBuilder.builder().system(true).build()) {
            LineReader reader = LineReaderBuilder.builder().terminal(terminal)
                    .variable(LineReader.HISTORY_FILE, java.nio.file.Path.of(System.getProperty("user.home"), ".infercl_history"))
                    .build();
            var w = terminal.writer();
            w.printf("%s on %s; /reset starts over, /exit (or Ctrl-D) quits.%n", m.config().name(), m.backendName());
            while (true) {
                String line;
                try {
                    line = reader.readLine("> ");
                } catch (UserInterruptException e) {
                    continue;
                } catch (EndOfFileException e) {
                    break;
                }
                if (line.isBlank()) continue;
                if (command(line.strip(), chat, w::println)) break;
                if (line.strip().startsWith("/")) continue;
                try {
                    int before = chat.droppedTurns();
                    Generation g = chat.send(line, options, (id, piece) -> {
                        w.print(piece);
                        w.flush();
                    });
                    w.println();
                    if (chat.droppedTurns() > before) w.printf("(dropped %d old turn(s) to fit the context)%n", chat.droppedTurns() - before);
                    w.printf(Locale.ROOT, "[%d tokens, %.1f tokens/s%s]%n", g.tokens().length, g.tokensPerSecond(),
                            g.stop() == Generation.StopReason.CONTEXT_FULL ? "; the context is full: /reset or restart with --drop-oldest" : "");
                } catch (ContextFullException e) {
                    w.println("context full: " + e.getMessage());
                }
            }
        }
    }

    private void piped(Chat chat, GenerateOptions options) throws Exception {
        var in = new BufferedReader(new InputStreamReader(input, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            if (line.isBlank()) continue;
            if (command(line.strip(), chat, err::println)) break;
            if (line.strip().startsWith("/")) continue;
            try {
                chat.send(line, options, (id, piece) -> out.print(piece));
                out.println();
                out.flush();
            } catch (ContextFullException e) {
                err.println("infercl: context full: " + e.getMessage());
                return;
            }
        }
    }

    /** Handles /reset and /exit; returns true to quit. Unknown commands are reported. */
    private static boolean command(String line, Chat chat, java.util.function.Consumer<String> say) {
        switch (line) {
            case "/exit", "/quit" -> {
                return true;
            }
            case "/reset" -> {
                chat.reset();
                say.accept("(conversation reset)");
            }
            default -> {
                if (line.startsWith("/")) say.accept("unknown command " + line + " (use /reset or /exit)");
            }
        }
        return false;
    }
}
