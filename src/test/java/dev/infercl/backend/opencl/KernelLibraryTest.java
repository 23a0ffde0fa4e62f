package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Kernel sources as the device compiler gets them: shared headers pasted in place of their #include lines. */
class KernelLibraryTest {

    @Test
    void includedHeadersArePastedInPlace() throws IOException {
        String source = KernelLibrary.source("attention_kv_f32");
        assertFalse(source.contains("#include"), "an #include line reached the compiler");
        String header = Files.readString(Path.of(System.getProperty("user.dir"), "opencl-kernels", "attention_tiles.h"));
        String file = Files.readString(Path.of(System.getProperty("user.dir"), "opencl-kernels", "attention_kv_f32.cl"));
        assertEquals(file.replace("#include \"attention_tiles.h\"\n", header + "\n"), source);
        assertTrue(KernelLibrary.source("matmul_f16_f32_gemm").contains("void GEMM_KERNEL("));
    }

    @Test
    void aMissingOrCircularHeaderIsNamed() {
        var missing = assertThrows(IllegalStateException.class, () -> KernelLibrary.source("include_missing_test"));
        assertTrue(missing.getMessage().contains("no_such_header.h"), missing.getMessage());
        var cycle = assertThrows(IllegalStateException.class, () -> KernelLibrary.source("include_cycle_test"));
        assertTrue(cycle.getMessage().contains("include each other") && cycle.getMessage().contains("include_cycle_test.h"), cycle.getMessage());
    }
}
