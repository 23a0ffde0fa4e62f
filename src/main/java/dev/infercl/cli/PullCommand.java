package dev.infercl.cli;

import dev.infercl.hub.HubReference;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Fetches a GGUF file from the Hugging Face hub into its cache and prints the cached file's path. */
@Command(name = "pull", mixinStandardHelpOptions = true,
        description = "Download a GGUF model from the Hugging Face hub into its cache (resuming an interrupted download,"
                + " verifying size and sha256) and print its path; -m OWNER/NAME[:QUANT] does the same on first use.",
        footerHeading = "%nEnvironment:%n",
        footer = {"  HF_TOKEN        token for private or gated repositories, sent to the hub only",
                "  HF_ENDPOINT     the hub (default: https://huggingface.co)",
                "  HF_HUB_CACHE    the cache (default $HF_HOME/hub or ~/.cache/huggingface/hub),",
                "                  shared with huggingface_hub, transformers and llama.cpp",
                "  HF_HUB_OFFLINE  1: use the cache only, never the network"})
final class PullCommand extends Streams.Command implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "OWNER/NAME[:QUANT]",
            description = "repository and quant, e.g. bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M (quant case-insensitive,"
                    + " default " + HubReference.DEFAULT_QUANT + "; or the file name, NAME.gguf)")
    String reference;

    @Option(names = "--verbose", description = "print stack traces of errors")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        Path p = HubModels.fetch(HubReference.parse(reference), err);
        out.println(p);
        return 0;
    }
}
