package dev.infercl.backend.opencl;

import dev.infercl.backend.KvType;
import java.util.HashMap;
import java.util.Map;

/**
 * Every tunable of the OpenCL backend and every choice of kernel variant, made from named preconditions on the
 * device and the shapes. The kernel files hold the same values as {@code #ifndef} defaults, so each file builds
 * standalone; the host passes what it chose as {@code -D} defines ({@link #deviceDefines} for every build, the
 * shape defines per launch).
 */
final class KernelChooser {

    /** Matrix-product kernels: one work-item (or one work-group of lanes) per output value, or the tiled GEMM. */
    enum Matmul { GEMV, GEMM }

    /** Attention kernels: one work-item per (KV head, row); split over the context and combined; GPU work-groups. */
    enum Attention { FUSED, SPLIT, LANES }

    static final int GEMV_LOCAL = 32;     // outputs per work-group of the GEMV kernels on CPU devices (docs/POCL-GEMV.md)
    static final int TILE_R = 32;         // GEMM: work-items per work-group
    static final int SPLIT_CHUNK = 256;   // split attention: positions per chunk
    static final int KV_LOCAL = 32;       // kvwrite_i8_f32: work-items per (block, KV head) group
    static final int ELEMENT_LOCAL = 64;  // element-wise kernels: work-group size
    static final int[] PROBE_VECS = {4, 16};   // bandwidth probe: the floats per load it tries (the best counts)
    static final int PROBE_LOCAL = 64;         // … and its work-group size

    private final ClDevice info;
    private final ClOptions options;
    final KvType kvType;     // the option, else FP16
    final int normLocal;     // work-items per row of the norms and the W8A8 activation quantizer
    final int gemmRows;      // every GEMM's register tile per work-item: weight rows …
    final int gemmTokens;    // … × tokens
    final int lanes;         // GPU-shaped kernels' work-group: 0 on CPU devices
    final boolean stageX;    // GEMMs stage x in local memory
    final boolean fuse;      // fused one-token products and rope with the cache write
    final int q8k;           // int8-activation K-quant GEMVs: 0 off, -1 where they build, 32 / 64 with those vectors
    final int prefetch;      // bytes ahead the CPU-device GEMVs prefetch their weights, 0 none
    final boolean amx;       // Q8_0 products of several tokens on the AMX tile unit (where the kernel builds)
    final boolean amxRequired; // … and the option asks for it: a failed build is an error, not a fallback

    KernelChooser(ClDevice info, ClOptions options) {
        this.info = info;
        this.options = options;
        this.kvType = options.kvType() != null ? options.kvType() : KvType.F16;
        this.normLocal = info.isGpu() ? 256 : 64;
        // GEMM tile: 3 rows × 8 tokens (24 float16 accumulators of AVX-512's 32 registers) was the fastest on POCL of
        // 4×4, 2×8, 4×6, 2×12 and 3×8 (A/B on the 1b FFN shape); GPUs keep one row × 16 tokens per item.
        this.gemmRows = info.isGpu() ? 1 : 3;
        this.gemmTokens = info.isGpu() ? 16 : 8;
        // GPUs: a work-group of `lanes` work-items shares each one-token product's output value (gemv_lanes.h) and each
        // (KV head, chunk, row) of attention (attention_lanes.h): coalesced reads and enough work-items in flight. CPU
        // devices keep one work-item per output or per (KV head, row).
        this.lanes = options.lanes() != null ? options.lanes() : info.isGpu() ? 32 : 0;
        // GPUs stage x in local memory (coalesced); CPUs read it directly (POCL keeps the accumulators in registers)
        this.stageX = info.isGpu() || options.stageX();
        this.fuse = options.fuse();
        // blocks_q8k.h is for x86 CPU devices with the CPU-device GEMV shape; "auto" tries the build and keeps the
        // float kernels where it fails (another ISA, no AVX2)
        this.q8k = options.q8k() != null ? options.q8k() : info.isGpu() || lanes > 0 ? 0 : -1;
        this.prefetch = options.prefetch();
        // AMX: a CPU device with the CPU-device shapes, on a CPU that has the unit and a process granted its state
        boolean cpuShapes = info.isCpu() && lanes == 0 && !stageX;
        this.amxRequired = Boolean.TRUE.equals(options.amx());
        if (amxRequired && !(cpuShapes && Amx.usable())) {
            throw new IllegalArgumentException("infercl.opencl.amx=on, but " + (cpuShapes ? Amx.reason()
                    : "the device " + info.name() + " is not a CPU device in the CPU-device shapes"));
        }
        this.amx = !Boolean.FALSE.equals(options.amx()) && cpuShapes && Amx.usable();
    }

