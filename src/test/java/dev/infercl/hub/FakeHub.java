package dev.infercl.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Hugging Face hub's endpoints, imitated on loopback by two servers on 127.0.0.1 (two origins: the hub and the
 * CDN it redirects downloads to), with switches for what a test needs to go wrong. Nothing here reaches beyond the
 * loopback interface, and every handler answers one request and returns.
 * <ul>
 * <li>{@code GET /api/models/OWNER/NAME/revision/REV?blobs=true}: {@code sha} and {@code siblings} with size,
 *     blobId and {@code lfs.sha256} (only {@code rfilename} when {@link #bareListing});
 * <li>{@code GET|HEAD /OWNER/NAME/resolve/REV/PATH}: 302 to the CDN's {@code /blobs/SHA256} (or, with
 *     {@link #relativeRedirect}, to the hub's own {@code /local-cdn/SHA256}), with X-Repo-Commit, X-Linked-Etag and
 *     X-Linked-Size;
 * <li>the file itself: {@code Range: bytes=N-} answered with 206 (200 when {@link #ignoreRange}), the connection
 *     dropped once after {@link #dropAfter} bytes, or every byte served with one flipped ({@link #corrupt}).
 * </ul>
 */
public final class FakeHub implements AutoCloseable {
    /** One request as a server saw it, with the body bytes it sent. */
    public record Request(String server, String method, String path, String authorization, String range, int status, long bytesSent) {}

    public static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    private final HttpServer hub;
    private final HttpServer cdn;
    private final Map<String, Map<String, byte[]>> repos = new LinkedHashMap<>();
    public final List<Request> requests = Collections.synchronizedList(new ArrayList<>());

    /** The next file response sends this many bytes and drops the connection; -1: none. Applies once. */
    public volatile long dropAfter = -1;
    /** File responses carry one byte changed. */
    public volatile boolean corrupt;
    /** File responses ignore Range and answer 200 with the whole file. */
    public volatile boolean ignoreRange;
    /** The listing names the files only (no size, no hashes): the client must ask the resolve URL's headers. */
    public volatile boolean bareListing;
    /** The hub's endpoints answer 401 unless this bearer token comes with the request; null: open. */
    public volatile String requiredToken;
    /** Downloads redirect to the hub's own origin (as the hub does for small files) instead of the CDN's. */
    public volatile boolean relativeRedirect;

    public FakeHub() throws IOException {
        hub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        cdn = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        hub.createContext("/", e -> handle("hub", e));
        cdn.createContext("/", e -> handle("cdn", e));
        hub.start();
        cdn.start();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + hub.getAddress().getPort());
    }

    private String cdnBase() {
        return "http://127.0.0.1:" + cdn.getAddress().getPort();
    }

    public synchronized FakeHub add(String repo, String path, byte[] bytes) {
        repos.computeIfAbsent(repo, r -> new LinkedHashMap<>()).put(path, bytes);
        return this;
    }

    /** The requests one server saw. */
    public List<Request> requests(String server) {
        synchronized (requests) {
            return requests.stream().filter(r -> r.server().equals(server)).toList();
        }
    }

    /** The requests for file bytes, on either server. */
    public List<Request> fileRequests() {
        synchronized (requests) {
            return requests.stream().filter(r -> r.path().startsWith("/blobs/") || r.path().startsWith("/local-cdn/")).toList();
        }
    }

    /** The requests for a resolve URL. */
    public List<Request> resolveRequests() {
        synchronized (requests) {
            return requests.stream().filter(r -> r.path().contains("/resolve/")).toList();
        }
    }

    /** The test repository's folder in a Hugging Face cache. */
    public static Path repoDir(Path cache) {
        return cache.resolve("models--test-org--Tiny-GGUF");
    }

    /** Where the snapshot of {@link #COMMIT} keeps {@code file}. */
    public static Path snapshot(Path cache, String file) {
        return repoDir(cache).resolve("snapshots").resolve(COMMIT).resolve(file);
    }

    /** The blob files in the cache, sorted (none when the folder does not exist). */
    public static List<String> blobs(Path cache) throws IOException {
        Path b = repoDir(cache).resolve("blobs");
        if (!Files.isDirectory(b)) return List.of();
        try (Stream<Path> s = Files.list(b)) {
            return s.map(x -> x.getFileName().toString()).sorted().toList();
        }
    }

    public static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String gitBlobId(byte[] b) {
        try {
            var md = MessageDigest.getInstance("SHA-1");
            md.update(("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(md.digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final Pattern API = Pattern.compile("/api/models/([^/]+/[^/]+)/revision/([^/?]+)");
    private static final Pattern RESOLVE = Pattern.compile("/([^/]+/[^/]+)/resolve/([^/]+)/(.+)");
    private static final Pattern BLOB = Pattern.compile("/(?:blobs|local-cdn)/([0-9a-f]{64})");

    private void handle(String server, HttpExchange e) throws IOException {
        String path = e.getRequestURI().getPath();
        String auth = e.getRequestHeaders().getFirst("Authorization");
        String range = e.getRequestHeaders().getFirst("Range");
        int[] status = {500};
        long sent = 0;
        try (e) {
            Matcher m;
            boolean hubEndpoint = server.equals("hub") && !path.startsWith("/local-cdn/");
            if (hubEndpoint && requiredToken != null && !("Bearer " + requiredToken).equals(auth)) {
                e.getResponseHeaders().add("X-Error-Code", "RepoNotFound");
                e.getResponseHeaders().add("X-Error-Message", "Invalid credentials in Authorization header");
                status[0] = 401;
                e.sendResponseHeaders(401, -1);
            } else if (hubEndpoint && (m = API.matcher(path)).matches()) {
                sent = listing(e, m.group(1), status);
            } else if (hubEndpoint && (m = RESOLVE.matcher(path)).matches()) {
                resolve(e, m.group(1), m.group(3), status);
            } else if ((m = BLOB.matcher(path)).matches()) {
                sent = file(e, m.group(1), range, status);
            } else {
                status[0] = 404;
                e.sendResponseHeaders(404, -1);
            }
        } finally {
            requests.add(new Request(server, e.getRequestMethod(), path, auth, range, status[0], sent));
        }
    }

    private synchronized Map<String, byte[]> repo(String name) {
        return repos.get(name);
    }

    private long listing(HttpExchange e, String repo, int[] status) throws IOException {
        Map<String, byte[]> files = repo(repo);
        if (files == null) {
            // the hub answers an unknown repository as it does a private one
            e.getResponseHeaders().add("X-Error-Code", "RepoNotFound");
            e.getResponseHeaders().add("X-Error-Message", "Repository not found");
            status[0] = 401;
            e.sendResponseHeaders(401, -1);
            return 0;
        }
        var json = new ObjectMapper();
        ObjectNode root = json.createObjectNode().put("id", repo).put("sha", COMMIT);
        var siblings = root.putArray("siblings");
        files.forEach((name, bytes) -> {
            ObjectNode s = siblings.addObject().put("rfilename", name);
            if (!bareListing) {
                s.put("size", bytes.length).put("blobId", gitBlobId(bytes));
                s.putObject("lfs").put("sha256", sha256(bytes)).put("size", bytes.length).put("pointerSize", 134);
            }
        });
        byte[] body = json.writeValueAsBytes(root);
        e.getResponseHeaders().add("Content-Type", "application/json");
        status[0] = 200;
        e.sendResponseHeaders(200, body.length);
        e.getResponseBody().write(body);
        return body.length;
    }

    private void resolve(HttpExchange e, String repo, String file, int[] status) throws IOException {
        Map<String, byte[]> files = repo(repo);
        byte[] bytes = files == null ? null : files.get(file);
        if (bytes == null) {
            e.getResponseHeaders().add("X-Error-Code", "EntryNotFound");
            status[0] = 404;
            e.sendResponseHeaders(404, -1);
            return;
        }
        String sha = sha256(bytes);
        e.getResponseHeaders().add("X-Repo-Commit", COMMIT);
        e.getResponseHeaders().add("X-Linked-Etag", "\"" + sha + "\"");
        e.getResponseHeaders().add("X-Linked-Size", Long.toString(bytes.length));
        e.getResponseHeaders().add("ETag", "\"" + gitBlobId(bytes) + "\"");
        e.getResponseHeaders().add("Location", relativeRedirect ? "/local-cdn/" + sha : cdnBase() + "/blobs/" + sha + "?signature=abc");
        status[0] = 302;
        e.sendResponseHeaders(302, -1);
    }

    private long file(HttpExchange e, String sha, String range, int[] status) throws IOException {
        byte[] bytes = null;
        synchronized (this) {
            for (var files : repos.values()) for (byte[] b : files.values()) if (sha256(b).equals(sha)) bytes = b;
        }
        if (bytes == null) {
            status[0] = 404;
            e.sendResponseHeaders(404, -1);
            return 0;
        }
        if (corrupt) {
            bytes = bytes.clone();
            bytes[bytes.length / 2] ^= 0x55;
        }
        long start = 0;
        if (range != null && !ignoreRange) {
            var m = Pattern.compile("bytes=(\\d+)-").matcher(range);
            if (!m.matches()) throw new IllegalStateException("unexpected Range " + range);
            start = Long.parseLong(m.group(1));
            if (start >= bytes.length) {
                e.getResponseHeaders().add("Content-Range", "bytes */" + bytes.length);
                status[0] = 416;
                e.sendResponseHeaders(416, -1);
                return 0;
            }
            e.getResponseHeaders().add("Content-Range", "bytes " + start + "-" + (bytes.length - 1) + "/" + bytes.length);
            status[0] = 206;
        } else {
            status[0] = 200;
        }
        int length = (int) (bytes.length - start);
        e.getResponseHeaders().add("Accept-Ranges", "bytes");
        e.sendResponseHeaders(status[0], length);
        if (e.getRequestMethod().equals("HEAD")) return 0;
        long drop = dropAfter;
        dropAfter = -1;
        int n = drop >= 0 ? (int) Math.min(drop, length) : length;
        OutputStream out = e.getResponseBody();
        out.write(bytes, (int) start, n);
        out.flush();
        if (n < length) {
            // fewer bytes than the Content-Length promised: closing the exchange drops the connection. A pause first
            // lets the client read what was sent (a reset can discard bytes still in flight); tests still read the
            // count kept from the partial file rather than assume all of them arrived
            try {
                Thread.sleep(200);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }
        return n;
    }

    @Override
    public void close() {
        hub.stop(0);
        cdn.stop(0);
    }
}
