package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The kernel files as files (no OpenCL needed): each opens with a comment, defines its entry point
 * {@code kernel_<stem>}, and has exactly one row in opencl-kernels/README.md, as each header has one.
 */
class KernelFilesTest {
    static final Path DIR = Path.of(System.getProperty("user.dir"), "opencl-kernels");

    static Set<String> files(String suffix) throws IOException {
        try (Stream<Path> s = Files.list(DIR)) {
            var names = new TreeSet<String>();
            s.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(suffix)).forEach(names::add);
            return names;
        }
    }

    @Test
    void everyKernelFileHasItsEntryPointAndAHeaderComment() throws IOException {
        for (String f : files(".cl")) {
            String stem = f.substring(0, f.length() - 3), text = Files.readString(DIR.resolve(f));
            assertTrue(text.startsWith("// " + stem + ":"), f + " opens with a comment naming what it computes");
            assertTrue(Pattern.compile("\\bkernel_" + stem + "\\b").matcher(text).find(), f + " defines kernel_" + stem);
        }
    }

    @Test
    void theReadmeHasOneRowPerKernelAndPerHeader() throws IOException {
        String readme = Files.readString(DIR.resolve("README.md"));
        List<String> rows = new ArrayList<>();
        var m = Pattern.compile("^\\| `([A-Za-z0-9_.]+)` \\|", Pattern.MULTILINE).matcher(readme);
        while (m.find()) rows.add(m.group(1));
        var kernels = new TreeSet<String>();
        for (String f : files(".cl")) kernels.add(f.substring(0, f.length() - 3));
        var expected = new TreeSet<String>(kernels);
        expected.addAll(files(".h"));
        assertEquals(expected, new TreeSet<>(rows), "README rows against the files");
        assertEquals(rows.size(), new TreeSet<>(rows).size(), "no file has two rows: " + rows);
    }
}