    /** Defines every kernel build gets (a file ignores those it does not use). */
    Map<String, String> deviceDefines() {
        var d = new HashMap<>(Map.of("LOCAL", String.valueOf(normLocal), "TILE_R", String.valueOf(TILE_R),
                "CHUNK", String.valueOf(SPLIT_CHUNK)));
        if (kvType == KvType.F32) d.put("KV_F32", "1");
        if (kvType == KvType.I8) d.put("KV_I8", "1");
        if (stageX) d.put("STAGE_X", "1");
        if (lanes > 0) d.put("GEMV_LANES", String.valueOf(lanes));
        else if (prefetch > 0) d.put("GEMV_PREFETCH", String.valueOf(prefetch));   // the CPU-device GEMVs' row walk
        return d;
    }

    // ---------------------------------------------------------------- matrix products

    /**
     * The one place that picks a matrix-product kernel. Preconditions, by name:
     * <ul>
     *   <li>{@code decode}: one token: every weight is read once whatever the kernel; the GEMV wastes nothing;</li>
     *   <li>otherwise several tokens: the tiled GEMM reads each weight once per gemmTokens tokens.</li>
     * </ul>
     * Both kernels accept every shape (the GEMV is the general fallback; the GEMM guards partial tiles).
     */
    Matmul matmul(int tokens) {
        if (options.matmul() != null) return options.matmul();
        boolean decode = tokens == 1;
        return decode ? Matmul.GEMV : Matmul.GEMM;
    }

    /**
     * Whether a product of {@code w} takes the int8-activation kernels (matmul_block_q8k_gemv / _gemm): a Q4_K, Q5_K
     * or Q6_K weight, the CPU-device shapes (no lanes, x not staged) and the option not off. The launcher falls back
     * to the float kernels where "auto" fails to build them.
     */
    boolean q8k(dev.infercl.gguf.GgmlType w) {
        return q8k != 0 && lanes == 0 && !stageX && Q8K_TYPES.contains(w);
    }

    /**
     * Whether a product of n tokens with {@code w} takes an AMX kernel, with AMX usable: a Q8_0 weight
     * (matmul_q8_0_q8_0_amx) for at least {@link #AMX_Q8_0_TOKENS} where the one-token products compute the same
     * ({@code q8Activations}), else {@link #AMX_MIN_TOKENS}; a Q4_0 weight (unpacked to int8, then matmul_i8_q8_0_amx)
     * or a Q4_K, Q5_K or Q6_K weight (matmul_block_q8_0_amx, which unpacks as it goes) for at least
     * {@link #AMX_MIN_TOKENS}: there both beat the other GEMMs. The launcher falls back to the other kernels where
     * "auto" fails to build them.
     */
    boolean amx(dev.infercl.gguf.GgmlType w, int n, boolean q8Activations) {
        if (!amx) return false;
        if (w == dev.infercl.gguf.GgmlType.Q8_0) return n >= (q8Activations ? AMX_Q8_0_TOKENS : AMX_MIN_TOKENS);
        return n >= AMX_MIN_TOKENS && AMX_UNPACKED.contains(w);
    }

    /**
     * Whether every product of a Q8_0 weight takes Q8_0 activations: with AMX usable and no kernel family forced, the
     * one-token products (matmul_q8_0_q8_0_gemv and its fused forms) compute what matmul_q8_0_q8_0_amx computes, to
     * the bit (matmul_q8_0_q8_0.h), so a token's result does not depend on how many share its product, and AMX takes
     * the products of {@link #AMX_Q8_0_TOKENS} tokens or more.
     */
    boolean q8Activations(dev.infercl.gguf.GgmlType w) {
        return amx && w == dev.infercl.gguf.GgmlType.Q8_0 && options.matmul() == null;
    }

