package dev.infercl.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A GGUF whose second tensor lies past 2 GiB (a sparse file: no 2 GiB written) is mapped and read correctly. */
class GgufLargeFileTest {

    @Test
    void tensorsPastTwoGibibytesAreReadable(@TempDir Path dir) throws Exception {
        long big = 1L << 29;                        // F32 elements of tensor "a": 2 GiB of data
        ByteBuffer h = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        h.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3).putLong(2).putLong(0);
        tensorInfo(h, "a", big, 0);
        tensorInfo(h, "b", 8, 4 * big);
        int dataStart = (h.position() + 31) / 32 * 32;
        Path p = dir.resolve("big.gguf");
        try (var f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(h.array(), 0, h.position());
            f.setLength(dataStart + 4 * big + 32);   // sparse: the 2 GiB of "a" occupy no disk
            f.seek(dataStart + 4 * big);
            ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 8; i++) b.putFloat(i + 0.5f);
            f.write(b.array());
        }
        try (GgufFile g = GgufFile.open(p)) {
            TensorInfo b = g.tensor("b").orElseThrow();
            assertEquals(dataStart + 4 * big, g.dataOffset() + b.offset());
            var seg = g.data(b);
            for (int i = 0; i < 8; i++) {
                assertEquals(i + 0.5f, seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i));
            }
            assertEquals(4 * big, g.data(g.tensor("a").orElseThrow()).byteSize());
        }
    }

    private static void tensorInfo(ByteBuffer h, String name, long elements, long offset) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        h.putLong(n.length).put(n).putInt(1).putLong(elements).putInt(GgmlType.F32.id).putLong(offset);
    }
}
