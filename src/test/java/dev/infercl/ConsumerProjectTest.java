package dev.infercl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * InferCL as a library: a scratch Maven project that depends on dev.infercl:infercl, built against the artifact
 * installed in the local repository that {@code -Dinfercl.test.consumerRepo=DIR} names (.ci/run installs it there
 * first), generates text from test-models/stories260K.gguf through the Java API in a JVM started with only the
 * flags the README documents.
 *
 * <p>Checks: the consumer's dependency tree holds each library once and none of the CLI's (picocli, JLine) or an
 * SLF4J binding; its class path has exactly one jar with Jackson's ObjectMapper, and InferCL's jar holds only
 * InferCL (no shaded copies); greedy text on the CPU backend and on the AUTO choice follows the vendored reference;
 * without {@code --add-modules jdk.incubator.vector} the CPU backend refuses naming that flag, and AUTO with no OpenCL
 * platform falls back to the reference backend, saying so.
 */
@EnabledIfSystemProperty(named = "infercl.test.consumerRepo", matches = ".+")
class ConsumerProjectTest {

    static final String FLAGS = "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow";
    static final int TOKENS = 24;

    @TempDir
    Path dir;

    @Test
    void consumerBuildsAndGenerates() throws Exception {
        Path repo = Path.of(System.getProperty("infercl.test.consumerRepo"));
        String version = projectVersion();
        Files.writeString(dir.resolve("pom.xml"), pom(version));
        Path main = dir.resolve("src/main/java/com/example/Main.java");
        Files.createDirectories(main.getParent());
        Files.writeString(main, MAIN);

        // build, class path, dependency tree: against the repository InferCL was installed into
        var build = run(dir, 600, List.of("mvn", "-B", "-ntp", "-q", "-Dmaven.repo.local=" + repo, "-DskipTests",
                "package", DEPENDENCY_PLUGIN + ":build-classpath", DEPENDENCY_PLUGIN + ":tree",
                "-Dmdep.outputFile=" + dir.resolve("cp.txt"), "-DoutputFile=" + dir.resolve("tree.txt")), Map.of());
        assertEquals(0, build.code, build.output);

        List<String> tree = Files.readAllLines(dir.resolve("tree.txt"));
        checkTree(tree);
        List<Path> classPath = new ArrayList<>();
        for (String p : Files.readString(dir.resolve("cp.txt")).trim().split(java.io.File.pathSeparator)) classPath.add(Path.of(p));
        checkClassPath(classPath, version);

        String cp = dir.resolve("target/classes") + java.io.File.pathSeparator + Files.readString(dir.resolve("cp.txt")).trim();
        String model = Stories.MODEL.toString();
        String reference = new ObjectMapper().readTree(Stories.REFERENCE.toFile()).get("greedy_text").asText();

        var cpu = java(cp, FLAGS, List.of(model, "CPU", String.valueOf(TOKENS)), Map.of());
        assertEquals(0, cpu.code, cpu.output);
        assertTrue(cpu.output.contains("backend: cpu ("), cpu.output);
        assertFollowsReference(cpu.output, reference);

        // the AUTO choice (OpenCL where there is a device; POCL needs the JVM's signal chaining, as documented)
        Path jsig = Path.of(System.getProperty("java.home"), "lib", "libjsig.so");
        var auto = java(cp, FLAGS, List.of(model, "AUTO", String.valueOf(TOKENS)),
                Files.exists(jsig) ? Map.of("LD_PRELOAD", jsig.toString()) : Map.of());
        assertEquals(0, auto.code, auto.output);
        assertFollowsReference(auto.output, reference);

        // without the Vector API the CPU backend says which flag is missing
        var noVector = java(cp, "--enable-native-access=ALL-UNNAMED", List.of(model, "CPU", "4"), Map.of());
        assertNotEquals(0, noVector.code, noVector.output);
        assertTrue(noVector.output.contains("--add-modules jdk.incubator.vector"), noVector.output);

        // and AUTO without it, where no OpenCL platform is visible either (an ICD vendors folder that is empty), falls
        // back to the scalar reference backend, saying why once through java.util.logging
        Path noVendors = Files.createDirectories(dir.resolve("no-icd-vendors"));
        var fallback = java(cp, "--enable-native-access=ALL-UNNAMED", List.of(model, "AUTO", "8"),
                Map.of("OCL_ICD_VENDORS", noVendors.toString()));
        assertEquals(0, fallback.code, fallback.output);
        assertTrue(fallback.output.contains("backend: cpu reference (scalar)"), fallback.output);
        assertTrue(fallback.output.contains("WARNING: ") && fallback.output.contains("--add-modules jdk.incubator.vector"), fallback.output);
        assertFollowsReference(fallback.output, reference);

        System.out.println("consumer: " + classPath.size() + " jars on the class path, each library once;\n"
                + cpu.output.lines().filter(l -> l.startsWith("backend:") || l.startsWith("text<<")).toList() + "\n"
                + auto.output.lines().filter(l -> l.startsWith("backend:")).toList() + "\n"
                + noVector.output.lines().filter(l -> l.contains("jdk.incubator.vector")).findFirst().orElse(""));
    }

