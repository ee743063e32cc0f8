import Foundation
import Testing
import SiftCore
import SiftReader
import SiftTestSupport
@testable import SiftPipeline

private func parse(_ yaml: String) throws -> PipelineConfig {
    try PipelineConfig.parse(yaml: yaml, file: "test.yaml", baseDirectory: URL(fileURLWithPath: "/repo/Pipelines"),
                             defaultName: "test", environment: ["HOME": "/home/u"], workingDirectory: URL(fileURLWithPath: "/work/cwd"))
}

private func problems(_ yaml: String) -> [ConfigProblem] {
    do {
        _ = try parse(yaml)
        Issue.record("expected the pipeline to be rejected")
    } catch PipelineError.invalid(let problems) {
        return problems
    } catch {
        Issue.record("unexpected error \(error)")
    }
    return []
}

private let minimal = "source: { root: docs }\nembedder: { model: m }"

/// An embedder that is not a model: shows what a second embedder type takes.
private struct CountingEmbedder: TextEmbedder {
    let dimension: Int
    var modelIdentity: String { "counting-\(dimension)" }
    func embed(_ texts: [String]) throws -> [[Float]] { texts.map { _ in [Float](repeating: 1, count: dimension) } }
}

@Suite struct StageRegistryTests {
    @Test func theTypeIsKeptSoTheRegistryCanBuildTheStage() throws {
        let config = try parse(minimal + "\nreranker: { model: ce }")
        #expect(config.embedder.type == "bi-encoder")
        #expect(config.reranker?.type == "cross-encoder")
        #expect(try parse(minimal + "\nreranker: { type: cross-encoder, model: ce }").reranker?.type == "cross-encoder")
        #expect(StageRegistry.embedderTypes == ["bi-encoder"])
        #expect(StageRegistry.rerankerTypes == ["cross-encoder", "none"])
    }

