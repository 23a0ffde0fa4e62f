package dev.infercl.bench;

import dev.infercl.backend.Backend;
import dev.infercl.backend.Tensor;
import dev.infercl.backend.cpu.CpuBackend;
import dev.infercl.backend.opencl.ClBackend;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * GEMV (tokens = 1) and GEMM (tokens &gt; 1) of every weight type on both backends, on a TinyLlama-sized FFN
 * matrix (5632 × 2048). Reports products per second and, as auxiliary counters, weight bytes read per second
 * ({@code weightBytes}: ÷ 1e9 = GB/s) and floating-point operations per second ({@code flops}: ÷ 1e9 = GFLOP/s).
 *
 * <pre>mvn -Pjmh test-compile exec:exec -Djmh.args="MatmulBench -f 1 -wi 2 -i 3 -p backend=cpu -p type=Q8_0"</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class MatmulBench {
    @Param({"cpu", "opencl"}) public String backend;
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"}) public String type;
    @Param({"1", "64"}) public int tokens;
    @Param({"5632"}) public int rows;
    @Param({"2048"}) public int cols;

    private Backend be;
    private Tensor w, x, out;
    private Arena arena;
    private long weightBytes;

    @Setup(Level.Trial)
    public void setup() {
        be = backend.equals("cpu") ? new CpuBackend() : ClBackend.open(null);
        GgmlType t = GgmlType.valueOf(type);
        var rnd = new SplittableRandom(1);
        float[] row = new float[cols];
        weightBytes = t.byteSize(cols) * rows;
        arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(weightBytes, 128);
        long off = 0;
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) row[i] = (float) rnd.nextGaussian() * 0.02f;
            byte[] b = switch (t) {
                case F32, F16, BF16 -> encode(t, row);
                default -> Dequant.quantize(t, row, 0, cols);
            };
            MemorySegment.copy(MemorySegment.ofArray(b), 0, seg, off, b.length);
            off += b.length;
        }
        w = be.upload("w", t, rows, cols, seg);
        x = be.allocate("x", tokens, cols);
        out = be.allocate("out", tokens, rows);
        float[] xs = new float[tokens * cols];
        for (int i = 0; i < xs.length; i++) xs[i] = (float) rnd.nextGaussian();
        be.write(x, xs);
    }

    private static byte[] encode(GgmlType t, float[] row) {
        var bb = java.nio.ByteBuffer.allocate(row.length * (t == GgmlType.F32 ? 4 : 2)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float f : row) {
            if (t == GgmlType.F32) bb.putFloat(f);
            else if (t == GgmlType.F16) bb.putShort(Float.floatToFloat16(f));
            else bb.putShort(Dequant.toBf16(f));
        }
        return bb.array();
    }

    /** Weight bytes and flops, reported per second: GB/s and GFLOP/s. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Work {
        public long weightBytes, flops;
    }

    @Benchmark
    public void matmul(Work work) {
        be.matmul(out, x, w);
        be.read(out.firstRows(1), new float[rows]);   // the sync point: waits for the device
        work.weightBytes += weightBytes;
        work.flops += 2L * rows * cols * tokens;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        be.close();
        arena.close();
    }
}
