import Foundation
import Testing
import SiftTestSupport
@testable import SiftPipeline

/// Parses `yaml` as if it were a file in /repo/Pipelines, with the current directory /work/cwd.
private func parse(_ yaml: String, overrides: [String] = [], environment: [String: String] = ["HOME": "/home/u"]) throws -> PipelineConfig {
    try PipelineConfig.parse(yaml: yaml, file: "test.yaml", baseDirectory: URL(fileURLWithPath: "/repo/Pipelines"),
                             defaultName: "test", overrides: overrides.map(PipelineOverride.init),
                             environment: environment, workingDirectory: URL(fileURLWithPath: "/work/cwd"))
}

/// The problems `parse` reports; fails the test when the YAML is accepted.
private func problems(_ yaml: String, overrides: [String] = [], environment: [String: String] = ["HOME": "/home/u"]) -> [ConfigProblem] {
    do {
        _ = try parse(yaml, overrides: overrides, environment: environment)
        Issue.record("expected the pipeline to be rejected")
        return []
    } catch PipelineError.invalid(let problems) {
        return problems
    } catch {
        Issue.record("unexpected error \(error)")
        return []
    }
}

private let minimal = """
source: { root: ../Corpora/handbook }
embedder: { model: ../Models/all-MiniLM-L6-v2 }
"""

