package dev.infercl.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link HubClient} against {@link FakeHub} on loopback: resolution, download, resume, verification, cache reuse. */
class HubClientTest {
    static final String REPO = "test-org/Tiny-GGUF";
    static final String Q4 = "Tiny-Q4_K_M.gguf";
    static final String Q8 = "Tiny-Q8_0.gguf";

    @TempDir Path dir;
    FakeHub hub;
    byte[] q4, q8;
    Path cache;

    /** What a fetch reported. */
    static final class Recorder implements HubListener {
        final List<String> notes = new ArrayList<>();
        final List<long[]> starts = new ArrayList<>();
        long last = -1;

        @Override
        public void note(String message) {
            notes.add(message);
        }

        @Override
        public void downloadStarted(String file, long total, long from) {
            starts.add(new long[] {total, from});
        }

        @Override
        public void downloaded(long done) {
            assertTrue(done > last, "progress moves forward");
            last = done;
        }

        String notesText() {
            return String.join("\n", notes);
        }
    }

    static byte[] random(int n, long seed) {
        var b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        q4 = random(300_000, 1);
        q8 = random(200_000, 2);
        hub.add(REPO, Q4, q4).add(REPO, Q8, q8).add(REPO, "README.md", "# Tiny\n".getBytes());
        cache = dir.resolve("hub");
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    HubConfig config() {
        return new HubConfig(hub.endpoint(), cache, null, false, 1, Duration.ZERO);
    }

    static Path fetch(HubConfig config, String ref, HubListener l) throws IOException {
        try (var client = new HubClient(config)) {
            return client.fetch(HubReference.parse(ref), l);
        }
    }

    Path repoDir() {
        return FakeHub.repoDir(cache);
    }

    Path snapshot(String file) {
        return FakeHub.snapshot(cache, file);
    }

    List<String> blobs() throws IOException {
        return FakeHub.blobs(cache);
    }

    @Test
    void aCompleteDownloadIsStoredInTheHuggingFaceCacheLayout() throws IOException {
        var rec = new Recorder();
        Path p = fetch(config(), REPO, rec);
        String sha = FakeHub.sha256(q4);

        assertEquals(snapshot(Q4), p);
        assertArrayEquals(q4, Files.readAllBytes(p));
        assertTrue(Files.isSymbolicLink(p));
        assertEquals(Path.of("../../blobs/" + sha), Files.readSymbolicLink(p));
        assertEquals(List.of(sha), blobs(), "the blob is named by its sha256, and no .incomplete is left");
        assertEquals(FakeHub.COMMIT, Files.readString(repoDir().resolve("refs/main")), "refs/main holds the commit, no newline");
        assertEquals(1, rec.starts.size());
        assertArrayEquals(new long[] {q4.length, 0}, rec.starts.getFirst());
        assertEquals(q4.length, rec.last);

        assertEquals(1, hub.fileRequests().size());
        assertEquals("cdn", hub.fileRequests().getFirst().server());
        assertNull(hub.fileRequests().getFirst().range());

        // the second time the snapshot is there: no file request at all
        var again = new Recorder();
        assertEquals(p, fetch(config(), REPO + ":Q4_K_M", again));
        assertEquals(1, hub.fileRequests().size());
        assertEquals(1, hub.resolveRequests().size());
        assertTrue(again.notesText().contains("already in the cache"), again.notesText());
    }

    @Test
    void aDroppedConnectionIsResumedByTheNextRun() throws IOException {
        hub.dropAfter = 100_000;
        var e = assertThrows(HubException.class, () -> fetch(config(), REPO, HubListener.NONE));
        assertTrue(e.getMessage().contains("run again to resume") && e.getMessage().contains(Q4), e.getMessage());
        String sha = FakeHub.sha256(q4);
        assertEquals(List.of(sha + ".incomplete"), blobs(), "only the partial file");
        long kept = Files.size(repoDir().resolve("blobs/" + sha + ".incomplete"));
        assertTrue(kept > 0 && kept <= 100_000, "kept " + kept);
        assertFalse(Files.exists(snapshot(Q4), java.nio.file.LinkOption.NOFOLLOW_LINKS), "no snapshot link to an unfinished blob");
        assertFalse(Files.exists(repoDir().resolve("refs/main")));

        var rec = new Recorder();
        Path p = fetch(config(), REPO, rec);
        assertArrayEquals(q4, Files.readAllBytes(p));
        assertEquals(List.of(sha), blobs());
        List<FakeHub.Request> files = hub.fileRequests();
        assertEquals(2, files.size());
        assertEquals(100_000, files.get(0).bytesSent());
        FakeHub.Request second = files.get(1);
        assertEquals("bytes=" + kept + "-", second.range());
        assertEquals(206, second.status());
        assertEquals(q4.length - kept, second.bytesSent(), "the second run fetches only the rest");
        assertArrayEquals(new long[] {q4.length, kept}, rec.starts.getFirst());
        assertTrue(rec.notesText().contains("resuming " + Q4), rec.notesText());
    }

    @Test
    void aDroppedConnectionIsResumedWithinOneRunWhenAttemptsAllow() throws IOException {
        hub.dropAfter = 50_000;
        var rec = new Recorder();
        Path p = fetch(config().withAttempts(3, Duration.ZERO), REPO + ":q8_0", rec);
        assertArrayEquals(q8, Files.readAllBytes(p));
        assertTrue(rec.notesText().contains("resuming (attempt 2 of 3)"), rec.notesText());
        List<FakeHub.Request> files = hub.fileRequests();
        assertEquals(2, files.size());
        long kept = Long.parseLong(files.get(1).range().replaceAll("bytes=(\\d+)-", "$1"));
        assertTrue(kept > 0 && kept <= 50_000, "kept " + kept);
        assertEquals(q8.length - kept, files.get(1).bytesSent());
    }

    @Test
    void aCorruptedDownloadIsRefusedAndNothingIsCached() throws IOException {
        hub.corrupt = true;
        String sha = FakeHub.sha256(q4);
        var e = assertThrows(IntegrityException.class, () -> fetch(config(), REPO, HubListener.NONE));
        assertEquals(Q4, e.file());
        assertEquals("sha256", e.property());
        assertEquals(sha, e.expected());
        assertNotEquals(sha, e.actual());
        assertTrue(e.getMessage().contains(Q4) && e.getMessage().contains(sha) && e.getMessage().contains(e.actual()), e.getMessage());
        assertEquals(List.of(), blobs(), "neither a blob nor a partial file");
        assertFalse(Files.exists(snapshot(Q4), java.nio.file.LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(repoDir().resolve("refs/main")));

        hub.corrupt = false;
        Path p = fetch(config(), REPO, HubListener.NONE);
        assertArrayEquals(q4, Files.readAllBytes(p));
        assertNull(hub.fileRequests().getLast().range(), "the retry starts afresh");
    }

    @Test
    void aPartialFileWithWrongBytesFailsTheChecksumWhenResumed() throws IOException {
        String sha = FakeHub.sha256(q4);
        Path part = repoDir().resolve("blobs/" + sha + ".incomplete");
        Files.createDirectories(part.getParent());
        Files.write(part, new byte[1000]); // zeros where the file has random bytes
        var e = assertThrows(IntegrityException.class, () -> fetch(config(), REPO, HubListener.NONE));
        assertEquals("sha256", e.property());
        assertEquals("bytes=1000-", hub.fileRequests().getFirst().range());
        assertFalse(Files.exists(part), "the partial file is deleted");
    }

    @Test
    void aServerThatIgnoresTheRangeRestartsFromZero() throws IOException {
        String sha = FakeHub.sha256(q4);
        Path part = repoDir().resolve("blobs/" + sha + ".incomplete");
        Files.createDirectories(part.getParent());
        Files.write(part, Arrays.copyOf(q4, 1000));
        hub.ignoreRange = true;
        var rec = new Recorder();
        Path p = fetch(config(), REPO, rec);
        assertArrayEquals(q4, Files.readAllBytes(p));
        assertEquals(q4.length, hub.fileRequests().getFirst().bytesSent());
        assertEquals(200, hub.fileRequests().getFirst().status());
        assertTrue(rec.notesText().contains("ignored the request to resume"), rec.notesText());
    }

    @Test
    void theTokenGoesToTheHubButNotToTheHostItRedirectsTo() throws IOException {
        hub.requiredToken = "hf_secret";
        var denied = assertThrows(HubException.class, () -> fetch(config(), REPO, HubListener.NONE));
        assertTrue(denied.getMessage().contains("401") && denied.getMessage().contains("HF_TOKEN is not set"), denied.getMessage());

        Path p = fetch(config().withToken("hf_secret"), REPO, HubListener.NONE);
        assertArrayEquals(q4, Files.readAllBytes(p));
        List<FakeHub.Request> hubSide = hub.requests("hub");
        assertTrue(hubSide.size() >= 3, hubSide.toString());
        assertTrue(hubSide.stream().skip(1).allMatch(r -> "Bearer hf_secret".equals(r.authorization())), hubSide.toString());
        List<FakeHub.Request> cdnSide = hub.requests("cdn");
        assertEquals(1, cdnSide.size());
        assertNull(cdnSide.getFirst().authorization(), "the CDN, another origin, never sees the token");
    }

    @Test
    void aRedirectWithinTheHubKeepsTheToken() throws IOException {
        hub.requiredToken = "hf_secret";
        hub.relativeRedirect = true;
        Path p = fetch(config().withToken("hf_secret"), REPO + ":Q8_0", HubListener.NONE);
        assertArrayEquals(q8, Files.readAllBytes(p));
        FakeHub.Request file = hub.fileRequests().getFirst();
        assertEquals("hub", file.server());
        assertEquals("Bearer hf_secret", file.authorization());
    }

    @Test
    void aFileAnotherToolCachedIsReusedWithoutRequestingIt() throws IOException {
        // as huggingface_hub leaves it on a file system without symbolic links: a plain file in the snapshot
        Path mine = snapshot(Q8);
        Files.createDirectories(mine.getParent());
        Files.write(mine, q8);
        Path p = fetch(config(), REPO + ":Q8_0", HubListener.NONE);
        assertEquals(mine, p);
        assertEquals(List.of(), hub.fileRequests());
        assertEquals(List.of(), hub.resolveRequests());
        assertEquals(FakeHub.COMMIT, Files.readString(repoDir().resolve("refs/main")));
    }

    @Test
    void aCachedBlobOfAnotherCommitIsLinkedWithoutDownloading() throws IOException {
        Path blob = repoDir().resolve("blobs").resolve(FakeHub.sha256(q4));
        Files.createDirectories(blob.getParent());
        Files.write(blob, q4);
        Path p = fetch(config(), REPO, HubListener.NONE);
        assertTrue(Files.isSymbolicLink(p));
        assertArrayEquals(q4, Files.readAllBytes(p));
        assertEquals(List.of(), hub.fileRequests());
    }

    @Test
    void theCacheStandsInWhenTheHubCannotBeReached() throws IOException {
        Path p = fetch(config(), REPO, HubListener.NONE);
        hub.close();
        var rec = new Recorder();
        assertEquals(p, fetch(config(), REPO, rec));
        assertTrue(rec.notesText().contains("could not be reached"), rec.notesText());
        var missing = assertThrows(HubException.class, () -> fetch(config(), REPO + ":Q8_0", HubListener.NONE));
        assertTrue(missing.getMessage().contains("could not be reached") && missing.getMessage().contains("Q8_0"), missing.getMessage());

        assertEquals(p, fetch(config().withOffline(true), REPO, HubListener.NONE));
        var offline = assertThrows(HubException.class, () -> fetch(config().withOffline(true), REPO + ":Q8_0", HubListener.NONE));
        assertTrue(offline.getMessage().contains("offline"), offline.getMessage());
    }

    @Test
    void theQuantIsMatchedCaseInsensitivelyAndAMissingOneListsTheOthers() throws IOException {
        assertEquals(snapshot(Q8), fetch(config(), REPO + ":q8_0", HubListener.NONE));
        var e = assertThrows(HubException.class, () -> fetch(config(), REPO + ":Q5_K_M", HubListener.NONE));
        assertTrue(e.getMessage().contains("no GGUF file of quant Q5_K_M") && e.getMessage().contains("available: Q4_K_M, Q8_0"), e.getMessage());
    }

    @Test
    void aListingWithoutHashesTakesThemFromTheResolveHeaders() throws IOException {
        hub.bareListing = true;
        Path p = fetch(config(), REPO, HubListener.NONE);
        assertArrayEquals(q4, Files.readAllBytes(p));
        assertEquals(List.of(FakeHub.sha256(q4)), blobs());
        assertEquals("HEAD", hub.resolveRequests().getFirst().method());

        hub.corrupt = true;
        var e = assertThrows(IntegrityException.class, () -> fetch(config(), REPO + ":Q8_0", HubListener.NONE));
        assertEquals(FakeHub.sha256(q8), e.expected(), "the sha256 of X-Linked-Etag is checked");
    }

    @Test
    void anUnknownRepositorySaysSo() {
        var e = assertThrows(HubException.class, () -> fetch(config(), "nobody/Nothing-GGUF", HubListener.NONE));
        assertTrue(e.getMessage().startsWith("nobody/Nothing-GGUF: the hub answered 401"), e.getMessage());
        assertTrue(e.getMessage().contains("Repository not found"), e.getMessage());
    }
}
