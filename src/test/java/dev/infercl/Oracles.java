package dev.infercl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads the oracle files of ../shared: JSON references and little-endian float32 logit matrices. */
public final class Oracles {
    private Oracles() {}

    public static JsonNode json(Path p) throws IOException {
        return new ObjectMapper().readTree(p.toFile());
    }

    public static int[] ints(JsonNode array) {
        int[] r = new int[array.size()];
        for (int i = 0; i < r.length; i++) r[i] = array.get(i).asInt();
        return r;
    }

    public static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** A little-endian float32 file as rows of {@code cols} values. */
    public static float[][] floatRows(Path p, int cols) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        int rows = bb.remaining() / 4 / cols;
        float[][] r = new float[rows][cols];
        var fb = bb.asFloatBuffer();
        for (float[] row : r) fb.get(row);
        return r;
    }
}
