package dev.infercl.cli;

import static dev.infercl.EditedStories.Value.str;
import static dev.infercl.EditedStories.Value.u32;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.EditedStories;
import dev.infercl.backend.opencl.ClTestSupport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The reported failures, each run through the CLI in-process as {@code ./infercl ARGS} runs it: every one ends as
 * correct output or as one line on stderr naming what is wrong — no stack trace, no exception's name, no hang, no
 * "context full" standing in for a context that was never allocated. The settings cases run on both backends; the
 * file cases are refused before any backend is opened.
 */
class HostileInputCliTest {

    @TempDir
    Path dir;

    /** Exit code 1 and exactly one stderr line, the error, holding every part; nothing of a stack trace. */
    static String oneLineError(CliTest.Result r, String... parts) {
        assertEquals(1, r.code(), r.err());
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), "one line: " + r.err());
        assertTrue(err.startsWith("infercl: error: "), err);
        assertFalse(err.contains("Exception") || err.contains("at dev.infercl") || err.contains("\0"), err);
        for (String p : parts) assertTrue(err.contains(p), "'" + p + "' in: " + err);
        return err;
    }

    private static String backend(String b) {
        if (b.equals("opencl")) ClTestSupport.requireOpenCl();
        return b;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "opencl"})
    void aBlockCountOfTwoToTheThirtyOneIsNamedNotAnOutOfMemoryError(String b) throws Exception {
        Path m = EditedStories.with(dir.resolve("blocks.gguf"), "llama.block_count", u32(Integer.MAX_VALUE));
        oneLineError(CliTest.run("generate", "--backend", backend(b), "-m", m.toString(), "-n", "4", "--temp", "0"),
                "blocks.gguf: metadata 'llama.block_count' is 2147483647 but the file has tensors for 5 layers");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "opencl"})
    void aTrainedContextOfTwoToTheThirtyOneRunsWithTheDefaultContextAndSaysSo(String b) throws Exception {
        Path m = EditedStories.with(dir.resolve("ctx.gguf"), "llama.context_length", u32(Integer.MAX_VALUE));
        var r = CliTest.run("generate", "--backend", backend(b), "-m", m.toString(), "-n", "8", "--temp", "0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("note: the model was trained for a context of 2147483647 tokens; this run holds 4096"), r.err());
        assertTrue(r.err().contains("generated: 8 tokens") && r.err().contains("stop: token budget"), r.err());
        assertFalse(r.err().contains("context full"), r.err());
        assertTrue(r.out().startsWith("Once upon a time") && r.out().length() > "Once upon a time".length() + 8, r.out());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "opencl"})
    void aContextNoMemoryHoldsIsRefusedWithTheBytesAndAShorterOne(String b) throws Exception {
        Path m = EditedStories.with(dir.resolve("ctx.gguf"), "llama.context_length", u32(Integer.MAX_VALUE));
        String err = oneLineError(CliTest.run("generate", "--backend", backend(b), "-m", m.toString(), "-c", "2147483647", "-n", "4"),
                "loading model ctx.gguf: a context of 2147483647 tokens needs ", " GiB (keys and values of 5 layers", " tokens fit: -c ");
        assertFalse(err.contains("integer overflow"), err);
        assertTrue(err.contains(b.equals("cpu") ? "the JVM heap" : "device "), err);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "opencl"})
    void aNulInTheTokenizerModelIsShownEscaped(String b) throws Exception {
        Path m = EditedStories.with(dir.resolve("nul.gguf"), "tokenizer.ggml.model", str("gpt2\0"));
        oneLineError(CliTest.run("generate", "--backend", backend(b), "-m", m.toString(), "-n", "4"),
                "nul.gguf: tokenizer model 'gpt2\\0' is not supported yet (metadata 'tokenizer.ggml.model'");
    }

    // ---- files: refused before they are opened, each with its own reason, for `info` and for a model command

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"info", "generate"})
    void aNamedPipeIsRefusedWithoutBlocking(String command) throws Exception {
        Path fifo = dir.resolve("model.fifo");
        try {
            Process p = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
            Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo failed");
        } catch (IOException e) {
            Assumptions.abort("no mkfifo here: " + e.getMessage());
        }
        // opening a FIFO for reading blocks until a writer comes: a regression hangs, so it is timed
        var r = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> command.equals("info")
                ? CliTest.run("info", fifo.toString())
                : CliTest.run("generate", "--backend", "cpu", "-m", fifo.toString(), "-n", "1"));
        oneLineError(r, fifo + ": is a named pipe (FIFO), not a regular file");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"info", "generate"})
    void aDirectoryIsNamedAsOne(String command) {
        var r = command.equals("info") ? CliTest.run("info", dir.toString()) : CliTest.run("generate", "-m", dir.toString(), "-n", "1");
        oneLineError(r, dir + ": is a directory, not a ");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"info", "generate"})
    void aDeviceIsNotAModelFile(String command) {
        Path zero = Path.of("/dev/zero");
        Assumptions.assumeTrue(Files.exists(zero), "no /dev/zero here");
        var r = command.equals("info") ? CliTest.run("info", zero.toString()) : CliTest.run("generate", "-m", zero.toString(), "-n", "1");
        oneLineError(r, "/dev/zero: is a character device, not a regular file");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"info", "generate"})
    void aSymbolicLinkLoopIsNamed(String command) throws Exception {
        Path a = dir.resolve("a.gguf"), b = dir.resolve("b.gguf");
        try {
            Files.createSymbolicLink(a, b);
            Files.createSymbolicLink(b, a);
        } catch (UnsupportedOperationException | IOException e) {
            Assumptions.abort("no symbolic links here: " + e);
        }
        var r = command.equals("info") ? CliTest.run("info", a.toString()) : CliTest.run("generate", "-m", a.toString(), "-n", "1");
        oneLineError(r, a + ": symbolic link loop");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"info", "generate"})
    void aDanglingLinkAndAMissingFileAreNamed(String command) throws Exception {
        Path missing = dir.resolve("missing.gguf"), link = dir.resolve("link.gguf");
        Files.createSymbolicLink(link, missing);
        boolean info = command.equals("info");
        oneLineError(info ? CliTest.run("info", missing.toString()) : CliTest.run("generate", "-m", missing.toString(), "-n", "1"),
                missing + ": no such " + (info ? "GGUF" : "model") + " file");
        oneLineError(info ? CliTest.run("info", link.toString()) : CliTest.run("generate", "-m", link.toString(), "-n", "1"),
                link + ": is a symbolic link to " + missing + ", which does not exist");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"info", "generate"})
    void anUnreadableFileSaysPermissionDenied(String command) throws Exception {
        Path p = EditedStories.with(dir.resolve("secret.gguf"), "general.name", str("secret"));
        try {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("---------"));
        } catch (UnsupportedOperationException e) {
            Assumptions.abort("no POSIX permissions here");
        }
        Assumptions.assumeFalse(Files.isReadable(p), "this user reads any file (root): permissions cannot refuse it");
        var r = command.equals("info") ? CliTest.run("info", p.toString()) : CliTest.run("generate", "-m", p.toString(), "-n", "1");
        oneLineError(r, p + ": permission denied");
    }
}
