package dev.infercl.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** DESIGN.md's rules: org.jocl (and org.lwjgl, which ClBackend launches kernels through) only inside backend/opencl; console output only inside cli. */
class ArchitectureTest {
    static final Path MAIN = Path.of("src/main/java/dev/infercl");

    static List<Path> sources() throws IOException {
        try (Stream<Path> s = Files.walk(MAIN)) {
            return s.filter(p -> p.toString().endsWith(".java")).toList();
        }
    }

    @Test
    void openClBindingsOnlyInsideTheOpenClBackend() throws IOException {
        List<String> leaks = sources().stream()
                .filter(p -> !p.startsWith(MAIN.resolve("backend/opencl")))
                .filter(p -> read(p).contains("org.jocl") || read(p).contains("org.lwjgl"))
                .map(Path::toString).toList();
        assertEquals(List.of(), leaks);
    }

    @Test
    void consoleOutputOnlyInsideCli() throws IOException {
        List<String> leaks = sources().stream()
                .filter(p -> !p.startsWith(MAIN.resolve("cli")))
                .filter(p -> read(p).matches("(?s).*System\\.(out|err)\\.print.*|.*printStackTrace\\(\\).*"))
                .map(Path::toString).toList();
        assertEquals(List.of(), leaks);
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
