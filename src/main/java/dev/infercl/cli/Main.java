package dev.infercl.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code infercl} command line. Errors print one line and exit non-zero; {@code --verbose} adds the stack trace
 * and shows the library's diagnostics: java.util.logging records of {@code dev.infercl.*} down to FINE (OpenCL
 * build logs and compiler warnings, kernel cache hits and misses) go to stderr, one line each.
 */
@Command(name = "infercl", mixinStandardHelpOptions = true, version = "InferCL 0.1.0",
        description = "Run GGUF language models in Java, with OpenCL kernels for the arithmetic.")
public final class Main implements Runnable {

    /**
     * The subcommands, in the order help lists them, by the name each one's @Command gives. Picocli reflects over a
     * command's options when the command is added, a tenth of a second for all of them before any work starts; so
     * a run whose first argument names a command adds only that one, and any other run (help, a typo) adds them
     * all. A switch rather than a table of constructor references: linking a reference loads its class.
     */
    static final List<String> COMMANDS = List.of("generate", "chat", "serve", "embed", "pull", "info", "tokenize", "logits", "synth", "convert", "bench",
            "devices", "quantize", "eval", "lora", "help");

    static Object command(String name) {
        return switch (name) {
            case "generate" -> new GenerateCommand();
            case "chat" -> new ChatCommand();
            case "serve" -> new ServeCommand();
            case "embed" -> new EmbedCommand();
            case "pull" -> new PullCommand();
            case "info" -> new InfoCommand();
            case "tokenize" -> new TokenizeCommand();
            case "logits" -> new LogitsCommand();
            case "synth" -> new SynthCommand();
            case "convert" -> new ConvertCommand();
            case "bench" -> new BenchCommand();
            case "devices" -> new DevicesCommand();
            case "quantize" -> new QuantizeCommand();
            case "eval" -> new EvalCommand();
            case "lora" -> new LoraCommand();
            case "help" -> new CommandLine.HelpCommand();
            default -> throw new IllegalArgumentException("no command " + name);
        };
    }

    /** The CLI with the commands {@code args} needs (see {@link #COMMANDS}). */
    static CommandLine commandLine(String[] args) {
        var cli = new CommandLine(new Main());
        String first = args.length > 0 ? args[0] : "";
        if (COMMANDS.contains(first) && !first.equals("help")) {
            cli.addSubcommand(first, command(first));
        } else {
            for (String name : COMMANDS) cli.addSubcommand(name, command(name));
        }
        return cli;
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a command: generate, chat, serve, embed, pull, info, tokenize, logits, synth, convert, bench, devices, quantize, eval, lora (see --help)");
    }

    public static void main(String[] args) {
        var out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        var err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        System.exit(run(args, out, err));
    }

    /** Runs the CLI with the given streams (tests call this in-process); returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        if (!verbose) return execute(args, out, err, false);
        // the logger is held here: java.util.logging keeps loggers weakly, and a collected one forgets its level
        Logger library = Logger.getLogger("dev.infercl");
        Level level = library.getLevel();
        boolean parents = library.getUseParentHandlers();
        var text = new java.util.logging.SimpleFormatter(); // for formatMessage: a record's {0} parameters
        Handler toErr = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (!isLoggable(r)) return;
                String name = r.getLoggerName() == null ? "" : r.getLoggerName().substring(r.getLoggerName().lastIndexOf('.') + 1);
                err.println("infercl: " + r.getLevel().getName().toLowerCase(java.util.Locale.ROOT) + ": " + name + ": " + text.formatMessage(r));
                if (r.getThrown() != null) r.getThrown().printStackTrace(err);
            }

            @Override
            public void flush() {
                err.flush();
            }

            @Override
            public void close() {}
        };
        toErr.setLevel(Level.FINE);
        library.setLevel(Level.FINE);
        library.setUseParentHandlers(false); // the root's console handler would print INFO and above a second time
        library.addHandler(toErr);
        try {
            return execute(args, out, err, true);
        } finally {
            library.removeHandler(toErr);
            library.setUseParentHandlers(parents);
            library.setLevel(level);
        }
    }

    private static int execute(String[] args, PrintStream out, PrintStream err, boolean verbose) {
        var cli = commandLine(args);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            err.println("infercl: error: " + message(e));
            if (verbose) e.printStackTrace(err);
            return 1;
        });
        cli.setParameterExceptionHandler((e, a) -> {
            err.println("infercl: " + e.getMessage());
            err.println("Try 'infercl " + (e.getCommandLine().getCommandName().equals("infercl") ? "" : e.getCommandLine().getCommandName() + " ") + "--help'.");
            return 2;
        });
        Streams.set(cli, out, err);
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) {
            // the checks before allocation should leave nothing to reach here; if something does, one line still
            err.println("infercl: error: out of memory (" + message(e) + "); a smaller context (-c) or a larger heap (-Xmx) may help");
            if (verbose) e.printStackTrace(err);
            return 1;
        }
    }

    /**
     * An error's one-line text. java.nio's file errors carry only the path when the operating system gave no reason
     * ("/x/prompt.txt"), so the reason their type stands for is added.
     */
    static String message(Throwable e) {
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() == null) {
            String why = switch (f) {
                case java.nio.file.NoSuchFileException x -> "no such file";
                case java.nio.file.AccessDeniedException x -> "permission denied";
                case java.nio.file.NotDirectoryException x -> "not a directory";
                case java.nio.file.FileAlreadyExistsException x -> "already exists";
                case java.nio.file.DirectoryNotEmptyException x -> "directory not empty";
                case java.nio.file.FileSystemLoopException x -> "symbolic link loop";
                default -> e.getClass().getSimpleName();
            };
            return f.getMessage() + ": " + why;
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
