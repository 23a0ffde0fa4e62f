package dev.infercl.cli;

import dev.infercl.backend.opencl.ClDevices;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Lists OpenCL platforms and devices (or says why there are none). */
@Command(name = "devices", mixinStandardHelpOptions = true, description = "List OpenCL platforms and devices.")
final class DevicesCommand extends Streams.Command implements Callable<Integer> {

    @Option(names = "--verbose", description = "print stack traces of errors")
    boolean verbose;

    @Override
    public Integer call() {
        out.print(ClDevices.describe());
        return 0;
    }
}