    /**
     * The fewest tokens of a Q8_0 product on AMX where the one-token products compute the same ({@link #q8Activations}):
     * already at 2 tokens one AMX product beats the GEMV over both (which reads every weight twice).
     */
    static final int AMX_Q8_0_TOKENS = 2;

    /** F16 activation scales per token in quantize_f32_q8_0's layout: in / 32 padded to a multiple of 16. */
    static int q8xStride(int in) {
        return (in / 32 + 15) / 16 * 16;
    }

    /**
     * Fewest tokens an AMX product takes where its arithmetic differs from the one-token products': a prompt's
     * prefill. The AMX kernels round the activations to Q8_0; Q8_0's float GEMV keeps them in float (where a kernel
     * family is forced) and the K-quants' round them to Q8_K, so a token computed alone and in a product of a few would
     * see different sums: a continuous-batching step of a few sequences and a speculative verification of a few
     * drafted tokens stay on the other kernels, and keep their tokens those of one-token decoding.
     */
    static final int AMX_MIN_TOKENS = 32;

    /** The weight types the AMX products take unpacked to int8 (unpack_q4_0_i8; matmul_block_q8_0_amx per tile). */
    static final java.util.Set<dev.infercl.gguf.GgmlType> AMX_UNPACKED = java.util.EnumSet.of(dev.infercl.gguf.GgmlType.Q4_0,
            dev.infercl.gguf.GgmlType.Q4_K, dev.infercl.gguf.GgmlType.Q5_K, dev.infercl.gguf.GgmlType.Q6_K);

    /**
     * The most bytes of int8 weights unpack_q4_0_i8 unpacks at a time for the AMX products (rows in multiples of 16):
     * the copy is still in cache when the product reads it.
     */
    static final long AMX_UNPACK_BYTES = 1L << 20;

    /** Groups of 16 tokens per work-item of matmul_q8_0_q8_0_amx and matmul_i8_q8_0_amx. */
    static final int AMX_GROUPS = 4;

    /**
     * Groups of 16 tokens per work-item of matmul_block_q8_0_amx: a work-item unpacks its strip's weights once for
     * all its groups, so up to 256 tokens unpack each weight once (4 and 8 were slower, 32 no faster).
     */
    static final int AMX_BLOCK_GROUPS = 16;

    /** Most tokens per work-item of matmul_block_q8k_gemm: 8 accumulators and a block's decoded weights fit AVX-512's registers. */
    static final int Q8K_TOKENS = 8;

    /**
     * Tokens per work-item of matmul_block_q8k_gemm for a product of n ≥ 2 tokens: fewer than {@link #Q8K_TOKENS} — a
     * batching step of a few sequences, a speculative verification — take a run of exactly n, so each weight is read
     * once per step, not once per token as n one-token products would.
     */
    static int q8kTokens(int n) {
        return Math.min(n, Q8K_TOKENS);
    }

    static final java.util.Set<dev.infercl.gguf.GgmlType> Q8K_TYPES =
            java.util.EnumSet.of(dev.infercl.gguf.GgmlType.Q4_K, dev.infercl.gguf.GgmlType.Q5_K, dev.infercl.gguf.GgmlType.Q6_K);

    /**
     * Tokens per GEMM work-item for a product of n tokens. The tile computes all its tokens whether or not they exist
     * (the missing ones repeat the last), so on CPU devices fewer tokens than a tile — a continuous-batching step of
     * a few sequences, a speculative verification of a few drafted tokens — take a tile of exactly their number
     * instead of paying for 8: each weight is still read once per step.
     */
    int gemmTokens(int n) {
        if (info.isGpu() || n >= gemmTokens) return gemmTokens;
        return Math.max(n, 1);
    }

    /** The GEMM's register tile for a product of n tokens, as defines. */
    Map<String, String> gemmDefines(int n) {
        return Map.of("ITEM_R", String.valueOf(gemmRows), "TILE_T", String.valueOf(gemmTokens(n)));
    }

