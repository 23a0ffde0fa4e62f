package dev.infercl.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.GeneralCodingRules.ACCESS_STANDARD_STREAMS;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * DESIGN.md's structure, checked on the compiled main classes: the packages form layers (a file format at the bottom,
 * the CLI on top, each layer using only those below it), the backend interface knows no implementation and the
 * model code no backend implementation, the OpenCL bindings stay inside the OpenCL backend and the Vector API inside
 * the CPU backend, and only the CLI writes to the console.
 */
@AnalyzeClasses(packages = "dev.infercl", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    @ArchTest
    static final ArchRule layers = layeredArchitecture().consideringOnlyDependenciesInLayers()
            .layer("gguf").definedBy("dev.infercl.gguf..")
            .layer("tensor").definedBy("dev.infercl.tensor..")
            .layer("tokenizer").definedBy("dev.infercl.tokenizer..")
            .layer("backend interface").definedBy("dev.infercl.backend")
            .layer("backend implementations").definedBy("dev.infercl.backend.cpu..", "dev.infercl.backend.opencl..")
            .layer("model").definedBy("dev.infercl.model..")
            .layer("engine").definedBy("dev.infercl.engine..")
            .layer("api").definedBy("dev.infercl.api..")
            .layer("quant").definedBy("dev.infercl.quant..")
            .layer("hub").definedBy("dev.infercl.hub..")
            .layer("server").definedBy("dev.infercl.server..")
            .layer("cli").definedBy("dev.infercl.cli..")
            .whereLayer("cli").mayNotBeAccessedByAnyLayer()
            .whereLayer("quant").mayOnlyBeAccessedByLayers("cli")
            .whereLayer("hub").mayOnlyBeAccessedByLayers("cli")
            .whereLayer("server").mayOnlyBeAccessedByLayers("cli")
            .whereLayer("api").mayOnlyBeAccessedByLayers("quant", "server", "cli")
            .whereLayer("engine").mayOnlyBeAccessedByLayers("api", "quant", "server", "cli")
            .whereLayer("model").mayOnlyBeAccessedByLayers("engine", "api", "quant", "cli")   // the scheduler drives the forward pass
            .whereLayer("backend implementations").mayOnlyBeAccessedByLayers("api", "quant", "cli")
            .whereLayer("backend interface").mayOnlyBeAccessedByLayers("backend implementations", "model", "engine", "api", "quant", "cli")
            .whereLayer("tokenizer").mayOnlyBeAccessedByLayers("model", "api", "quant", "server", "cli")
            .whereLayer("tensor").mayOnlyBeAccessedByLayers("backend implementations", "model", "api", "quant", "cli");

    @ArchTest
    static final ArchRule noPackageCycles = slices().matching("dev.infercl.(**)").should().beFreeOfCycles();

    @ArchTest
    static final ArchRule backendsDoNotKnowEachOther = noClasses().that().resideInAPackage("dev.infercl.backend.cpu..")
            .should().dependOnClassesThat().resideInAPackage("dev.infercl.backend.opencl..")
            .andShould().dependOnClassesThat().resideInAPackage("dev.infercl.backend.opencl..");

    @ArchTest
    static final ArchRule openClBindingsOnlyInsideTheOpenClBackend = noClasses().that().resideOutsideOfPackage("dev.infercl.backend.opencl..")
            .should().dependOnClassesThat().resideInAnyPackage("org.jocl..", "org.lwjgl..");

    @ArchTest
    static final ArchRule vectorApiOnlyInsideTheCpuBackend = noClasses().that().resideOutsideOfPackage("dev.infercl.backend.cpu..")
            .should().dependOnClassesThat().resideInAPackage("jdk.incubator.vector..");

    @ArchTest
    static final ArchRule consoleOutputOnlyInsideCli = noClasses().that().resideOutsideOfPackage("dev.infercl.cli..")
            .should(ACCESS_STANDARD_STREAMS);
}
