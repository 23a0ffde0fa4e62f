package dev.infercl.backend.opencl;

import static org.jocl.CL.CL_MEM_READ_ONLY;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jocl.Pointer;
import org.jocl.cl_mem;

/**
 * Small int arrays (token ids, positions, block tables, work lists) go to the device through one ring buffer, so a
 * forward pass needs no buffer per array. A region is reused only after the queue drained (on wrap-around); an array
 * equal to one of the last few uploads is not sent again.
 *
 * <p>Writes are blocking on purpose: JOCL follows every non-blocking transfer with a thread that waits for its event
 * (to keep the host buffer reachable) — a thread hand-off per call, and concurrent calls into runtimes that are not
 * thread-safe (oclgrind crashed on it). A few ints, once per op that needs them.
 */
final class IntRing implements AutoCloseable {
    private static final int RECENT = 4;
    private final ClRuntime rt;
    private int capacity;
    private cl_mem device;
    private ByteBuffer host;
    private int cursor;
    private final List<int[]> recent = new ArrayList<>();
    private final List<Integer> recentOffsets = new ArrayList<>();

    IntRing(ClRuntime rt, int capacity) {
        this.rt = rt;
        allocate(capacity);
    }

    private void allocate(int cap) {
        capacity = cap;
        device = rt.create("int ring (token ids, positions, block tables)", CL_MEM_READ_ONLY, 4L * cap, null);
        host = ByteBuffer.allocateDirect(4 * cap).order(ByteOrder.nativeOrder());
    }

    /** The device buffer every offset handed out refers to. */
    cl_mem buffer() {
        return device;
    }

    /** Uploads one array (or finds it among the last few) and returns its offset in {@link #buffer()}, in ints. */
    int upload(int[] values) {
        return uploadAll(values)[0];
    }

    /**
     * Uploads several arrays one kernel launch needs together: room for all of them is made first, so a wrap (or a
     * grown buffer) can never invalidate an offset handed out earlier in the same call.
     */
    int[] uploadAll(int[]... arrays) {
        int need = 0;
        for (int[] a : arrays) if (find(a) < 0) need += Math.max(a.length, 1);
        if (cursor + need > capacity) {
            rt.finish();               // the device is done with everything in the ring
            recent.clear();
            recentOffsets.clear();
            cursor = 0;
            int all = 0;
            for (int[] a : arrays) all += Math.max(a.length, 1);
            if (all > capacity) {
                rt.release(device);
                allocate(Integer.highestOneBit(all) * 2);
            }
        }
        int[] offsets = new int[arrays.length];
        for (int i = 0; i < arrays.length; i++) {
            int found = find(arrays[i]);
            offsets[i] = found >= 0 ? found : put(arrays[i]);
        }
        return offsets;
    }

    private int find(int[] values) {
        for (int i = recent.size() - 1; i >= 0; i--) {
            if (Arrays.equals(recent.get(i), values)) return recentOffsets.get(i);
        }
        return -1;
    }

    private int put(int[] values) {
        int off = cursor;
        host.asIntBuffer().put(off, values);
        if (values.length > 0) rt.write(device, 4L * off, 4L * values.length, Pointer.to(host).withByteOffset(4L * off));
        cursor += Math.max(values.length, 1);
        if (recent.size() == RECENT) {
            recent.removeFirst();
            recentOffsets.removeFirst();
        }
        recent.add(values.clone());
        recentOffsets.add(off);
        return off;
    }

    @Override
    public void close() {
        rt.release(device);
    }
}