@Suite struct PipelineConfigTests {
    @Test func fullFileDecodesEveryField() throws {
        let config = try parse("""
        name: python-docs
        source: { root: /usr/share/doc/python3.11/html, include: ["**/*.html"], exclude: ["genindex*.html", "_static/**"] }
        reader: { preset: sphinx, drop: [".sphinxsidebar", footer] }
        chunker: { max_tokens: 180, overlap_tokens: 20, heading_prefix: false, min_tokens: 4, split_on_anchor: true }
        embedder: { type: bi-encoder, model: ../Models/all-MiniLM-L6-v2, batch_size: 8 }
        index: { path: ../.sift/python-docs }
        retriever: { top_k: 50, bm25: true, fusion: weighted, rrf_k: 30, dense_weight: 0.7 }
        reranker: { model: ../Models/ms-marco-MiniLM-L-6-v2, top_k: 20, max_tokens: 256, truncation: longest_first }
        answers: { top_k: 3, highlight: false }
        """)
        #expect(config.name == "python-docs")
        #expect(config.source.root.path == "/usr/share/doc/python3.11/html")
        #expect(config.source.include == ["**/*.html"])
        #expect(config.source.exclude == ["genindex*.html", "_static/**"])
        #expect(config.reader == ReaderConfig(preset: "sphinx", drop: [".sphinxsidebar", "footer"]))
        #expect(config.chunker == ChunkerConfig(maxTokens: 180, overlapTokens: 20, headingPrefix: false, minTokens: 4,
                                                splitOnAnchor: true))
        #expect(config.embedder.model.path == "/repo/Models/all-MiniLM-L6-v2")
        #expect(config.embedder.batchSize == 8)
        #expect(config.index.path.path == "/repo/.sift/python-docs")
        #expect(config.retriever == RetrieverConfig(topK: 50, dense: true, bm25: true, fusion: .weighted, rrfK: 30, denseWeight: 0.7))
        #expect(config.reranker == RerankerConfig(model: URL(fileURLWithPath: "/repo/Models/ms-marco-MiniLM-L-6-v2"),
                                                  topK: 20, maxTokens: 256, truncation: .longestFirst))
        #expect(config.answers == AnswersConfig(topK: 3, highlight: false))
    }

    @Test func defaultsFillOmittedSections() throws {
        let config = try parse(minimal)
        #expect(config.name == "test")
        #expect(config.reranker == nil)
        #expect(config.retriever == RetrieverConfig())
        #expect(config.chunker == ChunkerConfig())
        #expect(config.source.include == SourceConfig.defaultInclude)
        #expect(config.index.path.path == "/repo/Pipelines/.sift/test")
    }

    @Test func unknownKeySuggestsTheIntendedKey() {
        let found = problems(minimal + "\nretriever: { topk: 10 }")
        #expect(found.count == 1)
        #expect(found.first?.path == "retriever.topk")
        #expect(found.first?.line == 3)
        #expect(found.first?.message.contains("did you mean 'top_k'?") == true)

        let topLevel = problems(minimal + "\nreranekr: none")
        #expect(topLevel.first?.description == "reranekr: unknown key; did you mean 'reranker'? (line 3)")
    }

    @Test func everyProblemIsReportedAtOnceWithPathAndLine() {
        let found = problems("""
        source:
          root: ../Corpora/handbook
          inclde: ["*.html"]
        embedder:
          model: ../Models/all-MiniLM-L6-v2
        retriever:
          top_k: ten
          fusion: rff
        answers:
          highlight: maybe
        """)
        #expect(found.map(\.path) == ["source.inclde", "retriever.top_k", "retriever.fusion", "answers.highlight"])
        #expect(found.map(\.line) == [3, 7, 8, 10])
        #expect(found[1].description == "retriever.top_k: expected an integer, got 'ten' (line 7)")
        #expect(found[2].message.contains("did you mean 'rrf'?"))
        #expect(found[3].message == "expected true or false, got 'maybe'")
    }

    @Test func wrongTypesAndMissingSectionsAreReported() {
        let found = problems("""
        name: docs
        reader: { drop: { a: b } }
        chunker: { max_tokens: 1.5, overlap_tokens: -1 }
        retriever: { top_k: '10', dense_weight: 2 }
        """)
        let byPath = Dictionary(found.map { ($0.path, $0.message) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["source"]?.hasPrefix("required") == true)
        #expect(byPath["embedder"]?.hasPrefix("required") == true)
        #expect(byPath["reader.drop"] == "expected a list of strings, got a mapping")
        #expect(byPath["chunker.max_tokens"] == "expected an integer, got '1.5'")
        #expect(byPath["chunker.overlap_tokens"] == "must be at least 0, got -1")
        // A quoted number is text, not an integer.
        #expect(byPath["retriever.top_k"] == "expected an integer, got '10'")
        #expect(byPath["retriever.dense_weight"]?.contains("between 0.0 and 1.0") == true)
    }

    @Test func stageTypesComeFromAClosedRegistry() throws {
        #expect(try parse(minimal + "\nreranker: none").reranker == nil)
        #expect(try parse(minimal + "\nreranker: { type: none }").reranker == nil)
        #expect(problems(minimal + "\nreranker: bm25").first?.path == "reranker")
        let embedder = problems("source: { root: x }\nembedder: { type: colbert, model: m }")
        #expect(embedder.first?.message.hasPrefix("unknown embedder type 'colbert'; expected one of bi-encoder") == true)
        let preset = problems(minimal + "\nreader: { preset: sphnix }")
        #expect(preset.first?.message.contains("did you mean 'sphinx'?") == true)
        let crossEncoderWithoutModel = problems(minimal + "\nreranker: { top_k: 10 }")
        #expect(crossEncoderWithoutModel.first?.path == "reranker.model")
        #expect(problems(minimal + "\nretriever: { fusion: none }").first?.path == "retriever.fusion")
        #expect(problems(minimal + "\nretriever: { dense: false, bm25: false }").first?.path == "retriever")
        #expect(try parse(minimal + "\nretriever: { bm25: false, fusion: none }").retriever.bm25 == false)
    }

    /// Embedders default to bf16 (speed, cosine ≥ 0.9999), re-rankers to fp32 (logit parity).
    @Test func modelPrecisionIsAClosedSetWithPerStageDefaults() throws {
        let defaults = try parse(minimal + "\nreranker: { model: m }")
        #expect(defaults.embedder.precision == .bf16)
        #expect(defaults.reranker?.precision == .fp32)
        #expect(try parse(minimal, overrides: ["embedder.precision=fp32"]).embedder.precision == .fp32)
        let bf16 = try parse("""
        source: { root: ../Corpora/handbook }
        embedder: { model: ../Models/all-MiniLM-L6-v2, precision: bf16 }
        reranker: { model: m, precision: bf16 }
        """)
        #expect(bf16.embedder.precision == .bf16)
        #expect(bf16.reranker?.precision == .bf16)
        #expect(try parse(minimal, overrides: ["embedder.precision=bf16"]).embedder.precision == .bf16)
        #expect(try parse(minimal, overrides: ["embedder.precision=int8"]).embedder.precision == .int8)

        let typo = problems("source: { root: x }\nembedder: { model: m, precision: bf61 }\nreranker: { model: m, precision: fp23 }")
        #expect(typo.map(\.path) == ["embedder.precision", "reranker.precision"])
        #expect(typo.map(\.line) == [2, 3])
        #expect(typo.first?.message == "unknown precision 'bf61'; expected one of fp32, bf16, int8; did you mean 'bf16'?")
        #expect(typo.last?.message.contains("did you mean 'fp32'?") == true)
        let misspeltKey = problems(minimal + "\nreranker: { model: m, precission: bf16 }")
        #expect(misspeltKey.first?.message.contains("did you mean 'precision'?") == true)
    }

    @Test func crossStageLimitsAreChecked() {
        let found = problems(minimal + "\nretriever: { top_k: 10 }\nreranker: { model: m, top_k: 20 }\nanswers: { top_k: 30 }")
        #expect(found.map(\.path) == ["reranker.top_k", "answers.top_k"])
    }

    @Test func overridesApplyAndAreValidatedTheSameWay() throws {
        let config = try parse(minimal, overrides: ["retriever.top_k=50", "retriever.bm25=false", "reranker.model=models/ce",
                                                    "index.path=idx", "answers.top_k=2"])
        #expect(config.retriever.topK == 50)
        #expect(config.retriever.bm25 == false)
        // Override paths are command-line paths: relative to the current directory.
        #expect(config.reranker?.model.path == "/work/cwd/models/ce")
        #expect(config.index.path.path == "/work/cwd/idx")
        #expect(try parse(minimal + "\nreranker: { model: m }", overrides: ["reranker=none"]).reranker == nil)

        #expect(try parse(minimal, overrides: ["chunker.split_on_anchor=true"]).chunker.splitOnAnchor)
        #expect(problems(minimal, overrides: ["chunker.split_on_anchors=true"]).first?.description
            == "chunker.split_on_anchors: unknown key; did you mean 'split_on_anchor'?")
        #expect(problems(minimal, overrides: ["chunker.split_on_anchor=maybe"]).first?.message
            == "expected true or false, got 'maybe'")
        let typo = problems(minimal, overrides: ["retriever.top_kk=5"])
        #expect(typo.first?.description == "retriever.top_kk: unknown key; did you mean 'top_k'?")
        #expect(problems(minimal, overrides: ["retriever.top_k=ten"]).first?.message == "expected an integer, got 'ten'")
        #expect(throws: PipelineError.self) { try PipelineOverride("retriever.top_k") }
        #expect(throws: PipelineError.self) { try PipelineOverride("retriever..top_k=1") }
    }

    @Test func relativePathsResolveAgainstThePipelineFolder() throws {
        let config = try parse("""
        source: { root: ../Corpora/handbook }
        embedder: { model: ~/models/minilm }
        index: { path: "${SIFT_HOME}/.sift/handbook" }
        """, environment: ["HOME": "/home/u", "SIFT_HOME": "/srv/sift"])
        #expect(config.source.root.path == "/repo/Corpora/handbook")
        #expect(config.embedder.model.path == "/home/u/models/minilm")
        #expect(config.index.path.path == "/srv/sift/.sift/handbook")
        let unset = problems("source: { root: $NOPE/x }\nembedder: { model: m }", environment: [:])
        #expect(unset.first?.message.contains("environment variable NOPE is not set") == true)
    }

    @Test func yamlSyntaxErrorsCarryTheLine() {
        #expect {
            try parse("source: { root: x\nembedder: [")
        } throws: { error in
            guard case let PipelineError.yamlSyntax(_, line, _) = error else { return false }
            return line != nil
        }
    }

    @Test func duplicateKeysAreReported() {
        let found = problems(minimal + "\nanswers: { top_k: 1 }\nanswers: { top_k: 2 }")
        #expect(found.first?.path == "answers")
        #expect(found.first?.line == 4)
    }

    @Test func suggestionsUseEditDistance() {
        #expect(Suggestion.editDistance("topk", "top_k") == 1)
        #expect(Suggestion.editDistance("rrf", "rff") == 1)
        #expect(Suggestion.editDistance("fusoin", "fusion") == 1)
        #expect(Suggestion.closest(to: "xyz", among: ["top_k", "bm25"]) == nil)
    }

    /// Every shipped pipeline loads (the folder is enumerated, so new files are covered automatically).
    @Test func everyShippedPipelineLoads() throws {
        let folder = TestPaths.repositoryRoot.appendingPathComponent("Pipelines")
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { ["yaml", "yml"].contains($0.pathExtension) }
            .sorted { $0.path < $1.path }
        #expect(files.count >= 5)
        let root = ConfigValidator.lexicallyNormalized(TestPaths.repositoryRoot.path)
        for file in files {
            let config = try PipelineConfig.load(contentsOf: file)
            #expect(config.name == file.deletingPathExtension().lastPathComponent, "\(file.lastPathComponent)")
            // Repository-relative paths stay inside the repository.
            #expect(config.embedder.model.path.hasPrefix(root), "\(file.lastPathComponent)")
            if config.index.type == "local" {
                #expect(config.index.path.path.hasPrefix(root + "/.sift/"), "\(file.lastPathComponent)")
            } else {
                // The -postgres pipelines: one server, with the built settings every store type check accepts.
                #expect(config.index.type == "postgres", "\(file.lastPathComponent)")
                #expect(try StageRegistry.makeStoreBackend(config.index).location.hasPrefix("postgres "), "\(file.lastPathComponent)")
            }
            // The reader accepts its drop/keep rules (XPath and selectors are compiled here).
            _ = try PipelineRunner(config: config)
            if let labels = config.eval?.labels {
                #expect(FileManager.default.fileExists(atPath: labels.path), "\(file.lastPathComponent): \(labels.path)")
            }
        }
    }
}
