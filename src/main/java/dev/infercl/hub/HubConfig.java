package dev.infercl.hub;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Where the hub and the cache are, and how a download behaves.
 *
 * @param endpoint the hub, e.g. {@code https://huggingface.co} (no trailing '/')
 * @param cache the hub cache folder, huggingface_hub's layout ({@code models--OWNER--NAME/…})
 * @param token sent as {@code Authorization: Bearer} to the endpoint's host only, never to a host it redirects to;
 *              null for none
 * @param offline use the cache only, never the network
 * @param attempts tries per file download: an interrupted attempt is resumed from the bytes it kept
 * @param retryDelay the wait before the second attempt, doubled for each one after it
 */
public record HubConfig(URI endpoint, Path cache, String token, boolean offline, int attempts, Duration retryDelay) {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    public HubConfig {
        String e = endpoint.toString();
        if (e.endsWith("/")) endpoint = URI.create(e.substring(0, e.length() - 1));
        if (endpoint.getScheme() == null || endpoint.getHost() == null) throw new IllegalArgumentException("hub endpoint must be an http(s) URL, got '" + e + "'");
        if (token != null && token.isBlank()) token = null;
        if (attempts < 1) throw new IllegalArgumentException("attempts must be ≥ 1, got " + attempts);
    }

    /** This config with another token. */
    public HubConfig withToken(String newToken) {
        return new HubConfig(endpoint, cache, newToken, offline, attempts, retryDelay);
    }

    /** This config with another number of attempts and delay between them. */
    public HubConfig withAttempts(int newAttempts, Duration newDelay) {
        return new HubConfig(endpoint, cache, token, offline, newAttempts, newDelay);
    }

    /** This config, offline or not. */
    public HubConfig withOffline(boolean newOffline) {
        return new HubConfig(endpoint, cache, token, newOffline, attempts, retryDelay);
    }

    /** The config huggingface_hub would use here: see {@link #from(Map, Map)}. */
    public static HubConfig fromEnvironment() {
        var props = new java.util.HashMap<String, String>();
        for (String name : System.getProperties().stringPropertyNames()) props.put(name, System.getProperty(name));
        return from(System.getenv(), props);
    }

    /**
     * The config from huggingface_hub's environment variables, each overridden by a system property (the CLI's tests
     * run in-process, where the environment cannot be set):
     * <ul>
     * <li>endpoint: {@code -Dinfercl.hf.endpoint}, else {@code HF_ENDPOINT}, else {@value #DEFAULT_ENDPOINT};
     * <li>cache: {@code -Dinfercl.hf.cache}, else {@code HF_HUB_CACHE}, else {@code $HF_HOME/hub}, else
     *     {@code $XDG_CACHE_HOME/huggingface/hub}, else {@code ~/.cache/huggingface/hub};
     * <li>token: {@code HF_TOKEN};
     * <li>offline: {@code -Dinfercl.hf.offline=true}, or {@code HF_HUB_OFFLINE} set to 1, true, yes or on.
     * </ul>
     */
    public static HubConfig from(Map<String, String> env, Map<String, String> props) {
        String home = props.getOrDefault("user.home", System.getProperty("user.home"));
        String endpoint = first(props.get("infercl.hf.endpoint"), env.get("HF_ENDPOINT"), DEFAULT_ENDPOINT);
        Path cache;
        if (present(props.get("infercl.hf.cache"))) cache = expand(props.get("infercl.hf.cache"), home);
        else if (present(env.get("HF_HUB_CACHE"))) cache = expand(env.get("HF_HUB_CACHE"), home);
        else if (present(env.get("HF_HOME"))) cache = expand(env.get("HF_HOME"), home).resolve("hub");
        else if (present(env.get("XDG_CACHE_HOME"))) cache = expand(env.get("XDG_CACHE_HOME"), home).resolve("huggingface").resolve("hub");
        else cache = Path.of(home, ".cache", "huggingface", "hub");
        String offline = first(props.get("infercl.hf.offline"), env.get("HF_HUB_OFFLINE"), "");
        boolean off = Set.of("1", "true", "yes", "on").contains(offline.trim().toLowerCase(Locale.ROOT));
        return new HubConfig(URI.create(endpoint.trim()), cache, env.get("HF_TOKEN"), off, 3, Duration.ofSeconds(1));
    }

    private static boolean present(String s) {
        return s != null && !s.isBlank();
    }

    private static String first(String a, String b, String fallback) {
        return present(a) ? a : present(b) ? b : fallback;
    }

    /** A leading {@code ~} is the home folder, as huggingface_hub's expanduser makes it. */
    private static Path expand(String p, String home) {
        return p.equals("~") ? Path.of(home) : p.startsWith("~/") ? Path.of(home, p.substring(2)) : Path.of(p);
    }
}
