package dev.infercl.backend.opencl;

import dev.infercl.backend.KvType;
import java.util.Locale;

/**
 * How the OpenCL backend is built. {@link #defaults()} reads every {@code -Dinfercl.opencl.*} system property in one
 * place; the {@code with…} methods override them (tests, A/B measurements).
 *
 * @param maxAllocBytes  largest buffer to allocate (≤ 0: the device's CL_DEVICE_MAX_MEM_ALLOC_SIZE); lowering it forces
 *                       weights to be split into row ranges ({@code infercl.opencl.maxAlloc})
 * @param matmul         this matrix-product kernel whatever the shape, or null to let {@link KernelChooser} choose
 * @param attention      this attention kernel whatever the shape, or null to choose
 *                       ({@code infercl.opencl.attention=fused|split|lanes})
 * @param wrapHostMemory on a CPU device, wrap aligned mapped weights ({@code CL_MEM_USE_HOST_PTR}) instead of copying them
 * @param kvType         the KV cache's element type; null: FP16 on every device (half the bytes of F32 for attention to
 *                       read, logits within ~1e-2 of exact arithmetic; F32 keeps them within ~1e-5)
 *                       ({@code infercl.opencl.kvCache=f16|f32|i8})
 * @param lanes          work-items per one-token product output and per attention work-group: 0 (the CPU-device
 *                       shapes) or a power of two 2–256 (the GPU shapes); null: 32 on GPUs, 0 elsewhere
 *                       ({@code infercl.opencl.lanes}, so the parity tests can force the GPU shapes on any device)
 * @param stageX         stage the GEMM's activations in local memory even on a CPU device (GPUs always do), so the
 *                       parity tests cover that path ({@code infercl.opencl.stageX=true})
 * @param fuse           use the fused kernels (several products per launch, rope with the cache write); false runs
 *                       the general kernels only, for A/B measurements ({@code infercl.opencl.fuse=false})
 * @param profile        a profiling queue: an event per launch, device time per kernel from
 *                       {@link ClBackend#takeProfile} ({@code infercl.opencl.profile=true}; launches then go through
 *                       JOCL, and each costs a little more)
 * @param programCache   the folder compiled kernels are kept in between runs, or null for none
 *                       ({@code infercl.opencl.cacheDir}: empty or {@code off} for none; unset: the user's cache
 *                       folder, {@code $XDG_CACHE_HOME/infercl/kernels} or {@code ~/.cache/infercl/kernels})
 * @param lwjgl          launch kernels through LWJGL's OpenCL binding where its native library loads: JOCL wraps each
 *                       kernel argument in a Pointer and pins an array through JNI, LWJGL's typed setters pass the value
 *                       straight through, and a one-token forward sets about a thousand arguments (LaunchBench measures
 *                       both); false launches through JOCL ({@code infercl.opencl.binding=jocl})
 * @param q8k            one-token products of Q4_K, Q5_K and Q6_K weights with int8 activations (opencl-kernels/blocks_q8k.h,
 *                       x86 CPU devices): null tries them on CPU devices and keeps them where they build (64-byte vectors
 *                       with AVX-512BW, else 32), 0 never, 32 or 64 those vectors (so the tests cover both widths)
 *                       ({@code infercl.opencl.q8k=auto|off|32|64})
 * @param prefetch       bytes ahead of its read that a one-token product in the CPU-device shape (Q8_0 and the K-quants
 *                       with int8 activations) asks the CPU to prefetch its weights, 0 for none: those loops consume a
 *                       row faster than the hardware prefetcher runs ahead of it, so without it their loads wait on
 *                       memory ({@code infercl.opencl.prefetch}, default 2048)
 * @param amx            products of several tokens on Intel's AMX tile unit (matmul_q8_0_q8_0_amx, matmul_i8_q8_0_amx,
 *                       matmul_block_q8_0_amx; x86 CPU devices whose CPU has AMX-INT8 and whose kernel grants this process its tile state), and with
 *                       it Q8_0's one-token products in the same arithmetic (matmul_q8_0_q8_0_gemv): null uses them where
 *                       all that holds and the kernels build, false never, true requires them
 *                       ({@code infercl.opencl.amx=auto|off|on})
 */
