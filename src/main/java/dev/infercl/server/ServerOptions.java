package dev.infercl.server;

/**
 * How {@link OpenAiServer} listens and shares its model.
 *
 * @param host          address to bind (loopback by default: a server reachable from elsewhere is a choice)
 * @param port          TCP port (0: any free one, see {@link OpenAiServer#port()})
 * @param parallel      sequences generating at once: the pool of sessions
 * @param queue         requests waiting for a session beyond {@code parallel}; more are refused with 429
 * @param contextLength positions each session holds (≤ 0: the model's default context)
 * @param apiKey        the bearer token every endpoint but /health requires (null: none)
 * @param maxBodyBytes  largest request body read; a larger one is refused with 413 without reading it all
 * @param modelId       the id /v1/models lists and requests name (null: the model file's name without .gguf)
 */
public record ServerOptions(String host, int port, int parallel, int queue, int contextLength, String apiKey, int maxBodyBytes,
                            String modelId) {
    public ServerOptions {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("a host to bind is needed");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in 0..65535, got " + port);
        if (parallel < 1) throw new IllegalArgumentException("--parallel must be ≥ 1, got " + parallel);
        if (queue < 0) throw new IllegalArgumentException("--queue must be ≥ 0, got " + queue);
        if (maxBodyBytes < 1024) throw new IllegalArgumentException("the body limit must be ≥ 1024 bytes, got " + maxBodyBytes);
        if (apiKey != null && apiKey.isEmpty()) apiKey = null;
    }

    /** Loopback, port 8080, one sequence, 64 waiting, the model's context, no key, 4 MiB bodies. */
    public static ServerOptions defaults() {
        return new ServerOptions("127.0.0.1", 8080, 1, 64, 0, null, 4 << 20, null);
    }

    public ServerOptions withPort(int p) {
        return new ServerOptions(host, p, parallel, queue, contextLength, apiKey, maxBodyBytes, modelId);
    }

    public ServerOptions withParallel(int n, int waiting) {
        return new ServerOptions(host, port, n, waiting, contextLength, apiKey, maxBodyBytes, modelId);
    }

    public ServerOptions withApiKey(String key) {
        return new ServerOptions(host, port, parallel, queue, contextLength, key, maxBodyBytes, modelId);
    }

    public ServerOptions withContextLength(int n) {
        return new ServerOptions(host, port, parallel, queue, n, apiKey, maxBodyBytes, modelId);
    }

    public ServerOptions withMaxBodyBytes(int n) {
        return new ServerOptions(host, port, parallel, queue, contextLength, apiKey, n, modelId);
    }
}