    /** Each artifact once; the libraries InferCL needs are there, the CLI's and a logging binding are not. */
    static void checkTree(List<String> tree) {
        Map<String, Integer> seen = new HashMap<>();
        Pattern coord = Pattern.compile("([\\w.\\-]+):([\\w.\\-]+):jar:(?:[\\w.\\-]+:)?[\\w.\\-]+:(compile|runtime)");
        for (String line : tree) {
            Matcher m = coord.matcher(line);
            if (m.find()) seen.merge(m.group(1) + ":" + m.group(2) + (line.contains(":natives-") ? ":natives" : ""), 1, Integer::sum);
        }
        String all = String.join("\n", tree);
        seen.forEach((k, n) -> assertEquals(1, n, k + " appears " + n + " times:\n" + all));
        for (String needed : List.of("dev.infercl:infercl", "com.hubspot.jinjava:jinjava", "com.fasterxml.jackson.core:jackson-databind",
                "com.google.guava:guava", "org.lwjgl:lwjgl", "org.lwjgl:lwjgl-opencl", "org.jocl:jocl", "org.slf4j:slf4j-api")) {
            assertTrue(seen.containsKey(needed), needed + " missing:\n" + all);
        }
        for (String absent : List.of("info.picocli:picocli", "org.jline:jline", "org.slf4j:slf4j-jdk14")) {
            assertFalse(seen.containsKey(absent), absent + " reached the consumer:\n" + all);
        }
    }

    /** One jar with ObjectMapper; InferCL's jar holds InferCL's classes, its kernels and its metadata, nothing shaded. */
    static void checkClassPath(List<Path> classPath, String version) throws IOException {
        int objectMappers = 0;
        Path infercl = null;
        for (Path jar : classPath) {
            try (var zip = new ZipFile(jar.toFile())) {
                if (zip.getEntry("com/fasterxml/jackson/databind/ObjectMapper.class") != null) objectMappers++;
            }
            if (jar.getFileName().toString().equals("infercl-" + version + ".jar")) infercl = jar;
        }
        assertEquals(1, objectMappers, "jars with ObjectMapper in " + classPath);
        assertTrue(infercl != null, "no infercl-" + version + ".jar in " + classPath);
        try (var zip = new ZipFile(infercl.toFile())) {
            var foreign = zip.stream().map(e -> e.getName())
                    .filter(n -> !n.startsWith("dev/infercl/") && !n.startsWith("opencl-kernels/") && !n.startsWith("META-INF/")
                            && !n.equals("dev/"))
                    .toList();
            assertEquals(List.of(), foreign, "entries of " + infercl + " that are not InferCL's");
            assertTrue(zip.getEntry("org/jocl/CL.class") == null && zip.getEntry("com/hubspot/jinjava/Jinjava.class") == null);
        }
    }

