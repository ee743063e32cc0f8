import Foundation
import Testing
import SiftTestSupport
@testable import SiftPipeline

/// Pipelines/README.md holds the key reference generated from the registry between two markers; this keeps it true.
/// To regenerate it after changing a key: SIFT_UPDATE_PIPELINE_README=1 swift test --filter PipelineReferenceTests
@Suite struct PipelineReferenceTests {
    static let readme = TestPaths.repositoryRoot.appendingPathComponent("Pipelines/README.md")

    /// The README's text before, inside and after the generated block.
    static func parts(_ text: String) throws -> (before: Substring, block: Substring, after: Substring) {
        let begin = try #require(text.range(of: StageRegistry.referenceBegin), "no BEGIN marker in Pipelines/README.md")
        let end = try #require(text.range(of: StageRegistry.referenceEnd, range: begin.upperBound..<text.endIndex),
                               "no END marker after BEGIN in Pipelines/README.md")
        return (text[..<begin.upperBound], text[begin.upperBound..<end.lowerBound], text[end.lowerBound...])
    }

    @Test func readmeHoldsTheGeneratedKeyReference() throws {
        let text = try String(contentsOf: Self.readme, encoding: .utf8)
        let (before, block, after) = try Self.parts(text)
        let generated = "\n\n" + StageRegistry.markdownReference() + "\n\n"
        if ProcessInfo.processInfo.environment["SIFT_UPDATE_PIPELINE_README"] == "1", block != generated {
            try (before + generated + after).write(to: Self.readme, atomically: true, encoding: .utf8)
            return
        }
        #expect(block == generated, """
            Pipelines/README.md's key reference differs from the registry; regenerate it with
            SIFT_UPDATE_PIPELINE_README=1 swift test --filter PipelineReferenceTests
            """)
    }

    @Test func referenceListsEveryKeyDefaultAndChoice() {
        let reference = StageRegistry.markdownReference()
        for (path, _, key) in StageRegistry.keys.flatMap({ $0.flattened() }) {
            #expect(reference.contains("| `\(path)`"), "\(path)")
            if case let .choice(options, _) = key.kind {
                for option in options { #expect(reference.contains("  - `\(option.name)`: \(option.help)"), "\(path): \(option.name)") }
            }
        }
        #expect(reference.contains("| `embedder.batch_size` | integer ≥ 1 | `32` | texts per forward pass |"))
        #expect(reference.contains("| `reranker.batch_size` | integer ≥ 1 | `16` | pairs per forward pass |"))
        #expect(reference.contains("| `source.include` | list of globs (at least 1) | `[\"**/*.html\", \"**/*.htm\", \"**/*.xhtml\", \"**/*.xml\"]` |"))
        #expect(reference.contains("| `retriever.dense_weight` | number from 0 to 1 | `0.5` |"))
        #expect(reference.contains("| `reranker.type` | `cross-encoder` \\| `none` | `cross-encoder` |"))
    }
}
