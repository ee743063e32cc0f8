// swift-tools-version:6.0
// Sift: retrieve-and-re-rank question answering in Swift.
// Module graph (dependencies point down): see docs/ARCHITECTURE.md.
import PackageDescription

let package = Package(
    name: "Sift",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sift", targets: ["sift"]),
        // The library for other packages: `import SiftPipeline` (index and ask through a pipeline), `SiftModels`
        // (BiEncoder, CrossEncoder), `SiftIndex` (SentenceTransformersUtil, the index) and `SiftCore` (the shared
        // types). Examples/SiftLibraryExample uses it as another package would.
        .library(name: "Sift", targets: ["SiftCore", "SiftModels", "SiftIndex", "SiftCluster", "SiftPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // `sift serve`: the HTTP server, graceful shutdown on signals, and Prometheus metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // C libraries, through pkg-config; apt names the Debian packages that provide them.
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // Core value types and stage protocols; depends on nothing.
        .target(name: "SiftCore"),

        // Stages.
        .target(name: "SiftReader", dependencies: ["SiftCore", "CLibXML2"]),
        .target(name: "SiftChunker", dependencies: ["SiftCore"]),
        .target(name: "SiftTokenizer", dependencies: ["SiftCore"]),
        // Hand-written AVX-512/AVX2 micro-kernels for the hot GEMM shapes, chosen at run time; tested against the Swift reference.
        // Built at SwiftPM's release level (-O2): no unsafeFlags, which would stop other packages depending on Sift.
        .target(name: "SiftKernelsC"),
        .target(name: "SiftKernels", dependencies: ["COpenBLAS", "SiftKernelsC"]),
        .target(name: "SiftModels", dependencies: ["SiftCore", "SiftKernels", "SiftTokenizer"]),
        .target(name: "SiftIndex", dependencies: [
            "SiftCore", "SiftKernels",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // The PostgreSQL + pgvector collection store (shards, read replicas), through libpq; only it imports CLibPQ.
        .target(name: "SiftPostgres", dependencies: ["SiftCore", "CLibPQ"]),
        // Clustering (k-means, agglomerative), c-TF-IDF topic keywords, PCA and the adjusted Rand index, on plain
        // vectors; the assignment step runs on the packed GEMM kernels.
        .target(name: "SiftCluster", dependencies: ["SiftCore", "SiftKernels"]),
        // Training: fp32 forward/backward of BERT bi-encoders (MNRL) and cross-encoders (BCE) on packed sequences, AdamW,
        // training data and the trainer; Double reference passes are the ground truth its kernels are tested against.
        // Matrix products go through SiftKernels' Gemm (only the kernels import BLAS).
        .target(name: "SiftTraining", dependencies: ["SiftCore", "SiftKernels", "SiftModels"]),
        // Metrics and label/BEIR readers on plain values: imports nothing of Sift.
        .target(name: "SiftEval"),

        // Composition: pipeline files, stage registry, runner.
        .target(name: "SiftPipeline", dependencies: [
            "SiftCore", "SiftReader", "SiftChunker", "SiftTokenizer", "SiftKernels", "SiftModels", "SiftIndex", "SiftPostgres", "SiftEval", "SiftCluster",
            "SiftTraining",
            .product(name: "Yams", package: "Yams"),
        ]),

        // `sift serve`: the HTTP API, micro-batching, metrics and the question page, over a PipelineRunner.
        .target(name: "SiftServer", dependencies: [
            "SiftCore", "SiftPipeline",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // The command-line tool.
        .executableTarget(name: "sift", dependencies: [
            "SiftPipeline", "SiftCluster", "SiftServer", "SiftTraining",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Benchmarks (not tests): `swift run -c release sift-bench --help`; Benchmarks/run compares against sentence-transformers.
        .executableTarget(name: "sift-bench", dependencies: [
            "SiftCore", "SiftReader", "SiftKernels", "SiftModels", "SiftIndex", "SiftPostgres", "SiftCluster", "SiftPipeline", "SiftTraining",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Benchmarks/SiftBench"),

        // Shared test helpers (fixture and model locations); used by tests only.
        .target(name: "SiftTestSupport", dependencies: ["SiftCore"], path: "Tests/SiftTestSupport"),

        // Each test target declares exactly the modules its files import.
        .testTarget(name: "SiftCoreTests", dependencies: ["SiftCore"]),
        .testTarget(name: "SiftReaderTests", dependencies: ["SiftCore", "SiftReader", "SiftTestSupport"]),
        .testTarget(name: "SiftChunkerTests", dependencies: ["SiftCore", "SiftChunker", "SiftTokenizer", "SiftTestSupport"]),
        .testTarget(name: "SiftTokenizerTests", dependencies: ["SiftTokenizer", "SiftTestSupport"]),
        .testTarget(name: "SiftKernelsTests", dependencies: ["SiftKernelsC", "SiftKernels"]),
        .testTarget(name: "SiftModelsTests", dependencies: ["SiftCore", "SiftTokenizer", "SiftKernels", "SiftModels", "SiftTestSupport"]),
        .testTarget(name: "SiftIndexTests", dependencies: ["SiftCore", "SiftModels", "SiftIndex", "SiftTestSupport"]),
        // Against real PostgreSQL servers (Scripts/test starts them and sets SIFT_TEST_POSTGRES_PORTS).
        .testTarget(name: "SiftPostgresTests", dependencies: ["SiftCore", "SiftIndex", "SiftPostgres", "SiftTestSupport"]),
        .testTarget(name: "SiftClusterTests", dependencies: ["SiftCluster", "SiftKernels", "SiftIndex", "SiftTestSupport"]),
        .testTarget(name: "SiftTrainingTests", dependencies: ["SiftTraining", "SiftCore", "SiftModels", "SiftTestSupport"]),
        .testTarget(name: "SiftEvalTests", dependencies: ["SiftEval", "SiftIndex", "SiftModels", "SiftTestSupport"]),
        .testTarget(name: "SiftPipelineTests", dependencies: ["SiftCore", "SiftReader", "SiftPipeline", "SiftTestSupport"]),
        .testTarget(name: "SiftCLITests", dependencies: ["SiftTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
