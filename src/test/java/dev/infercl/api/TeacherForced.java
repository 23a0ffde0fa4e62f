package dev.infercl.api;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a reply's logprobs must be, computed independently of the engine's own code: the log-softmax, in double, of each
 * reply position's logits row from one teacher-forced pass over prompt + reply ({@link Session#logits}), and the
 * {@code top} largest entries, ties to the lower id.
 */
public final class TeacherForced {
    private TeacherForced() {}

    /** One reply token's expected logprob and alternatives. */
    public record Expected(double logprob, int[] topIds, double[] topLogprobs) {}

    public static List<Expected> logprobs(Model m, int[] prompt, int[] reply, int top) {
        int[] feed = Arrays.copyOf(prompt, prompt.length + reply.length - 1);
        System.arraycopy(reply, 0, feed, prompt.length, reply.length - 1);
        float[][] rows;
        try (Session s = m.newSession(256)) {
            rows = s.logits(feed);
        }
        var out = new ArrayList<Expected>();
        for (int j = 0; j < reply.length; j++) {
            float[] row = rows[prompt.length - 1 + j];
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (float v : row) max = Math.max(max, v);
            for (float v : row) sum += Math.exp(v - max);
            double logZ = max + Math.log(sum);
            Integer[] order = new Integer[row.length];
            for (int v = 0; v < row.length; v++) order[v] = v;
            Arrays.sort(order, (a, b) -> row[a] != row[b] ? Float.compare(row[b], row[a]) : Integer.compare(a, b));
            int[] ids = new int[top];
            double[] lps = new double[top];
            for (int t = 0; t < top; t++) {
                ids[t] = order[t];
                lps[t] = row[order[t]] - logZ;
            }
            out.add(new Expected(row[reply[j]] - logZ, ids, lps));
        }
        return out;
    }
}
