package dev.infercl.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code infercl} command line. Errors print one line and exit non-zero; {@code --verbose} adds the stack trace. */
@Command(name = "infercl", mixinStandardHelpOptions = true, version = "InferCL 0.1.0",
        description = "Run GGUF language models in Java, with OpenCL kernels for the arithmetic.",
        subcommands = {GenerateCommand.class, ChatCommand.class, InfoCommand.class, TokenizeCommand.class, LogitsCommand.class,
                SynthCommand.class, ConvertCommand.class, BenchCommand.class, DevicesCommand.class, QuantizeCommand.class, EvalCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a command: generate, chat, info, tokenize, logits, synth, convert, bench, devices, quantize, eval (see --help)");
    }

    public static void main(String[] args) {
        var out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        var err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        System.exit(run(args, out, err));
    }

    /** Runs the CLI with the given streams (tests call this in-process); returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        var cli = new CommandLine(new Main());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            String msg = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            err.println("infercl: error: " + msg);
            if (verbose) e.printStackTrace(err);
            return 1;
        });
        cli.setParameterExceptionHandler((e, a) -> {
            err.println("infercl: " + e.getMessage());
            err.println("Try 'infercl " + (e.getCommandLine().getCommandName().equals("infercl") ? "" : e.getCommandLine().getCommandName() + " ") + "--help'.");
            return 2;
        });
        Streams.set(cli, out, err);
        return cli.execute(args);
    }
}
