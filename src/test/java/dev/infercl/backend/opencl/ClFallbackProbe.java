package dev.infercl.backend.opencl;

import dev.infercl.api.BackendKind;
import dev.infercl.backend.Backend;
import dev.infercl.backend.BackendUnavailableException;
import dev.infercl.api.Backends;
import java.util.ArrayList;

/** Run in a child JVM by {@link ClFallbackTest}: what AUTO and OPENCL do in this process's OpenCL environment. */
public final class ClFallbackProbe {
    public static void main(String[] args) {
        var notices = new ArrayList<String>();
        try (Backend b = Backends.create(BackendKind.AUTO, null, 1, notices::add)) {
            System.out.println("auto: " + b.name());
        }
        notices.forEach(n -> System.out.println("notice: " + n));
        try (Backend b = Backends.create(BackendKind.OPENCL, null, 1, null)) {
            System.out.println("opencl: " + b.name());
        } catch (BackendUnavailableException e) {
            System.out.println("opencl error: " + e.getMessage());
            System.exit(3);
        }
    }
}
