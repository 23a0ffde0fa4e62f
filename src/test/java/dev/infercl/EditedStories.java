package dev.infercl;

import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufValueType;
import dev.infercl.gguf.GgufWriter;
import dev.infercl.gguf.TensorInfo;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Copies of the vendored stories260K ({@link Stories#MODEL}, a real model) with metadata edited: the hostile settings
 * a file can carry (a block count of 2³¹−1, a NUL in a name), written through {@link GgufWriter} so that everything
 * else in the file stays valid and only the edited value can be what a loader trips on.
 */
public final class EditedStories {
    private EditedStories() {}

    /** A metadata value to write: its GGUF type and its value as {@link GgufWriter#put} takes it. */
    public record Value(GgufValueType type, Object value) {
        public static Value u32(long v) { return new Value(GgufValueType.UINT32, v); }
        public static Value i32(int v) { return new Value(GgufValueType.INT32, (long) v); }
        public static Value f32(float v) { return new Value(GgufValueType.FLOAT32, v); }
        public static Value str(String v) { return new Value(GgufValueType.STRING, v); }
    }

    /** stories260K with {@code key} set to {@code value} (added when the file has no such key), written to {@code out}. */
    public static Path with(Path out, String key, Value value) throws IOException {
        return with(out, Map.of(key, value));
    }

    /** stories260K with every key of {@code edits} set, written to {@code out}. */
    public static Path with(Path out, Map<String, Value> edits) throws IOException {
        var pending = new LinkedHashMap<>(edits);
        try (GgufFile src = GgufFile.open(Stories.MODEL)) {
            var w = new GgufWriter();
            for (var m : src.metadata()) {
                Value v = pending.remove(m.key());
                if (v != null) w.put(m.key(), v.type(), v.value());
                else if (m.value() instanceof GgufFile.MetadataArray a) w.putArray(m.key(), a.elementType(), a.values());
                else w.put(m.key(), m.type(), m.value());
            }
            pending.forEach((k, v) -> w.put(k, v.type(), v.value()));
            for (TensorInfo t : src.tensors()) w.addTensor(t.name(), t.type(), t.dims(), src.data(t).toArray(ValueLayout.JAVA_BYTE));
            w.write(out);
        }
        return out;
    }
}
