package dev.infercl.cli;

import java.io.PrintStream;
import picocli.CommandLine;

/** The output streams of one CLI run, reachable from every command (tests run the CLI in-process). */
final class Streams {
    private Streams() {}

    static void set(CommandLine cli, PrintStream out, PrintStream err) {
        for (CommandLine sub : cli.getSubcommands().values()) {
            if (sub.getCommand() instanceof Command c) c.streams(out, err);
            set(sub, out, err);   // nested commands (lora merge)
        }
    }

    /** A command that prints to the run's streams. */
    abstract static class Command {
        PrintStream out = System.out, err = System.err;

        void streams(PrintStream out, PrintStream err) {
            this.out = out;
            this.err = err;
        }
    }
}
