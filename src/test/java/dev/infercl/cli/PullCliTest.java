package dev.infercl.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.Stories;
import dev.infercl.hub.FakeHub;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code infercl pull} and {@code -m OWNER/NAME[:QUANT]} run in-process against {@link FakeHub} on loopback; the hub
 * endpoint and cache folder come from the system properties that stand in for HF_ENDPOINT and HF_HUB_CACHE.
 */
class PullCliTest {
    static final String REPO = "test-org/Tiny-GGUF";
    static final String Q4 = "Tiny-Q4_K_M.gguf";

    @TempDir Path dir;
    FakeHub hub;
    byte[] q4;
    Path cache;

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        q4 = new byte[400_000];
        new Random(3).nextBytes(q4);
        hub.add(REPO, Q4, q4).add(REPO, "Tiny-Q8_0.gguf", new byte[1000]).add(REPO, "README.md", new byte[10]);
        hub.add("test-org/stories260K-GGUF", "stories260K-F32.gguf", Files.readAllBytes(Stories.MODEL));
        cache = dir.resolve("hub");
        System.setProperty("infercl.hf.endpoint", hub.endpoint().toString());
        System.setProperty("infercl.hf.cache", cache.toString());
        System.setProperty("infercl.hf.offline", "false");
    }

    @AfterEach
    void stop() {
        System.clearProperty("infercl.hf.endpoint");
        System.clearProperty("infercl.hf.cache");
        System.clearProperty("infercl.hf.offline");
        hub.close();
    }

    Path repoDir() {
        return FakeHub.repoDir(cache);
    }

    Path snapshot() {
        return FakeHub.snapshot(cache, Q4);
    }

    List<String> blobs() throws IOException {
        return FakeHub.blobs(cache);
    }

    @Test
    void pullDownloadsIntoTheCacheAndPrintsThePath() throws IOException {
        CliTest.Result r = CliTest.run("pull", REPO);
        assertEquals(0, r.code(), r.err());
        assertEquals(snapshot() + "\n", r.out());
        assertArrayEquals(q4, Files.readAllBytes(snapshot()));
        assertTrue(Files.isSymbolicLink(snapshot()));
        assertEquals(List.of(FakeHub.sha256(q4)), blobs());
        assertTrue(r.err().contains("downloading " + Q4 + " (390.6 KiB)"), r.err());
        assertTrue(r.err().contains(Q4 + " 100%"), r.err());

        CliTest.Result again = CliTest.run("pull", REPO + ":q4_k_m");
        assertEquals(0, again.code(), again.err());
        assertEquals(r.out(), again.out());
        assertTrue(again.err().contains("already in the cache"), again.err());
        assertEquals(1, hub.fileRequests().size(), "the second pull downloads nothing");
    }

    @Test
    void pullResumesADroppedDownload() throws IOException {
        hub.dropAfter = 150_000;
        CliTest.Result r = CliTest.run("pull", REPO);
        assertEquals(0, r.code(), r.err());
        var m = java.util.regex.Pattern.compile("with (\\d+) of 400000 bytes kept; resuming \\(attempt 2 of 3\\)").matcher(r.err());
        assertTrue(m.find(), r.err());
        long kept = Long.parseLong(m.group(1));
        assertTrue(kept > 0 && kept <= 150_000, "kept " + kept);
        assertTrue(r.err().contains("downloading " + Q4 + " (390.6 KiB), resuming at "), r.err());
        assertArrayEquals(q4, Files.readAllBytes(snapshot()));
        List<FakeHub.Request> files = hub.fileRequests();
        assertEquals(2, files.size());
        assertEquals("bytes=" + kept + "-", files.get(1).range());
        assertEquals(400_000 - kept, files.get(1).bytesSent());
    }

    @Test
    void pullResumesWhatAnInterruptedRunLeft() throws IOException {
        Path part = repoDir().resolve("blobs").resolve(FakeHub.sha256(q4) + ".incomplete");
        Files.createDirectories(part.getParent());
        Files.write(part, Arrays.copyOf(q4, 300_000));
        CliTest.Result r = CliTest.run("pull", REPO + ":Q4_K_M");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("resuming " + Q4 + " from the 300000 bytes kept in " + part), r.err());
        assertArrayEquals(q4, Files.readAllBytes(snapshot()));
        assertEquals("bytes=300000-", hub.fileRequests().getFirst().range());
        assertEquals(100_000, hub.fileRequests().getFirst().bytesSent());
        assertFalse(Files.exists(part));
    }

    @Test
    void pullRefusesACorruptedDownloadAndCachesNothing() throws IOException {
        hub.corrupt = true;
        CliTest.Result r = CliTest.run("pull", REPO);
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("infercl: error: " + REPO + ": " + Q4 + ": sha256 mismatch: the hub says " + FakeHub.sha256(q4)), r.err());
        assertTrue(r.err().contains("nothing was cached"), r.err());
        assertEquals("", r.out());
        assertFalse(Files.exists(snapshot(), LinkOption.NOFOLLOW_LINKS));
        assertEquals(List.of(), blobs(), "no blob, no partial file");
        assertFalse(Files.exists(repoDir().resolve("refs/main")));
    }

    @Test
    void pullOfAMissingQuantListsTheAvailableOnes() {
        CliTest.Result r = CliTest.run("pull", REPO + ":Q6_K");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no GGUF file of quant Q6_K; available: Q4_K_M, Q8_0"), r.err());
        CliTest.Result bad = CliTest.run("pull", "not-a-reference");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("is not a Hugging Face model reference OWNER/NAME[:QUANT]"), bad.err());
    }

    @Test
    void dashMTakesARepositoryReferenceAndFetchesItOnFirstUse() {
        String[] args = {"generate", "--backend", "cpu", "-p", "Once upon a time", "-n", "8", "--temp", "0", "-m"};
        CliTest.Result local = CliTest.run(concat(args, Stories.MODEL.toString()));
        assertEquals(0, local.code(), local.err());
        CliTest.Result fromHub = CliTest.run(concat(args, "test-org/stories260K-GGUF:f32"));
        assertEquals(0, fromHub.code(), fromHub.err());
        assertEquals(local.out(), fromHub.out(), "the same model, the same text");
        assertTrue(fromHub.err().contains("note: -m test-org/stories260K-GGUF:f32 is no file here: fetching it as a Hugging Face model"), fromHub.err());
        assertTrue(fromHub.err().contains("downloading stories260K-F32.gguf"), fromHub.err());
        CliTest.Result info = CliTest.run("info", "test-org/stories260K-GGUF:F32");
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("stories260K-F32.gguf: GGUF v3"), info.out());
        assertEquals(1, hub.fileRequests().size(), "downloaded once");
    }

    @Test
    void aMissingFileIsStillAMissingFile() {
        CliTest.Result r = CliTest.run("generate", "--backend", "cpu", "-n", "1", "-m", "no-such-dir/model.gguf");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no-such-dir/model.gguf"), r.err());
        assertEquals(List.of(), hub.requests, "the hub is not asked about a file path");
    }

    private static String[] concat(String[] a, String last) {
        String[] out = Arrays.copyOf(a, a.length + 1);
        out[a.length] = last;
        return out;
    }
}
