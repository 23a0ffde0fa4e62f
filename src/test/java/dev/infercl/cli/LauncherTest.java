package dev.infercl.cli;

import static dev.infercl.EditedStories.Value.str;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.EditedStories;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code infercl} launcher never hides an error: of the JVM's stderr it drops the one line JDK 25 prints for the
 * incubating Vector API and passes every other byte through unchanged — NUL bytes, bytes that are not UTF-8, a
 * progress bar's carriage returns, a last line without a newline — as it comes. Runs the real script with bash.
 */
class LauncherTest {
    static final Path SCRIPT = Path.of(System.getProperty("user.dir"), "infercl");
    static final String WARNING = "WARNING: Using incubator modules: jdk.incubator.vector\n";

    @BeforeAll
    static void needsBash() {
        Assumptions.assumeTrue(Files.isRegularFile(SCRIPT), "no launcher script at " + SCRIPT);
        Assumptions.assumeTrue(new File("/bin/bash").canExecute(), "no /bin/bash here");
    }

    /** A bash running the launcher's own {@code filter_stderr} (the line that defines it, taken from the script). */
    static Process filter() throws IOException {
        String definition = Files.readAllLines(SCRIPT).stream().filter(l -> l.startsWith("filter_stderr()")).findFirst()
                .orElseThrow(() -> new AssertionError("the launcher defines no filter_stderr() on one line"));
        return new ProcessBuilder("/bin/bash", "-c", definition + "\nfilter_stderr").redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    static byte[] concat(byte[]... parts) {
        var b = new ByteArrayOutputStream();
        for (byte[] p : parts) b.writeBytes(p);
        return b.toByteArray();
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void theFilterDropsOnlyTheIncubatorWarningAndKeepsEveryOtherByte() throws Exception {
        byte[] before = ascii("OpenJDK 64-Bit Server VM warning: printed before the module system starts\n");
        byte[] after = concat(ascii("infercl: error: m.gguf: tokenizer model 'gpt2"), new byte[] {0}, ascii("' raw\n"),
                new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0xc3, '\n'},   // not UTF-8: grep called this a binary file
                ascii(WARNING),                                             // a second one is output, not the JVM's
                ascii("downloading [=====     ] 50%\rdownloading [==========] 100%\r"), ascii("no newline at the end"));
        Process p = filter();
        try (OutputStream in = p.getOutputStream()) {
            in.write(concat(before, ascii(WARNING), after));
        }
        byte[] out = p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor());
        assertArrayEquals(concat(before, after), out, new String(out, StandardCharsets.ISO_8859_1));
    }

    @Test
    void aPartialLineAfterTheWarningComesThroughAtOnce() throws Exception {
        Process p = filter();
        try {
            OutputStream in = p.getOutputStream();
            in.write(ascii(WARNING + "50%\r"));
            in.flush();
            // a progress bar rewrites its line with \r and no newline: it must not wait for one
            InputStream out = p.getInputStream();
            byte[] got = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> out.readNBytes(4));
            assertArrayEquals(ascii("50%\r"), got);
            in.close();
            assertEquals(0, p.waitFor());
        } finally {
            p.destroyForcibly();
        }
    }

    /**
     * The launcher copied into a folder of its own, with a jar that is only a manifest naming this JVM's class path:
     * the script runs exactly as in a checkout, without building anything.
     */
    static Path launcherHome(Path dir) throws IOException {
        Path home = Files.createDirectories(dir.resolve("home"));
        Path script = home.resolve("infercl");
        Files.copy(SCRIPT, script);
        assertTrue(script.toFile().setExecutable(true));
        var manifest = new Manifest();
        Attributes a = manifest.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.put(Attributes.Name.MAIN_CLASS, Main.class.getName());
        a.put(Attributes.Name.CLASS_PATH, String.join(" ", List.of(System.getProperty("java.class.path").split(File.pathSeparator)).stream()
                .map(e -> Path.of(e).toAbsolutePath().toUri().toString()).toList()));
        Path jar = Files.createDirectories(home.resolve("target")).resolve("infercl-0-cli.jar"); // the name the launcher looks for
        try (var out = new JarOutputStream(Files.newOutputStream(jar), manifest)) {
            // the manifest is the jar
        }
        return home;
    }

    @Test
    void theRealLauncherPassesAnErrorWithANulInTheFileThrough(@TempDir Path dir) throws Exception {
        Path model = EditedStories.with(dir.resolve("nul.gguf"), "tokenizer.ggml.model", str("gpt2\0"));
        Path home = launcherHome(dir);
        // JAVA_TOOL_OPTIONS holding a byte that is not UTF-8: the JVM echoes it to stderr first ("Picked up …"), which
        // in a UTF-8 locale is what made grep call the stream binary and swallow the error after it
        var pb = new ProcessBuilder("/bin/bash", "-c", "JAVA_TOOL_OPTIONS=\"$(printf -- '-Dinfercl.launcher.test=\\377')\" exec \"$0\" \"$@\"",
                home.resolve("infercl").toString(), "generate", "--backend", "cpu", "-m", model.toString(), "-n", "1");
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("INFERCL_CDS", "0");
        pb.environment().put("LC_ALL", "C.UTF-8");
        Process p = pb.start();
        p.getOutputStream().close();
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
        byte[] err = assertTimeoutPreemptively(Duration.ofSeconds(120), () -> p.getErrorStream().readAllBytes());
        int code = p.waitFor();
        String text = new String(err, StandardCharsets.ISO_8859_1);
        assertEquals(1, code, text);
        assertEquals("Picked up JAVA_TOOL_OPTIONS: -Dinfercl.launcher.test=\u00ff\n"
                + "infercl: error: nul.gguf: tokenizer model 'gpt2\\0' is not supported yet (metadata 'tokenizer.ggml.model'; "
                + "InferCL implements 'llama', 'gpt2' and 't5')\n", text);
        assertFalse(text.contains("binary file matches") || text.contains("WARNING: Using incubator"), text);
        assertEquals(0, out.get().length);
    }

    private static byte[] readAll(InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
