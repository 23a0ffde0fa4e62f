package dev.infercl.cli;

import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufValueType;
import dev.infercl.gguf.TensorInfo;
import java.lang.reflect.Array;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Describes a GGUF file: header, metadata, tensors with types and sizes, then the tensor count and bytes of each type.
 * Works for any GGML type.
 */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Print a GGUF file's metadata and tensors.")
final class InfoCommand extends Streams.Command implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file, or Hugging Face model OWNER/NAME[:QUANT]")
    String model;

    @Option(names = "--all", description = "print arrays in full (default: the first 8 values)")
    boolean all;

    @Option(names = "--verbose", description = "print stack traces of errors")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        Path path = HubModels.resolve(model, "MODEL", err);
        try (GgufFile f = GgufFile.open(path)) {
            out.printf("%s: GGUF v%d, %s, %d metadata keys, %d tensors, alignment %d, data at offset %d%n",
                    path, f.version(), bytes(f.size()), f.metadata().size(), f.tensors().size(), f.alignment(), f.dataOffset());
            stacks(f);
            out.println();
            out.println("metadata:");
            for (GgufFile.MetadataEntry e : f.metadata()) {
                out.printf("  %-44s %-8s %s%n", e.key(), typeName(e), value(e.value()));
            }
            out.println();
            out.printf("tensors:%n  %-36s %-8s %-22s %12s%n", "name", "type", "shape", "bytes");
            long total = 0;
            boolean int8Scheme = f.has("infercl.quant.scheme");
            var count = new EnumMap<GgmlType, Integer>(GgmlType.class);
            var size = new EnumMap<GgmlType, Long>(GgmlType.class);
            for (TensorInfo t : f.tensors()) {
                out.printf("  %-36s %-8s %-22s %12d%s%n", t.name(), t.type(), t.shape(), t.byteSize(),
                        usable(t.type(), int8Scheme) ? "" : "  (type not supported for compute)");
                total += t.byteSize();
                count.merge(t.type(), 1, Integer::sum);
                size.merge(t.type(), t.byteSize(), Long::sum);
            }
            out.printf("  %d tensors, %s of weights%n", f.tensors().size(), bytes(total));
            // a file mixes types layer by layer (a "Q4_K_M" file is Q4_K and Q6_K): what each type holds
            out.println();
            out.println("types:");
            count.forEach((type, n) -> out.printf("  %s: %d tensor%s, %s%s%n", type, n, n == 1 ? "" : "s", bytes(size.get(type)),
                    usable(type, int8Scheme) ? "" : " (not supported for compute)"));
        }
        return 0;
    }

    /** An encoder–decoder file (T5): its two stacks, from the tensor names and the t5.* metadata. */
    private void stacks(GgufFile f) throws java.io.IOException {
        int enc = 0, dec = 0;
        boolean cross = false;
        for (TensorInfo t : f.tensors()) {
            enc = Math.max(enc, layer(t.name(), "enc.blk."));
            dec = Math.max(dec, layer(t.name(), "dec.blk."));
            cross |= t.name().startsWith("dec.blk.") && t.name().contains(".cross_attn_");
        }
        if (enc == 0 && dec == 0) return;
        String a = f.getString("general.architecture", "?");
        out.printf("encoder-decoder (%s): encoder %d layers (enc.blk.*: unmasked self-attention, bidirectional relative-position bias), "
                + "decoder %d layers (dec.blk.*: causal self-attention%s); %s relative-position buckets; decoder start token %s%n",
                a, enc, dec, cross ? " + cross-attention to the encoder output" : "", f.get(a + ".attention.relative_buckets_count").map(String::valueOf).orElse("32 (default)"),
                f.get(a + ".decoder_start_token_id").map(String::valueOf).orElse("BOS (default)"));
    }

    /** 1 + the layer index of a tensor named prefix + N + "…", else 0. */
    private static int layer(String name, String prefix) {
        if (!name.startsWith(prefix)) return 0;
        int dot = name.indexOf('.', prefix.length());
        try {
            return dot < 0 ? 0 : Integer.parseInt(name, prefix.length(), dot, 10) + 1;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static boolean usable(GgmlType type, boolean int8Scheme) {
        return type.computable() || (int8Scheme && type == GgmlType.I8);
    }

    private static String typeName(GgufFile.MetadataEntry e) {
        if (e.type() == GgufValueType.ARRAY && e.value() instanceof GgufFile.MetadataArray a) {
            return "[" + a.elementType().name().toLowerCase(Locale.ROOT) + "]";
        }
        return e.type().name().toLowerCase(Locale.ROOT);
    }

    private String value(Object v) {
        if (v instanceof GgufFile.MetadataArray a) {
            int n = a.length(), shown = all ? n : Math.min(n, 8);
            var sb = new StringBuilder("[");
            for (int i = 0; i < shown; i++) sb.append(i == 0 ? "" : ", ").append(value(Array.get(a.values(), i)));
            if (shown < n) sb.append(", … (").append(n).append(" values)");
            return sb.append(']').toString();
        }
        if (v instanceof String s) {
            // as GgufFile.quote shows a value in an error (NUL as \0, control bytes escaped), in double quotes
            String single = GgufFile.quote(s);
            String q = single.substring(1, single.length() - 1).replace("\\'", "'").replace("\"", "\\\"");
            return "\"" + (all || q.length() <= 120 ? q : q.substring(0, 117) + "…") + "\"";
        }
        return String.valueOf(v);
    }

    static String bytes(long n) {
        if (n >= 1L << 30) return String.format(Locale.ROOT, "%.2f GiB", n / (double) (1L << 30));
        if (n >= 1L << 20) return String.format(Locale.ROOT, "%.2f MiB", n / (double) (1L << 20));
        if (n >= 1L << 10) return String.format(Locale.ROOT, "%.1f KiB", n / 1024.0);
        return n + " bytes";
    }
}
