package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.gguf.GgufFile;
import org.junit.jupiter.api.Test;

/** The unigram (UGM, tokenizer.ggml.model = "t5") tokenizer against ../shared/t5 and small made-up vocabularies. */
class UnigramTest {

    @Test
    void promptIdsEqualLlamaCpp() throws Exception {
        var r = Oracles.json(SharedData.require("t5/t5.1.json"));
        try (GgufFile f = GgufFile.open(SharedData.require("t5/t5.gguf"))) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            assertInstanceOf(Unigram.class, tok);
            assertTrue(tok.addBosByDefault(), "a t5 vocabulary adds its specials (</s>) by default");
            assertEquals(-1, tok.bosId());
            int[] ids = tok.encode(r.get("prompt").asText(), tok.addBosByDefault(), true);
            assertArrayEquals(Oracles.ints(r.get("prompt_ids")), ids);
            // without specials: no </s>
            int[] plain = tok.encode(r.get("prompt").asText(), false, false);
            assertEquals(ids.length - 1, plain.length);
            assertEquals(r.get("prompt").asText(), tok.decode(plain));
            // extra spaces collapse as T5 does
            assertArrayEquals(plain, tok.encode("  translate   English to German: The house is wonderful.  ", false, false));
        }
    }

    /**
     * precompiled_charsmap: the longest matching prefix is replaced before whitespace handling (full-width letters, a
     * ligature, a tab to a space, "ab" before "a"), everything else kept; the result tokenizes as the replaced text does
     * without a charsmap.
     */
    @Test
    void precompiledCharsmapReplacesLongestPrefixes() {
        String[] pieces = {"<pad>", "</s>", "<unk>", "▁", "A", "B", "f", "i", "X", "Y", "c", "▁A", "▁X", "▁Y", "▁f", "▁c"};
        float[] scores = new float[pieces.length];
        for (int i = 3; i < scores.length; i++) scores[i] = -i;
        TokenType[] types = new TokenType[pieces.length];
        java.util.Arrays.fill(types, TokenType.NORMAL);
        types[0] = TokenType.CONTROL;
        types[1] = TokenType.CONTROL;
        types[2] = TokenType.UNKNOWN;
        var map = new java.util.LinkedHashMap<String, String>();
        map.put("Ａ", "A");
        map.put("Ｂ", "B");
        map.put("ﬁ", "fi");
        map.put("\t", " ");
        map.put("a", "Y");
        map.put("ab", "X");
        var plain = new Unigram(pieces, scores, types, 1, 2, 0, true, true, true);
        var normed = new Unigram(pieces, scores, types, 1, 2, 0, true, true, true, charsmap(map));
        assertEquals("▁AB▁fi", normed.normalize("ＡＢ\tﬁ"));
        assertEquals("▁Xc▁Y", normed.normalize("abc a"));
        assertArrayEquals(plain.encode("AB fi", true, false), normed.encode("ＡＢ\tﬁ", true, false));
        assertArrayEquals(plain.encode("Xc Y", true, false), normed.encode("abc a", true, false));
        assertEquals("▁Ａ", plain.normalize("Ａ"), "without a charsmap nothing is replaced");
        // llama.cpp's whitespace rules: merging puts ▁ before every word even without add_space_prefix; without merging
        // each space is a ▁ and add_space_prefix adds one before the first word only
        assertEquals("▁a▁b", new Unigram(pieces, scores, types, 1, 2, 0, true, false, true).normalize(" a  b "));
        assertEquals("▁▁▁a▁▁b▁", new Unigram(pieces, scores, types, 1, 2, 0, true, true, false).normalize("  a  b "));
        assertEquals("a▁b", new Unigram(pieces, scores, types, 1, 2, 0, true, false, false).normalize("a b"));
    }

    /** The charsmap as GGUF stores it (tokenizer.ggml.precompiled_charsmap, an array of UINT8) reaches the tokenizer. */
    @Test
    void charsmapFromGguf(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        byte[] cm = charsmap(java.util.Map.of("Ａ", "A"));
        long[] bytes = new long[cm.length];
        for (int i = 0; i < cm.length; i++) bytes[i] = cm[i] & 0xFF;
        var path = dir.resolve("t5-vocab.gguf");
        new dev.infercl.gguf.GgufWriter().putString("general.architecture", "t5").putString("tokenizer.ggml.model", "t5")
                .putStringArray("tokenizer.ggml.tokens", new String[] {"<pad>", "</s>", "<unk>", "▁A", "A"})
                .putFloat32Array("tokenizer.ggml.scores", new float[] {0, 0, 0, -1, -2})
                .putInt32Array("tokenizer.ggml.token_type", new int[] {3, 3, 2, 1, 1})
                .putArray("tokenizer.ggml.precompiled_charsmap", dev.infercl.gguf.GgufValueType.UINT8, bytes)
                .write(path);
        try (GgufFile f = GgufFile.open(path)) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            assertArrayEquals(new int[] {3, 1}, tok.encode("Ａ", true, false));
        }
    }

    /**
     * A darts-clone double array (the layout SentencePiece's precompiled charsmap uses) of {@code map}'s keys, with the
     * values the offsets of the NUL-terminated replacements that follow it: the child of unit p with label c sits at
     * p ^ base(p) ^ c, a key's value at p ^ base(p) (label 0) when p has the leaf flag; no two units share p ^ base(p).
     */
    static byte[] charsmap(java.util.Map<String, String> map) {
        final class Node {
            final java.util.TreeMap<Integer, Node> kids = new java.util.TreeMap<>();
            int value = -1;
        }
        var root = new Node();
        var rep = new java.io.ByteArrayOutputStream();
        for (var e : map.entrySet()) {
            Node n = root;
            for (byte b : e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8)) n = n.kids.computeIfAbsent(b & 0xFF, k -> new Node());
            n.value = rep.size();
            rep.writeBytes(e.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            rep.write(0);
        }
        int[] units = new int[8192];
        boolean[] used = new boolean[units.length], offsetTaken = new boolean[units.length];
        used[0] = true;
        var queue = new java.util.ArrayDeque<java.util.Map.Entry<Node, Integer>>();
        queue.add(java.util.Map.entry(root, 0));
        while (!queue.isEmpty()) {
            var item = queue.poll();
            Node n = item.getKey();
            int p = item.getValue();
            if (n.kids.isEmpty() && n.value < 0) continue;
            int o = 256;   // p ^ base(p): its children at o ^ label, its value at o (label 0)
            search:
            for (; ; o++) {
                // every node its own offset (as darts-clone): two nodes sharing one would see each other's children
                if (offsetTaken[o] || n.value >= 0 && used[o]) continue;
                for (int c : n.kids.keySet()) if (used[o ^ c]) continue search;
                break;
            }
            offsetTaken[o] = true;
            units[p] |= (p ^ o) << 10;
            if (n.value >= 0) {
                used[o] = true;
                units[o] = 0x80000000 | n.value;
            }
            for (var k : n.kids.entrySet()) {
                int idx = o ^ k.getKey();
                used[idx] = true;
                units[idx] = k.getKey() | (k.getValue().value >= 0 ? 1 << 8 : 0);
                queue.add(java.util.Map.entry(k.getValue(), idx));
            }
        }
        int size = 0;
        for (int i = 0; i < units.length; i++) if (used[i]) size = i + 1;
        var bb = java.nio.ByteBuffer.allocate(4 + 4 * size + rep.size()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.putInt(4 * size);
        for (int i = 0; i < size; i++) bb.putInt(units[i]);
        bb.put(rep.toByteArray());
        return bb.array();
    }

    /** Viterbi: the best-scoring split wins, not the longest match; an uncovered character is one merged {@code <unk>}. */
    @Test
    void viterbiAndUnknowns() {
        String[] pieces = {"<pad>", "</s>", "<unk>", "▁", "a", "b", "ab", "▁ab", "▁a", "c"};
        float[] scores = {0, 0, 0, -1, -1, -1, -5, -10, -1, -1};
        TokenType[] types = new TokenType[pieces.length];
        java.util.Arrays.fill(types, TokenType.NORMAL);
        types[0] = TokenType.CONTROL;
        types[1] = TokenType.CONTROL;
        types[2] = TokenType.UNKNOWN;
        var u = new Unigram(pieces, scores, types, 1, 2, 0, true, true, true);
        // "▁ab": ▁a + b = −2 beats ▁ab (−10) and ▁ + ab (−6)
        assertArrayEquals(new int[] {8, 5, 1}, u.encode("ab", true, false));
        // "xy" has no pieces: one <unk> for both characters
        assertArrayEquals(new int[] {3, 2, 9}, u.encode("xyc", false, false));
        assertArrayEquals(new int[] {8, 1, 8}, u.encode("a</s> a", false, true));
        assertArrayEquals(new int[] {8, 2}, u.encode("a</s>", false, false), "not parsed: </s> is four uncovered characters, one <unk>");
    }
}