    /** GEMV: one work-item per output (or `lanes` per output); GEMM: one work-item per gemmRows rows × gemmTokens(n) tokens, TILE_R per group. */
    long[] matmulGlobal(Matmul kind, int rows, int n) {
        return kind == Matmul.GEMV ? gemvGlobal(rows, n)
                : new long[] {roundUp((rows + gemmRows - 1) / gemmRows, TILE_R), (n + gemmTokens(n) - 1) / gemmTokens(n)};
    }

    long[] matmulLocal(Matmul kind) {
        return kind == Matmul.GEMV ? gemvLocal() : new long[] {TILE_R, 1};
    }

    /** Every GEMV kernel's global size for rows outputs × n tokens. */
    long[] gemvGlobal(long rows, int n) {
        return lanes > 0 ? new long[] {rows * lanes, n} : new long[] {roundUp(rows, GEMV_LOCAL), n};
    }

    /** Every GEMV kernel's local size: GEMV_LOCAL outputs per group, or the lanes of one output. */
    long[] gemvLocal() {
        return new long[] {lanes > 0 ? lanes : GEMV_LOCAL, 1};
    }

    // ---------------------------------------------------------------- attention

    /**
     * The one place that picks an attention kernel. The one-work-item kernels run one work-item per (KV head, row)
     * for all query heads of its group (the split one also per chunk of the context). Preconditions, by name:
     * <ul>
     *   <li>{@code fewItems}: rows × KV heads work-items leave compute units idle (fewer than 2 per unit). On POCL
     *       with 2 cores the 1b preset's 4 KV heads keep both busy, and the fused kernel saves the combine launch;</li>
     *   <li>{@code longContext}: the longest row attends to at least two chunks of {@value #SPLIT_CHUNK} positions.</li>
     * </ul>
     * Both hold: split over the context and combine; otherwise the fused kernel (the general fallback). With
     * {@link #lanes} (GPUs) the lanes kernel: a work-group per (KV head, chunk, row), chunks sized by
     * {@link #laneChunk}, then the combine.
     */
    Attention attention(int tokens, int kvHeads, int longest) {
        if (options.attention() != null) return options.attention();
        if (lanes > 0) return Attention.LANES;
        boolean fewItems = (long) tokens * kvHeads < 2L * info.computeUnits();
        boolean longContext = longest >= 2 * SPLIT_CHUNK;
        return fewItems && longContext ? Attention.SPLIT : Attention.FUSED;
    }

    /**
     * The attention kernels' compile-time shape: head size and query heads per KV head (their private arrays),
     * positions per cache block (so a transposed key row's offsets are constants), and for the lanes kernel its lanes.
     */
    Map<String, String> attentionDefines(Attention kind, int headDim, int group, int blockSize) {
        var d = new HashMap<>(Map.of("HEAD_DIM", String.valueOf(headDim), "GROUP", String.valueOf(group), "BLOCK", String.valueOf(blockSize)));
        if (kind == Attention.LANES) d.put("ATT_LANES", String.valueOf(attentionLanes()));
        return d;
    }

    /** The lanes attention's work-group size: {@link #lanes}, or 32 where only the option asked for the lanes kernel. */
    int attentionLanes() {
        return lanes > 0 ? lanes : 32;
    }

    /**
     * Positions per work-group of the lanes attention: the context cut so that rows × KV heads × chunks give every
     * compute unit about four work-groups (decode of one row at 2048 positions with 4 KV heads on 132 compute units:
     * chunks of 32, 256 groups), and a whole number of tiles. Not yet tuned on a GPU.
     */
    int laneChunk(int tokens, int kvHeads, int longest) {
        long groups = (long) tokens * kvHeads;
        long splits = Math.max(1, (4L * Math.max(info.computeUnits(), 1) + groups - 1) / groups);
        int al = attentionLanes();
        long chunk = (longest + splits - 1) / splits;
        return (int) Math.max(al, roundUp(chunk, al));
    }

    /**
     * The combine's shape: with {@link #lanes} one work-item per output value (GPUs), else one per (query head, row)
     * walking the values 16 at a time (POCL does not vectorise the per-value form across work-items).
     */
    boolean combinePerValue() {
        return lanes > 0;
    }

    static long roundUp(long v, long m) {
        return (v + m - 1) / m * m;
    }
}
