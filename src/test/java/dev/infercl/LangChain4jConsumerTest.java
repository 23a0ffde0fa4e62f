package dev.infercl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * InferCL for LangChain4j as a library: a scratch Maven project that depends on dev.infercl:infercl and
 * dev.infercl:infercl-langchain4j (and LangChain4j's AiServices), built against the artifacts installed in the local
 * repository that {@code -Dinfercl.test.consumerRepo=DIR} names (.ci/run installs the root there, then
 * {@code mvn -f langchain4j/pom.xml install}), runs the README's AiServices example on test-models/stories260K.gguf
 * in a JVM started with the README's flags. Skips, saying why, when infercl-langchain4j is not installed there.
 *
 * <p>Checks: the module's version is the root's; the dependency tree holds each library once (as
 * {@link ConsumerProjectTest#checkTree} has it, plus both InferCL artifacts and langchain4j-core) with one Jackson
 * version; the AiService's reply is the text InferCL's own {@code Chat} gives for the same greedy request, and the
 * EmbeddingModel's vector is {@code Model.embed}'s (to float rounding).
 */
@EnabledIfSystemProperty(named = "infercl.test.consumerRepo", matches = ".+")
class LangChain4jConsumerTest {

    @TempDir
    Path dir;

    @Test
    void aiServicesRunThroughBothInstalledArtifacts() throws Exception {
        Path repo = Path.of(System.getProperty("infercl.test.consumerRepo"));
        String version = ConsumerProjectTest.projectVersion();
        String moduleVersion = moduleVersion();
        assertEquals(version, moduleVersion, "langchain4j/pom.xml's version must be the root's");
        for (String artifact : List.of("infercl", "infercl-langchain4j")) {
            Path jar = repo.resolve("dev/infercl/" + artifact + "/" + version + "/" + artifact + "-" + version + ".jar");
            Assumptions.assumeTrue(Files.exists(jar), "skipped: " + jar + " is not installed; run mvn -DskipTests install, then "
                    + "mvn -f langchain4j/pom.xml install, with -Dmaven.repo.local=" + repo + " (as .ci/run does)");
        }
        Files.writeString(dir.resolve("pom.xml"), pom(version));
        Path main = dir.resolve("src/main/java/com/example/Main.java");
        Files.createDirectories(main.getParent());
        Files.writeString(main, MAIN);

        String plugin = ConsumerProjectTest.DEPENDENCY_PLUGIN;
        var build = ConsumerProjectTest.run(dir, 600, List.of("mvn", "-B", "-ntp", "-q", "-Dmaven.repo.local=" + repo, "-DskipTests",
                "package", plugin + ":build-classpath", plugin + ":tree",
                "-Dmdep.outputFile=" + dir.resolve("cp.txt"), "-DoutputFile=" + dir.resolve("tree.txt")), Map.of());
        assertEquals(0, build.code(), build.output());

        List<String> tree = Files.readAllLines(dir.resolve("tree.txt"));
        ConsumerProjectTest.checkTree(tree);
        String all = String.join("\n", tree);
        for (String needed : List.of("dev.infercl:infercl-langchain4j:jar:" + version, "dev.infercl:infercl:jar:" + version,
                "dev.langchain4j:langchain4j-core:jar:", "dev.langchain4j:langchain4j:jar:")) {
            assertTrue(all.contains(needed), needed + " missing:\n" + all);
        }
        assertEquals(1, jacksonVersions(tree).size(), "one Jackson version for databind, core and annotations: " + jacksonVersions(tree) + "\n" + all);

        String cp = dir.resolve("target/classes") + java.io.File.pathSeparator + Files.readString(dir.resolve("cp.txt")).trim();
        var cmd = new ArrayList<String>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of(ConsumerProjectTest.FLAGS.split(" ")));
        cmd.addAll(List.of("-cp", cp, "com.example.Main", Stories.MODEL.toString()));
        var run = ConsumerProjectTest.run(dir, 300, cmd, Map.of());
        assertEquals(0, run.code(), run.output());

        String reply = between(run.output(), "assistant<<", ">>");
        String chat = between(run.output(), "chat<<", ">>");
        assertTrue(reply.length() > 10, run.output());
        assertEquals(chat, reply, "the AiService's reply is InferCL's Chat reply:\n" + run.output());
        assertTrue(run.output().contains("embedding: equal"), run.output());
        System.out.println("langchain4j consumer: " + tree.size() + " lines of dependency tree, each library once; assistant<<" + reply + ">>");
    }

    /** The versions of jackson-databind, -core and -annotations in the tree, by minor version. */
    static Map<String, String> jacksonVersions(List<String> tree) {
        Map<String, String> minors = new HashMap<>();
        Pattern p = Pattern.compile("com\\.fasterxml\\.jackson\\.core:(jackson-databind|jackson-core|jackson-annotations):jar:(\\d+\\.\\d+)");
        for (String line : tree) {
            Matcher m = p.matcher(line);
            if (m.find()) minors.merge(m.group(2), m.group(1), (a, b) -> a + "," + b);
        }
        return minors;
    }

    private static String between(String s, String open, String close) {
        Matcher m = Pattern.compile(Pattern.quote(open) + "(.*?)" + Pattern.quote(close), Pattern.DOTALL).matcher(s);
        assertTrue(m.find(), "no " + open + " in:\n" + s);
        return m.group(1);
    }

    /** infercl-langchain4j's version, from langchain4j/pom.xml. */
    static String moduleVersion() throws java.io.IOException {
        String pom = Files.readString(Path.of(System.getProperty("user.dir"), "langchain4j", "pom.xml"));
        Matcher m = Pattern.compile("<artifactId>infercl-langchain4j</artifactId>\\s*(?:<!--.*?-->\\s*)?<version>([^<]+)</version>", Pattern.DOTALL).matcher(pom);
        assertTrue(m.find(), "no version in langchain4j/pom.xml");
        return m.group(1);
    }

    static String pom(String version) {
        return """
                <?xml version="1.0" encoding="UTF-8"?>
                <project xmlns="http://maven.apache.org/POM/4.0.0">
                  <modelVersion>4.0.0</modelVersion>
                  <groupId>com.example</groupId>
                  <artifactId>langchain4j-consumer</artifactId>
                  <version>1</version>
                  <properties>
                    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
                    <maven.compiler.release>25</maven.compiler.release>
                  </properties>
                  <dependencies>
                    <dependency>
                      <groupId>dev.infercl</groupId>
                      <artifactId>infercl-langchain4j</artifactId>
                      <version>%1$s</version>
                    </dependency>
                    <dependency>
                      <groupId>dev.infercl</groupId>
                      <artifactId>infercl</artifactId>
                      <version>%1$s</version>
                    </dependency>
                    <dependency>
                      <groupId>dev.langchain4j</groupId>
                      <artifactId>langchain4j</artifactId>
                      <version>1.19.0</version>
                    </dependency>
                  </dependencies>
                  %2$s
                </project>
                """.formatted(version, ConsumerProjectTest.PINNED_BUILD);
    }

    /** The README's example, plus InferCL's own Chat and Model.embed to compare with. */
    static final String MAIN = """
            package com.example;

            import dev.infercl.api.BackendKind;
            import dev.infercl.api.Chat;
            import dev.infercl.api.GenerateOptions;
            import dev.infercl.api.Pooling;
            import dev.infercl.api.Session;
            import dev.infercl.langchain4j.InferClChatModel;
            import dev.infercl.langchain4j.InferClEmbeddingModel;
            import dev.langchain4j.service.AiServices;

            public class Main {
                interface Assistant {
                    String chat(String msg);
                }

                public static void main(String[] args) throws Exception {
                    try (var model = InferClChatModel.builder().modelPath(args[0]).backend(BackendKind.CPU)
                            .temperature(0.0).maxTokens(32).build()) {
                        Assistant assistant = AiServices.create(Assistant.class, model);
                        System.out.println("assistant<<" + assistant.chat("Once upon a time") + ">>");

                        // the same request through InferCL's own API, on the model the chat model loaded
                        var m = model.model();
                        try (Session session = m.newSession()) {
                            var chat = new Chat(m, session, m.chatTemplate(null), null, false);
                            chat.send("Once upon a time", GenerateOptions.greedy(32), null);
                            System.out.println("chat<<" + chat.messages().getLast().content() + ">>");
                        }
                        try (var embeddings = InferClEmbeddingModel.builder().model(m).build()) {
                            float[] a = embeddings.embed("a cat").content().vector(), b = m.embed("a cat", Pooling.MEAN);
                            double worst = 0;
                            for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
                            System.out.println("embedding: " + (a.length == b.length && worst < 1e-6 ? "equal" : "differs by " + worst));
                        }
                    }
                }
            }
            """;
}
