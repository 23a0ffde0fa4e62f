// Draws docs/decode-vs-context.png from a sweep file: one line per model × backend, either a "SWEEP model backend
// depth:tokens/s …" line or the JSON object `infercl bench --ctx-sweep … --json` prints:
//   java docs/ContextChart.java sweep.txt docs/decode-vs-context.png
// Headless java.awt: log-scale y axis (tokens/s), x axis the context length (128 … 2048).
import java.awt.*;
import java.awt.image.BufferedImage;
import java.nio.file.*;
import java.util.*;
import java.util.List;
import javax.imageio.ImageIO;

public class ContextChart {
    /** A bench --ctx-sweep --json object as a SWEEP line. */
    static String fromJson(String json) {
        var model = java.util.regex.Pattern.compile("\"model\":\"([^\"]*)\"").matcher(json);
        var backend = java.util.regex.Pattern.compile("\"backend\":\"(\\w+)").matcher(json);
        var sweep = java.util.regex.Pattern.compile("\"ctx_sweep_tokens_per_s\":\\{([^}]*)}").matcher(json);
        if (!model.find() || !backend.find() || !sweep.find()) return "";
        var sb = new StringBuilder("SWEEP " + Path.of(model.group(1)).getFileName() + " " + backend.group(1));
        for (String kv : sweep.group(1).split(",")) sb.append(' ').append(kv.replace("\"", "").trim());
        return sb.toString();
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("java.awt.headless", "true");
        List<String> names = new ArrayList<>();
        List<double[][]> series = new ArrayList<>();
        for (String raw : Files.readAllLines(Path.of(args[0]))) {
            String line = raw.trim().startsWith("{") ? fromJson(raw) : raw;
            String[] f = line.trim().split("\\s+");
            if (f.length < 4 || !f[0].equals("SWEEP")) continue;
            names.add(f[1].replace(".gguf", "") + " " + f[2]);
            double[][] pts = new double[f.length - 3][2];
            for (int i = 3; i < f.length; i++) {
                String[] kv = f[i].split(":");
                pts[i - 3][0] = Double.parseDouble(kv[0]);
                pts[i - 3][1] = Double.parseDouble(kv[1]);
            }
            series.add(pts);
        }
        int w = 760, h = 440, left = 70, right = 210, top = 48, bottom = 50;
        var img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        double yMin = Double.MAX_VALUE, yMax = 0;
        for (double[][] s : series) for (double[] p : s) { yMin = Math.min(yMin, p[1]); yMax = Math.max(yMax, p[1]); }
        double ly0 = Math.floor(Math.log10(yMin)), ly1 = Math.ceil(Math.log10(yMax));
        double lx0 = Math.log(128) / Math.log(2), lx1 = Math.log(2048) / Math.log(2);
        int pw = w - left - right, ph = h - top - bottom;
        java.util.function.DoubleUnaryOperator X = x -> left + (Math.log(x) / Math.log(2) - lx0) / (lx1 - lx0) * pw;
        java.util.function.DoubleUnaryOperator Y = y -> top + ph - (Math.log10(y) - ly0) / (ly1 - ly0) * ph;
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(new Color(225, 225, 225));
        for (double d = ly0; d <= ly1; d++) {
            for (int m = 1; m < 10; m++) {
                double v = Math.pow(10, d) * m;
                if (Math.log10(v) > ly1) break;
                int yy = (int) Y.applyAsDouble(v);
                g.setColor(m == 1 ? new Color(190, 190, 190) : new Color(235, 235, 235));
                g.drawLine(left, yy, left + pw, yy);
                if (m == 1 || m == 2 || m == 5) { g.setColor(Color.DARK_GRAY); g.drawString(String.format("%.0f", v), left - 45, yy + 4); }
            }
        }
        for (int x : new int[] {128, 256, 512, 1024, 2048}) {
            int xx = (int) X.applyAsDouble(x);
            g.setColor(new Color(220, 220, 220));
            g.drawLine(xx, top, xx, top + ph);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.valueOf(x), xx - 12, top + ph + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, pw, ph);
        g.drawString("context length (tokens)", left + pw / 2 - 60, h - 12);
        g.drawString("decode tokens/s (log scale)", 8, top - 6);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        g.drawString("InferCL decode speed vs context (2-core EPYC, POCL 3.1)", left + 150, 18);
        Color[] colors = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44), new Color(214, 39, 40),
                new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194), new Color(127, 127, 127)};
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i < series.size(); i++) {
            g.setColor(colors[i % colors.length]);
            g.setStroke(new BasicStroke(names.get(i).endsWith("cpu") ? 1.5f : 2.5f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND,
                    1f, names.get(i).endsWith("cpu") ? new float[] {6f, 4f} : null, 0f));
            double[][] s = series.get(i);
            for (int j = 0; j < s.length; j++) {
                int xx = (int) X.applyAsDouble(s[j][0]), yy = (int) Y.applyAsDouble(s[j][1]);
                g.fillOval(xx - 3, yy - 3, 7, 7);
                if (j > 0) g.drawLine((int) X.applyAsDouble(s[j - 1][0]), (int) Y.applyAsDouble(s[j - 1][1]), xx, yy);
            }
            int ly = top + 10 + i * 20;
            g.drawLine(left + pw + 12, ly, left + pw + 40, ly);
            g.setColor(Color.BLACK);
            g.drawString(names.get(i), left + pw + 46, ly + 4);
        }
        ImageIO.write(img, "png", Path.of(args[1]).toFile());
    }
}