    /** The consumer prints "text<<…>>": greedy decoding of the prompt must begin the reference's greedy text. */
    static void assertFollowsReference(String output, String reference) {
        Matcher m = Pattern.compile("text<<(.*)>>", Pattern.DOTALL).matcher(output);
        assertTrue(m.find(), output);
        String text = m.group(1);
        assertTrue(text.length() > 10 && reference.startsWith(text), "generated '" + text + "', reference '" + reference + "'");
    }

    record Result(int code, String output) {}

    private Result java(String cp, String flags, List<String> args, Map<String, String> env) throws Exception {
        var cmd = new ArrayList<String>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of(flags.split(" ")));
        cmd.addAll(List.of("-cp", cp, "com.example.Main"));
        cmd.addAll(args);
        return run(dir, 300, cmd, env);
    }

    static Result run(Path dir, int seconds, List<String> cmd, Map<String, String> env) throws Exception {
        var pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().remove("LD_PRELOAD"); // only what a test asks for
        pb.environment().remove("MAVEN_OPTS");
        pb.environment().putAll(env);
        Path log = dir.resolve("process-" + System.nanoTime() + ".log");
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Result(-1, String.join(" ", cmd) + " ran longer than " + seconds + " s\n" + Files.readString(log));
        }
        return new Result(p.exitValue(), String.join(" ", cmd) + "\n" + Files.readString(log, StandardCharsets.UTF_8));
    }

    /** The project's version, from its pom (the first version after InferCL's artifactId). */
    static String projectVersion() throws IOException {
        String pom = Files.readString(Path.of(System.getProperty("user.dir"), "pom.xml"));
        Matcher m = Pattern.compile("<artifactId>infercl</artifactId>\\s*<version>([^<]+)</version>").matcher(pom);
        assertTrue(m.find(), "no version in pom.xml");
        return m.group(1);
    }

    static final String DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1";

    /** The consumer projects' build section: the plugin versions pinned, as InferCL's own pom does. */
    static final String PINNED_BUILD = """
            <build>
              <plugins>
                <plugin>
                  <groupId>org.apache.maven.plugins</groupId>
                  <artifactId>maven-compiler-plugin</artifactId>
                  <version>3.14.0</version>
                </plugin>
                <plugin>
                  <groupId>org.apache.maven.plugins</groupId>
                  <artifactId>maven-surefire-plugin</artifactId>
                  <version>3.5.4</version>
                </plugin>
                <plugin>
                  <groupId>org.apache.maven.plugins</groupId>
                  <artifactId>maven-jar-plugin</artifactId>
                  <version>3.4.2</version>
                </plugin>
              </plugins>
            </build>""";

    static String pom(String version) {
        return """
                <?xml version="1.0" encoding="UTF-8"?>
                <project xmlns="http://maven.apache.org/POM/4.0.0">
                  <modelVersion>4.0.0</modelVersion>
                  <groupId>com.example</groupId>
                  <artifactId>consumer</artifactId>
                  <version>1</version>
                  <properties>
                    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
                    <maven.compiler.release>25</maven.compiler.release>
                  </properties>
                  <dependencies>
                    <dependency>
                      <groupId>dev.infercl</groupId>
                      <artifactId>infercl</artifactId>
                      <version>%s</version>
                    </dependency>
                  </dependencies>
                  %2$s
                </project>
                """.formatted(version, PINNED_BUILD);
    }

    static final String MAIN = """
            package com.example;

            import dev.infercl.api.BackendKind;
            import dev.infercl.api.GenerateOptions;
            import dev.infercl.api.LoadOptions;
            import dev.infercl.api.Model;
            import dev.infercl.api.Session;
            import java.nio.file.Path;

            public class Main {
                public static void main(String[] args) throws Exception {
                    var options = LoadOptions.defaults().withBackend(BackendKind.valueOf(args[1]));
                    try (Model model = Model.load(Path.of(args[0]), options); Session session = model.newSession()) {
                        var text = new StringBuilder();
                        session.generate("Once upon a time", GenerateOptions.greedy(Integer.parseInt(args[2])),
                                (id, piece) -> text.append(piece));
                        System.out.println("backend: " + model.backendName());
                        System.out.println("text<<" + text + ">>");
                    }
                }
            }
            """;
}