    @Test func anUnknownTypeNameListsTheChoicesAndSuggestsOne() {
        let embedder = problems("source: { root: docs }\nembedder: { type: bi-encodr, model: m }")
        #expect(embedder.map(\.description) == [
            "embedder.type: unknown embedder type 'bi-encodr'; expected one of bi-encoder; did you mean 'bi-encoder'? (line 2)",
        ])
        let reranker = problems(minimal + "\nreranker: { type: cross_encoder, model: ce }")
        #expect(reranker.map(\.description) == [
            "reranker.type: unknown reranker type 'cross_encoder'; expected one of cross-encoder, none; did you mean 'cross-encoder'? (line 3)",
        ])
        #expect(problems(minimal + "\nreranker: nothing").first?.message
            == "unknown reranker (use none, or a mapping with model:) 'nothing'; expected one of none")
    }

    /// `type: none` switches re-ranking off and leaves the block's other keys unread, as before.
    @Test func typeNoneKeepsTheBlockButSwitchesItOff() throws {
        #expect(try parse(minimal + "\nreranker: { type: none, model: ce, top_k: 500 }").reranker == nil)
        #expect(problems(minimal + "\nreranker: { type: none, modle: ce }").first?.message == "unknown key; did you mean 'model'?")
    }

    @Test func factoriesBuildTheStageTheConfigNames() throws {
        let nowhere = URL(fileURLWithPath: "/nonexistent/sift-model")
        #expect { try StageRegistry.makeEmbedder(EmbedderConfig(model: nowhere)) } throws: { error in
            "\(error)".contains("bi-encoder model not found at /nonexistent/sift-model")
        }
        #expect { try StageRegistry.makeReranker(RerankerConfig(model: nowhere)) } throws: { error in
            "\(error)".contains("cross-encoder model not found at /nonexistent/sift-model")
        }
        #expect { try StageRegistry.makeEmbedder(EmbedderConfig(model: nowhere, type: "colbert")) } throws: { error in
            "\(error)" == "invalid pipeline: embedder.type: unknown embedder type 'colbert'; expected one of bi-encoder"
        }
        #expect { try StageRegistry.makeReranker(RerankerConfig(model: nowhere, type: "none")) } throws: { error in
            "\(error)".contains("unknown reranker type 'none'; expected one of cross-encoder")
        }
        if let model = TestPaths.miniLMModel {
            let embedder = try StageRegistry.makeEmbedder(EmbedderConfig(model: model, batchSize: 4, precision: .fp32))
            #expect(embedder.dimension == 384)
        }
    }

    /// A second type is one conformer and one entry: it is chosen by `type`, read with its own keys (another type's
    /// keys are refused), described with them and built by its factory.
    @Test func aSecondTypeIsOneEntry() throws {
        let types = StageRegistry.embedders + [
            StageType<EmbedderConfig, any TextEmbedder>(
                name: "counting", help: "ones, as many as batch_size says",
                keys: [.integer("batch_size", \.batchSize, atLeast: 1, help: "the dimension")],
                make: { CountingEmbedder(dimension: $0.batchSize) }),
        ]
        func read(_ yaml: String) throws -> (EmbedderConfig?, [ConfigProblem]) {
            var validator = ConfigValidator(fileBase: URL(fileURLWithPath: "/p"), overrideBase: URL(fileURLWithPath: "/c"), environment: [:])
            let node = try #require(try ConfigNode.parse(yaml: yaml, file: "t.yaml"))
            let config = validator.stage(node, path: "embedder", types: types, off: nil)
            return (config ?? nil, validator.problems)
        }
        let (counting, none) = try read("{ type: counting, batch_size: 3 }")
        #expect(none.isEmpty)
        let config = try #require(counting)
        #expect(config.type == "counting" && config.batchSize == 3)
        #expect(try types.first { $0.name == config.type }?.make(config).embed(["a"]) == [[1, 1, 1]])

        let (_, foreign) = try read("{ type: counting, model: m }")
        #expect(foreign.map(\.description) == ["embedder.model: not a key of embedder type 'counting', whose keys are type, batch_size; it belongs to type 'bi-encoder' (line 1)"])
        let (_, unknown) = try read("{ type: countign }")
        #expect(unknown.first?.message == "unknown embedder type 'countign'; expected one of bi-encoder, counting; did you mean 'counting'?")

        let description = ConfigKey(name: "embedder", kind: .stage(types: types.map(\.described), off: nil), defaultValue: .unset, help: "")
        let entries = description.flattened()
        #expect(entries.map(\.path) == ["embedder", "embedder.type", "embedder.model", "embedder.batch_size", "embedder.precision",
                                        "embedder.batch_size"])
        #expect(entries.map(\.type) == [nil, nil, "bi-encoder", "bi-encoder", "bi-encoder", "counting"])
        #expect(StageRegistry.markdownReference([description]).contains("| `embedder.batch_size` (counting) | integer ≥ 1 | `32` | the dimension |"))
    }

    @Test func readerPresetChoicesAreTheReadersPresets() throws {
        #expect(StageRegistry.readerPresetChoices.map(\.name) == ReaderOptions.presetNames)
        // The reader's aliases stay accepted, as written.
        #expect(try parse(minimal + "\nreader: { preset: Python }").reader.preset == "Python")
        #expect(try parse(minimal + "\nreader: { preset: ~ }").reader.preset == nil)
    }

    /// Each key's documented default is what a file without it gets.
    @Test func documentedDefaultsAreTheLoadedDefaults() throws {
        let config = try parse(minimal + "\nreranker: { model: ce }\neval: {}")
        let loaded: [String: ConfigKey.Value] = [
            "chunker.max_tokens": .integer(config.chunker.maxTokens), "chunker.overlap_tokens": .integer(config.chunker.overlapTokens),
            "chunker.min_tokens": .integer(config.chunker.minTokens), "chunker.title_in_path": .boolean(config.chunker.titleInPath),
            "embedder.batch_size": .integer(config.embedder.batchSize), "embedder.precision": .text(config.embedder.precision.rawValue),
            "retriever.top_k": .integer(config.retriever.topK), "retriever.rrf_k": .integer(config.retriever.rrfK),
            "retriever.dense_weight": .number(config.retriever.denseWeight), "retriever.fusion": .text(config.retriever.fusion.rawValue),
            "reranker.top_k": .integer(config.reranker?.topK ?? 0), "reranker.max_tokens": .integer(config.reranker?.maxTokens ?? 0),
            "reranker.batch_size": .integer(config.reranker?.batchSize ?? 0), "reranker.precision": .text(config.reranker?.precision.rawValue ?? ""),
            "reranker.truncation": .text(config.reranker?.truncation.rawValue ?? ""), "answers.top_k": .integer(config.answers.topK),
            "answers.group_by": .text(config.answers.groupBy.rawValue), "source.include": .texts(config.source.include),
            "source.exclude": .texts(config.source.exclude), "reader.drop": .texts(config.reader.drop),
        ]
        let documented = Dictionary(StageRegistry.keys.flatMap { $0.flattened() }.map { ($0.path, $0.key.defaultValue) },
                                    uniquingKeysWith: { first, _ in first })
        for (path, value) in loaded { #expect(documented[path] == .value(value), "\(path)") }
        #expect(config.eval == EvalConfig(labels: nil))
        #expect(config.index.path.path == "/repo/Pipelines/.sift/test")
    }
}