public record ClOptions(long maxAllocBytes, KernelChooser.Matmul matmul, KernelChooser.Attention attention, boolean wrapHostMemory,
                        KvType kvType, Integer lanes, boolean stageX, boolean fuse, boolean profile, java.nio.file.Path programCache,
                        boolean lwjgl, Integer q8k, int prefetch, Boolean amx) {

    public ClOptions {
        if (lanes != null && lanes != 0 && (lanes < 2 || lanes > 256 || Integer.bitCount(lanes) != 1)) {
            throw new IllegalArgumentException("lanes must be 0 or a power of two from 2 to 256, not " + lanes);
        }
        if (q8k != null && q8k != 0 && q8k != 32 && q8k != 64) throw new IllegalArgumentException("q8k must be 0, 32 or 64, not " + q8k);
        if (prefetch < 0 || prefetch > 1 << 20) throw new IllegalArgumentException("prefetch must be 0 to 1 MiB ahead, not " + prefetch + " bytes");
    }

    /** The options the system properties ask for (each absent property: its default). */
    public static ClOptions defaults() {
        String attention = System.getProperty("infercl.opencl.attention");
        String kv = System.getProperty("infercl.opencl.kvCache");
        return new ClOptions(Long.getLong("infercl.opencl.maxAlloc", 0L), null,
                attention == null ? null : KernelChooser.Attention.valueOf(attention.trim().toUpperCase(Locale.ROOT)), true,
                kv == null ? null : KvType.parse(kv), parseLanes(System.getProperty("infercl.opencl.lanes")),
                Boolean.getBoolean("infercl.opencl.stageX"), !"false".equals(System.getProperty("infercl.opencl.fuse")),
                Boolean.getBoolean("infercl.opencl.profile"), ProgramBinaryCache.directoryFromSystem(),
                !"jocl".equals(System.getProperty("infercl.opencl.binding")), parseQ8k(System.getProperty("infercl.opencl.q8k")),
                parsePrefetch(System.getProperty("infercl.opencl.prefetch")), parseAmx(System.getProperty("infercl.opencl.amx")));
    }

    /** {@code infercl.opencl.prefetch}: 2048 when unset, else bytes 0 to 1 MiB; anything else names the property. */
    static int parsePrefetch(String value) {
        if (value == null) return 2048;
        try {
            int bytes = Integer.parseInt(value.trim());
            if (bytes >= 0 && bytes <= 1 << 20) return bytes;
        } catch (NumberFormatException e) {
            // named below
        }
        throw new IllegalArgumentException("infercl.opencl.prefetch must be a byte count from 0 to 1048576, not '" + value + "'");
    }

    /** {@code infercl.opencl.q8k}: null when unset or {@code auto}, 0 for {@code off}, else 32 or 64; anything else names the property. */
    static Integer parseQ8k(String value) {
        if (value == null) return null;
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> null;
            case "off" -> 0;
            case "32" -> 32;
            case "64" -> 64;
            default -> throw new IllegalArgumentException("infercl.opencl.q8k must be auto, off, 32 or 64, not '" + value + "'");
        };
    }

    /** {@code infercl.opencl.amx}: null when unset or {@code auto}, false for {@code off}, true for {@code on}; anything else names the property. */
    static Boolean parseAmx(String value) {
        if (value == null) return null;
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> null;
            case "off" -> false;
            case "on" -> true;
            default -> throw new IllegalArgumentException("infercl.opencl.amx must be auto, off or on, not '" + value + "'");
        };
    }

    /** {@code infercl.opencl.lanes}: null when unset, else 0 or a power of two 2–256; anything else names the property. */
    static Integer parseLanes(String value) {
        if (value == null) return null;
        int lanes;
        try {
            lanes = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            lanes = -1;
        }
        if (lanes != 0 && (lanes < 2 || lanes > 256 || Integer.bitCount(lanes) != 1)) {
            throw new IllegalArgumentException("infercl.opencl.lanes must be 0 or a power of two from 2 to 256, not '" + value + "'");
        }
        return lanes;
    }

    public ClOptions withMaxAlloc(long bytes) {
        return new ClOptions(bytes, matmul, attention, wrapHostMemory, kvType, lanes, stageX, fuse, profile, programCache, lwjgl, q8k, prefetch, amx);
    }

    public ClOptions withMatmul(KernelChooser.Matmul k) {
        return new ClOptions(maxAllocBytes, k, attention, wrapHostMemory, kvType, lanes, stageX, fuse, profile, programCache, lwjgl, q8k, prefetch, amx);
    }

    public ClOptions withAttention(KernelChooser.Attention k) {
        return new ClOptions(maxAllocBytes, matmul, k, wrapHostMemory, kvType, lanes, stageX, fuse, profile, programCache, lwjgl, q8k, prefetch, amx);
    }

    public ClOptions withKvType(KvType type) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, type, lanes, stageX, fuse, profile, programCache, lwjgl, q8k, prefetch, amx);
    }

    /** F32 (true) or FP16 (false). */
    public ClOptions withKvCacheF32(boolean f32) {
        return withKvType(f32 ? KvType.F32 : KvType.F16);
    }

    public ClOptions withLanes(Integer n) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, kvType, n, stageX, fuse, profile, programCache, lwjgl, q8k, prefetch, amx);
    }

    public ClOptions withStageX(boolean on) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, kvType, lanes, on, fuse, profile, programCache, lwjgl, q8k, prefetch, amx);
    }

    public ClOptions withFuse(boolean on) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, kvType, lanes, stageX, on, profile, programCache, lwjgl, q8k, prefetch, amx);
    }

    public ClOptions withProfile(boolean on) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, kvType, lanes, stageX, fuse, on, programCache, lwjgl, q8k, prefetch, amx);
    }

    public ClOptions withProgramCache(java.nio.file.Path dir) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, kvType, lanes, stageX, fuse, profile, dir, lwjgl, q8k, prefetch, amx);
    }

    public ClOptions withLwjgl(boolean on) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, kvType, lanes, stageX, fuse, profile, programCache, on, q8k, prefetch, amx);
    }

    public ClOptions withPrefetch(int bytes) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, kvType, lanes, stageX, fuse, profile, programCache, lwjgl, q8k, bytes, amx);
    }

    public ClOptions withQ8k(Integer vectorBytes) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, kvType, lanes, stageX, fuse, profile, programCache, lwjgl, vectorBytes, prefetch, amx);
    }

    public ClOptions withAmx(Boolean use) {
        return new ClOptions(maxAllocBytes, matmul, attention, wrapHostMemory, kvType, lanes, stageX, fuse, profile, programCache, lwjgl, q8k, prefetch, use);
    }
}
