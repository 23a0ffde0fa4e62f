package dev.infercl.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Resolves a {@link HubReference} to a local file through the Hugging Face hub and its cache ({@link HubCache}):
 * <ol>
 * <li>lists the repository at {@code main} ({@code GET /api/models/OWNER/NAME/revision/main?blobs=true}: the commit,
 *     and each file's size and, for LFS files, sha256) and picks the file ({@link QuantSelector});
 * <li>returns the snapshot's file if the cache holds it already (downloaded by any tool), or links a blob already
 *     there;
 * <li>else downloads {@code /OWNER/NAME/resolve/COMMIT/PATH} (the hub redirects to a CDN) into
 *     {@code blobs/HASH.incomplete}, resuming what an earlier attempt kept with a {@code Range} request, checks the
 *     size and sha256 the hub listed, and only then renames it to {@code blobs/HASH} and links the snapshot to it.
 * </ol>
 * When the hub cannot be reached, a file the cache holds for {@code main} is used. The token goes only to the
 * endpoint's own host: redirects are followed here, and the CDN a download is redirected to never sees it.
 */
public final class HubClient implements AutoCloseable {
    /** The branch a reference resolves against. */
    public static final String REVISION = "main";

    private static final String USER_AGENT = "infercl/0.1.0 (java/" + Runtime.version().feature() + ")";
    private static final Duration API_TIMEOUT = Duration.ofSeconds(60);
    private static final int MAX_REDIRECTS = 10;
    private static final int MAX_API_BYTES = 64 << 20;
    private static final Pattern SHA256 = Pattern.compile("[0-9a-fA-F]{64}");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-fA-F]{7,64}");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HubConfig config;
    private final HubCache cache;
    private final HttpClient http;

    public HubClient(HubConfig config) {
        this.config = config;
        this.cache = new HubCache(config.cache());
        // redirects are followed by hand, so that the token stays with the hub's own host
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(30))
                .version(HttpClient.Version.HTTP_1_1).build();
    }

    public HubConfig config() {
        return config;
    }

    public HubCache cache() {
        return cache;
    }

    /** A file of a repository at one commit, as the hub lists it: size -1 and hashes null where it did not say. */
    record RemoteFile(String path, long size, String sha256, String blobId) {}

    /** A repository at one commit. */
    record Listing(String commit, List<RemoteFile> files) {}

    /**
     * The local path of the file {@code ref} names: its snapshot in the cache, downloaded first when the cache does
     * not hold it. Typed failures: {@link IntegrityException} (size or sha256 differs from the hub's; nothing cached),
     * {@link HubException} (no such repository or quant, access denied, download interrupted: the message says
     * whether running again resumes).
     */
    public Path fetch(HubReference ref, HubListener listener) throws IOException {
        if (config.offline()) {
            return cached(ref).orElseThrow(() -> new HubException(ref.repo() + ": offline (HF_HUB_OFFLINE) and the cache "
                    + cache.repoDir(ref.repo()) + " holds no " + ref.quant() + " file for " + REVISION));
        }
        Listing listing;
        try {
            listing = list(ref.repo());
        } catch (HubException e) {
            throw e;
        } catch (IOException e) {
            Optional<Path> c = cached(ref);
            String why = "the hub at " + config.endpoint() + " could not be reached (" + describe(e) + ")";
            if (c.isEmpty()) throw new HubException(ref.repo() + ": " + why + ", and the cache holds no " + ref.quant() + " file for it", e);
            listener.note(why + "; using the cached " + c.get());
            return c.get();
        }
        String path = QuantSelector.select(ref, listing.files().stream().map(RemoteFile::path).toList());
        RemoteFile file = listing.files().stream().filter(f -> f.path().equals(path)).findFirst().orElseThrow();
        if (!ref.quantGiven() && !QuantSelector.matches(path, ref.quant())) {
            listener.note(ref.repo() + " has no " + ref.quant() + " file; using its only GGUF file, " + path);
        }
        Path snapshot = cache.snapshotFile(ref.repo(), listing.commit(), path);
        if (Files.exists(snapshot)) {
            cache.writeRef(ref.repo(), REVISION, listing.commit());
            listener.note(ref.repo() + ": " + path + " is already in the cache");
            return snapshot;
        }
        URI url = resolveUrl(ref.repo(), listing.commit(), path);
        if (file.sha256() == null && file.blobId() == null || file.size() < 0) file = withHeaders(ref.repo(), file, url);
        String hash = file.sha256() != null ? file.sha256() : file.blobId();
        if (hash == null) throw new HubException(ref.repo() + ": the hub gave neither a sha256 nor an ETag for " + path);
        Path blob = cache.blob(ref.repo(), hash);
        if (Files.isRegularFile(blob)) {
            if (file.size() >= 0 && Files.size(blob) != file.size()) {
                throw new HubException(ref.repo() + ": the cached blob " + blob + " of " + path + " has " + Files.size(blob)
                        + " bytes, the hub says " + file.size() + "; delete it to download the file again");
            }
            listener.note(ref.repo() + ": " + path + " is already in the cache (as " + blob.getFileName() + ")");
        } else {
            download(ref.repo(), url, file, hash, listener);
        }
        cache.link(snapshot, blob);
        cache.writeRef(ref.repo(), REVISION, listing.commit());
        return snapshot;
    }

    /** The file {@code ref} names in the snapshot {@code refs/main} points at, if the cache holds it. */
    public Optional<Path> cached(HubReference ref) throws IOException {
        Optional<String> commit = cache.readRef(ref.repo(), REVISION);
        if (commit.isEmpty()) return Optional.empty();
        List<String> files = cache.snapshotFiles(ref.repo(), commit.get());
        if (files.isEmpty()) return Optional.empty();
        try {
            // as if the quant were named: a snapshot holding one other quant does not stand in for the default
            String path = QuantSelector.select(new HubReference(ref.repo(), ref.quant(), true), files);
            return Optional.of(cache.snapshotFile(ref.repo(), commit.get(), path));
        } catch (HubException e) {
            return Optional.empty();
        }
    }

    /** The repository at {@link #REVISION}: its commit and files. */
    Listing list(String repo) throws IOException {
        URI uri = URI.create(config.endpoint() + "/api/models/" + repo + "/revision/" + REVISION + "?blobs=true");
        HttpResponse<InputStream> r = send(uri, "GET", null, false, API_TIMEOUT);
        byte[] body;
        try (InputStream in = r.body()) {
            // a server error reads as an unreachable hub: the cache may stand in
            if (r.statusCode() >= 500) throw new IOException("the hub answered " + r.statusCode());
            if (r.statusCode() != 200) throw httpError(repo, r, uri);
            body = in.readNBytes(MAX_API_BYTES);
        }
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            throw new HubException(repo + ": the hub's answer to " + uri + " is not JSON: " + e.getMessage(), e);
        }
        String commit = root.path("sha").asText("");
        if (!COMMIT.matcher(commit).matches()) throw new HubException(repo + ": the hub's answer to " + uri + " names no commit (\"sha\")");
        var files = new ArrayList<RemoteFile>();
        for (JsonNode s : root.path("siblings")) {
            String name = s.path("rfilename").asText("");
            if (name.isEmpty()) continue;
            JsonNode lfs = s.path("lfs");
            String sha = lfs.path("sha256").asText(lfs.path("oid").asText(null));
            if (sha != null && !SHA256.matcher(sha).matches()) sha = null;
            long size = lfs.path("size").asLong(s.path("size").asLong(-1));
            String blobId = s.path("blobId").asText(null);
            if (blobId != null && !blobId.matches("[0-9a-fA-F]+")) blobId = null;
            files.add(new RemoteFile(name, size, sha == null ? null : sha.toLowerCase(Locale.ROOT), blobId));
        }
        return new Listing(commit.toLowerCase(Locale.ROOT), files);
    }

    /**
     * The file with the size and hash the hub's headers give for its resolve URL (a HEAD request that follows the
     * hub's own redirects only): X-Linked-Size and X-Linked-Etag for LFS files, else Content-Length and ETag.
     */
    private RemoteFile withHeaders(String repo, RemoteFile file, URI url) throws IOException {
        HttpResponse<InputStream> r = send(url, "HEAD", null, false, API_TIMEOUT);
        try (InputStream ignored = r.body()) {
            int s = r.statusCode();
            if (s != 200 && (s < 300 || s >= 400)) throw httpError(repo, r, url);
            HttpHeaders h = r.headers();
            String etag = h.firstValue("X-Linked-Etag").or(() -> h.firstValue("ETag")).map(HubClient::unquote).orElse(null);
            long size = file.size() >= 0 ? file.size()
                    : h.firstValue("X-Linked-Size").or(() -> s == 200 ? h.firstValue("Content-Length") : Optional.empty()).map(Long::parseLong).orElse(-1L);
            String sha = file.sha256() != null ? file.sha256() : etag != null && SHA256.matcher(etag).matches() ? etag.toLowerCase(Locale.ROOT) : null;
            String blobId = file.blobId() != null ? file.blobId() : etag != null && etag.matches("[0-9a-fA-F]+") ? etag : null;
            return new RemoteFile(file.path(), size, sha, blobId);
        }
    }

    private static String unquote(String etag) {
        String e = etag.startsWith("W/") ? etag.substring(2) : etag;
        return e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"") ? e.substring(1, e.length() - 1) : e;
    }

    private URI resolveUrl(String repo, String commit, String path) {
        var sb = new StringBuilder(config.endpoint().toString()).append('/').append(repo).append("/resolve/").append(commit);
        for (String part : path.split("/")) sb.append('/').append(URLEncoder.encode(part, StandardCharsets.UTF_8).replace("+", "%20"));
        return URI.create(sb.toString());
    }

    /** An attempt that ended before the file was complete; the bytes it kept stay for the next one. */
    private static final class Interrupted extends Exception {
        Interrupted(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Downloads {@code url} into {@code blobs/HASH}, resuming {@code blobs/HASH.incomplete}, up to the configured
     * attempts; verifies size and sha256 before the rename. The partial file is locked while it grows, so a second
     * process downloading the same blob is refused rather than interleaved.
     */
    private void download(String repo, URI url, RemoteFile file, String hash, HubListener l) throws IOException {
        Path part = cache.incomplete(repo, hash);
        Files.createDirectories(part.getParent());
        IntegrityException bad = null;
        try (FileChannel ch = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
             FileLock lock = lock(ch, repo, file, part)) {
            MessageDigest md = sha256();
            if (file.size() >= 0 && ch.size() > file.size()) ch.truncate(0);
            if (ch.size() > 0) {
                l.note("resuming " + file.path() + " from the " + ch.size() + " bytes kept in " + part);
                hashPrefix(ch, md);
            }
            for (int attempt = 1; ; attempt++) {
                try {
                    transfer(repo, url, file, ch, md, l);
                    break;
                } catch (Interrupted e) {
                    String kept = ch.size() + (file.size() >= 0 ? " of " + file.size() : "") + " bytes";
                    if (attempt >= config.attempts()) {
                        throw new HubException(repo + ": the download of " + file.path() + " was interrupted (" + e.getMessage() + ") with "
                                + kept + " kept in " + part + "; run again to resume", e.getCause());
                    }
                    l.note("the download of " + file.path() + " was interrupted (" + e.getMessage() + ") with " + kept
                            + " kept; resuming (attempt " + (attempt + 1) + " of " + config.attempts() + ")");
                    sleep(config.retryDelay().multipliedBy(1L << Math.min(attempt - 1, 10)));
                }
            }
            bad = verify(repo, file, ch.size(), md);
        } catch (IntegrityException e) {
            bad = e;
        }
        if (bad != null) {
            Files.deleteIfExists(part);
            throw bad;
        }
        Path blob = cache.blob(repo, hash);
        try {
            Files.move(part, blob, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(part, blob, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static FileLock lock(FileChannel ch, String repo, RemoteFile file, Path part) throws IOException {
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) throw new HubException(repo + ": another download of " + file.path() + " is in progress (" + part + " is locked)");
        return lock;
    }

    /** One attempt: from the partial file's length to the end (or from 0 when the server ignores the range). */
    private void transfer(String repo, URI url, RemoteFile file, FileChannel ch, MessageDigest md, HubListener l)
            throws IOException, Interrupted {
        long have = ch.size();
        long size = file.size();
        if (size >= 0 && have == size) return;
        HttpResponse<InputStream> r;
        try {
            // the timeout covers the wait for the answer's headers, not the body's transfer
            r = send(url, "GET", have > 0 ? "bytes=" + have + "-" : null, true, API_TIMEOUT);
        } catch (HubException e) {
            throw e;
        } catch (IOException e) {
            throw new Interrupted(describe(e), e);
        }
        try (InputStream in = r.body()) {
            int status = r.statusCode();
            long total = size;
            if (status == 206 && have > 0) {
                long[] range = contentRange(r.headers());
                if (range == null || range[0] != have) {
                    ch.truncate(0);
                    md.reset();
                    throw new Interrupted("asked for the bytes from " + have + ", the server sent "
                            + r.headers().firstValue("Content-Range").orElse("no Content-Range") + "; starting over", null);
                }
                if (total < 0) total = range[1];
            } else if (status == 200 || status == 206) {
                if (have > 0) {
                    l.note("the server ignored the request to resume; downloading " + file.path() + " from the start");
                    ch.truncate(0);
                    md.reset();
                    have = 0;
                }
                if (total < 0) total = r.headers().firstValueAsLong("Content-Length").orElse(-1);
            } else if (status == 416) {
                ch.truncate(0);
                md.reset();
                throw new Interrupted("the server refused to resume at byte " + have + "; starting over", null);
            } else if (status == 408 || status == 429 || status >= 500) {
                throw new Interrupted("the server answered " + status, null);
            } else {
                throw httpError(repo, r, url);
            }
            l.downloadStarted(file.path(), total, have);
            try {
                ch.position(have);
                byte[] buf = new byte[1 << 20];
                var bb = ByteBuffer.wrap(buf);
                while (true) {
                    int n;
                    try {
                        n = in.read(buf);
                    } catch (IOException e) {
                        throw new Interrupted("connection lost: " + describe(e), e);
                    }
                    if (n < 0) break;
                    if (size >= 0 && have + n > size) {
                        throw new IntegrityException(repo, file.path(), "size", size + " bytes", "more than " + size + " bytes");
                    }
                    bb.clear().limit(n);
                    while (bb.hasRemaining()) ch.write(bb);
                    md.update(buf, 0, n);
                    have += n;
                    l.downloaded(have);
                }
            } finally {
                l.downloadEnded();
            }
            if (size >= 0 && have < size) throw new Interrupted("the connection closed after " + have + " of " + size + " bytes", null);
        }
    }

    /** START and TOTAL (-1 if '*') of a {@code Content-Range: bytes START-END/TOTAL} header, or null. */
    private static long[] contentRange(HttpHeaders h) {
        var m = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)").matcher(h.firstValue("Content-Range").orElse(""));
        if (!m.matches()) return null;
        return new long[] {Long.parseLong(m.group(1)), m.group(3).equals("*") ? -1 : Long.parseLong(m.group(3))};
    }

    private static IntegrityException verify(String repo, RemoteFile file, long length, MessageDigest md) {
        if (file.size() >= 0 && length != file.size()) {
            return new IntegrityException(repo, file.path(), "size", file.size() + " bytes", length + " bytes");
        }
        if (file.sha256() != null) {
            String actual = HexFormat.of().formatHex(md.digest());
            if (!actual.equalsIgnoreCase(file.sha256())) return new IntegrityException(repo, file.path(), "sha256", file.sha256(), actual);
        }
        return null;
    }

    private static void hashPrefix(FileChannel ch, MessageDigest md) throws IOException {
        var buf = ByteBuffer.allocate(1 << 20);
        long pos = 0, end = ch.size();
        while (pos < end) {
            buf.clear();
            int n = ch.read(buf, pos);
            if (n < 0) break;
            md.update(buf.flip());
            pos += n;
        }
    }

    /**
     * Sends a request, following up to {@value #MAX_REDIRECTS} redirects: all of them when {@code crossOrigin}, else
     * only those to the endpoint's own origin (the last answer is then the redirect, whose headers describe the
     * file). The token goes with a request only when it is for the endpoint's origin.
     */
    private HttpResponse<InputStream> send(URI uri, String method, String range, boolean crossOrigin, Duration timeout) throws IOException {
        URI current = uri;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            var b = HttpRequest.newBuilder(current).method(method, HttpRequest.BodyPublishers.noBody()).header("User-Agent", USER_AGENT);
            if (timeout != null) b.timeout(timeout);
            if (range != null) b.header("Range", range);
            if (config.token() != null && sameOrigin(current, config.endpoint())) b.header("Authorization", "Bearer " + config.token());
            HttpResponse<InputStream> r;
            try {
                r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for " + current.getHost());
            }
            int s = r.statusCode();
            if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) return r;
            Optional<String> location = r.headers().firstValue("Location");
            if (location.isEmpty()) return r;
            URI next = current.resolve(location.get());
            if (!crossOrigin && !sameOrigin(next, config.endpoint())) return r;
            r.body().close();
            current = next;
        }
        throw new HubException("more than " + MAX_REDIRECTS + " redirects from " + uri);
    }

    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme() != null && a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost() != null
                && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /** A typed error for a status the caller does not handle, with the hub's own message when it gave one. */
    private HubException httpError(String repo, HttpResponse<InputStream> r, URI uri) {
        int s = r.statusCode();
        String hubMessage = r.headers().firstValue("X-Error-Message").map(m -> " (the hub says: " + m + ")").orElse("");
        boolean tokenSet = config.token() != null;
        String what = switch (s) {
            case 401 -> "the hub answered 401: the repository does not exist, or it is private or gated and "
                    + (tokenSet ? "HF_TOKEN does not grant access to it" : "HF_TOKEN is not set");
            case 403 -> "access denied (403): the repository is gated; accept its terms on the hub with the account whose token HF_TOKEN holds";
            case 404 -> "not found on " + config.endpoint() + " (404)";
            default -> "the server answered " + s + " for " + uri;
        };
        return new HubException(repo + ": " + what + hubMessage);
    }

    private static String describe(IOException e) {
        String m = e.getMessage();
        return m != null && !m.isBlank() ? m : e.getClass().getSimpleName();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(Duration d) throws InterruptedIOException {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to resume");
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
