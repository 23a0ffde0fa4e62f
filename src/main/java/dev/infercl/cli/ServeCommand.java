package dev.infercl.cli;

import dev.infercl.api.Model;
import dev.infercl.server.OpenAiServer;
import dev.infercl.server.ServerOptions;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * An OpenAI-compatible HTTP server (dev.infercl.server). It listens before the model is loaded, so /health answers
 * 503 while loading and 200 once ready; it runs until the process is stopped.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve a model over an OpenAI-compatible HTTP API (chat, completions, embeddings).")
final class ServeCommand extends Streams.Command implements Callable<Integer> {

    @Mixin ModelOptions model;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "address to listen on (default: ${DEFAULT-VALUE}, loopback only; 0.0.0.0 for every interface)")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "TCP port (default: ${DEFAULT-VALUE}; 0 = any free port)")
    int port;

    @Option(names = {"-np", "--parallel"}, defaultValue = "4", description = "sequences generating at once (default: ${DEFAULT-VALUE})")
    int parallel;

    @Option(names = "--queue", defaultValue = "64", description = "requests that may wait for a sequence; more get 429 (default: ${DEFAULT-VALUE})")
    int queue;

    @Option(names = "--api-key", description = "require Authorization: Bearer KEY on every endpoint but /health (default: $INFERCL_API_KEY, else none)")
    String apiKey;

    @Option(names = "--max-body", defaultValue = "4194304", description = "largest request body in bytes (default: ${DEFAULT-VALUE})")
    int maxBody;

    @Option(names = "--alias", description = "the model id clients name (default: the file name without .gguf)")
    String alias;

    @Override
    public Integer call() throws Exception {
        String key = apiKey != null ? apiKey : System.getenv("INFERCL_API_KEY");
        var options = new ServerOptions(host, port, parallel, queue, 0, key, maxBody, alias);
        var path = model.modelPath(err);
        try (OpenAiServer server = OpenAiServer.start(options)) {
            err.println("infercl: listening on " + server.uri() + " (loading " + path.getFileName() + "; /health says 503 until it is ready)");
            // parallel > 1: the sessions' generations share batched forward steps and one paged KV cache with prefix reuse
            try (Model m = Model.load(path, model.loadOptions(n -> err.println("note: " + n)).withParallel(parallel))) {
                int ctx = model.context(m, err);
                server.ready(m, ctx);
                err.println("infercl: serving " + server.modelId() + " on " + m.backendName() + ": " + parallel + " sequence(s) of "
                        + ctx + " tokens" + (key != null ? ", API key required" : "") + "; " + server.uri() + "/v1");
                var stop = new CountDownLatch(1);
                Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
                stop.await();
            }
        }
        return 0;
    }
}
