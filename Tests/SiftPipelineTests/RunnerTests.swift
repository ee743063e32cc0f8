import Foundation
import SiftCore
import Testing
import SiftTestSupport
@testable import SiftPipeline

/// A throw-away collection of small HTML pages and a pipeline over it.
final class TinyCollection {
    let folder: URL
    var docs: URL { folder.appendingPathComponent("docs") }

    /// The shared two-page collection plus an empty page (which must be reported and skipped).
    static let pages = TinyPages.pages.merging(["empty.html": ""]) { shared, _ in shared }

    init(reranker: String = "none", extra: String = "") throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-runner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("docs"), withIntermediateDirectories: true)
        for (name, html) in Self.pages { try write(name, html) }
    }

    func write(_ name: String, _ html: String) throws {
        try Data(html.utf8).write(to: docs.appendingPathComponent(name))
    }

    func pipeline(model: URL, overrides: [String] = []) throws -> PipelineConfig {
        let yaml = TinyPages.pipelineYAML(model: model.path, answers: 3)
        let file = folder.appendingPathComponent("tiny.yaml")
        try Data(yaml.utf8).write(to: file)
        return try PipelineConfig.load(contentsOf: file, overrides: overrides.map(PipelineOverride.init))
    }

    deinit { try? FileManager.default.removeItem(at: folder) }
}

@Suite(.serialized) struct RunnerTests {
    @Test func indexThenAskFindsTheAnswerWithHighlight() throws {
        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let collection = try TinyCollection()
        let runner = try PipelineRunner(config: try collection.pipeline(model: model))

        let report = try runner.index()
        #expect(report.filesRead == 3)
        #expect(report.documentsRead == 2)
        #expect(report.new == 2)
        #expect(report.skipped.map(\.path) == ["empty.html"])
        #expect(report.skipped.first?.reason == "file is empty")
        #expect(report.chunksEmbedded == report.chunks)

        let result = try runner.ask("How many vacation days do I get per year?")
        #expect(result.stagesRun.map(\.description) == ["dense", "bm25", "fusion:rrf", "highlight"])
        #expect(result.stagesSkipped.map(\.description) == ["rerank (not configured)"])
        let best = try #require(result.answers.first)
        #expect(best.chunk.documentID == "leave.html")
        #expect(best.rank == 1)
        #expect(best.rerankScore == nil)
        let highlight = try #require(best.highlight)
        #expect(best.chunk.text.scalarSlice(highlight) == "Every employee gets 25 vacation days per year.")
        // One answer per page by default, and the tiny collection has two pages.
        #expect(result.answers.count == 2)
        #expect(Set(result.timings.map(\.stage)).isSuperset(of: [.embedder, .dense, .bm25, .fusion, .highlight]))
    }

    @Test func reindexingEmbedsOnlyChangedDocumentsAndDeletesRemovedOnes() throws {
        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let collection = try TinyCollection()
        let config = try collection.pipeline(model: model)
        _ = try PipelineRunner(config: config).index()

        let unchanged = try PipelineRunner(config: config).index()
        #expect(unchanged.upToDate)
        #expect(unchanged.unchanged == 2)
        #expect(unchanged.chunksEmbedded == 0)

        try collection.write("expenses.html", TinyPages.pages["expenses.html"]!.replacingOccurrences(of: "50 euros", with: "60 euros"))
        try FileManager.default.removeItem(at: collection.docs.appendingPathComponent("leave.html"))
        let changed = try PipelineRunner(config: config).index()
        #expect(changed.changed == 1)
        #expect(changed.deleted == 1)
        #expect(changed.unchanged == 0)
        #expect(changed.documents == 1)
        let answer = try PipelineRunner(config: config).ask("meal allowance").answers.first
        #expect(answer?.chunk.text.contains("60 euros") == true)
    }

    @Test func stagesCanBeSwitchedOffAndExplained() throws {
        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let collection = try TinyCollection()
        let runner = try PipelineRunner(config: try collection.pipeline(model: model, overrides: ["retriever.bm25=false"]))
        _ = try runner.index()
        let dense = try runner.ask("doctor's note", options: AskOptions(explain: true))
        #expect(dense.stagesRun.map(\.description) == ["dense", "highlight"])
        #expect(dense.stagesSkipped.map(\.description) == ["bm25 (switched off)", "rerank (not configured)"])
        #expect(dense.stageCandidates.map(\.stage) == [.dense])
        #expect(dense.answers.first?.chunk.anchor == "sick")

        let bm25 = try runner.ask("doctor's note", options: AskOptions(dense: false, bm25: true, explain: true))
        #expect(bm25.stagesRun.map(\.description) == ["bm25", "highlight"])
        #expect(bm25.answers.first?.chunk.anchor == "sick")
        #expect(bm25.answers.first?.retrievalScore == bm25.stageCandidates[0].candidates[0].score)
        for id in bm25.stageCandidates[0].candidates.map(\.chunkID) { #expect(bm25.chunks[id] != nil) }

        #expect {
            try runner.ask("x", options: AskOptions(rerank: true))
        } throws: { error in
            guard case PipelineError.stageNotConfigured(let stage, _) = error else { return false }
            return stage == .rerank
        }
    }

    @Test func groupedAnswersShowOneEntryPerSectionOrPage() throws {
        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let collection = try TinyCollection()
        // Small chunks, so sections hold several passages.
        let runner = try PipelineRunner(config: try collection.pipeline(model: model, overrides: ["chunker.max_tokens=24", "chunker.min_tokens=0"]))
        _ = try runner.index()
        let question = "How many vacation days do I get, and what about sick leave?"
        let all = try runner.ask(question, options: AskOptions(topK: 10, groupBy: AnswerGrouping.none))
        for grouping in [AnswerGrouping.section, .page] {
            let grouped = try runner.ask(question, options: AskOptions(topK: 10, groupBy: grouping))
            let key: (Chunk) -> String = grouping == .page ? { $0.documentID } : { $0.source }
            // One answer per group, in the order of each group's best passage (MaxP), the rest folded in.
            var seen: [String] = []
            for answer in all.answers where !seen.contains(key(answer.chunk)) { seen.append(key(answer.chunk)) }
            #expect(grouped.answers.map { key($0.chunk) } == seen, "\(grouping)")
            #expect(grouped.answers.map(\.chunk.id) == grouped.answers.map { a in all.answers.first { key($0.chunk) == key(a.chunk) }!.chunk.id })
            #expect(grouped.answers.reduce(0) { $0 + 1 + $1.related.count } == all.answers.count, "\(grouping): every passage is shown or folded")
            for answer in grouped.answers {
                #expect(answer.related.allSatisfy { r in all.answers.contains { $0.chunk.id == r.chunkID && key($0.chunk) == key(answer.chunk) } })
            }
        }
        #expect(Set(try runner.ask(question, options: AskOptions(topK: 10, groupBy: .page)).answers.map(\.chunk.documentID)).count == 2)
    }

    @Test func batchAnswersMatchSingleAnswers() throws {
        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let collection = try TinyCollection()
        let runner = try PipelineRunner(config: try collection.pipeline(model: model))
        _ = try runner.index()
        let questions = ["receipts deadline", "sick leave rules", "vacation carry over"]
        let batch = try runner.askBatch(questions)
        #expect(batch.count == 3)
        for (question, result) in zip(questions, batch) {
            let single = try runner.ask(question)
            #expect(result.answers.map(\.chunk.id) == single.answers.map(\.chunk.id), "\(question)")
            // Same vectors within float noise of batched vs single BERT passes.
            for (a, b) in zip(result.answers, single.answers) { #expect(abs(a.retrievalScore - b.retrievalScore) < 1e-6) }
        }
    }

    @Test func missingModelsAndIndexesSayWhereAndHow() throws {
        let collection = try TinyCollection()
        let config = try collection.pipeline(model: collection.folder.appendingPathComponent("Models/nope"))
        let runner = try PipelineRunner(config: config)
        #expect {
            try runner.index()
        } throws: { error in
            guard case PipelineError.modelMissing(let stage, let path, let hint) = error else { return false }
            return stage == .embedder && path.hasSuffix("Models/nope") && hint.contains("Scripts/setup")
        }
        #expect {
            try runner.ask("x")
        } throws: { error in
            guard case PipelineError.indexMissing(_, let hint) = error else { return false }
            return hint.contains("sift index")
        }
        var withReranker = config
        withReranker.reranker = RerankerConfig(model: collection.folder.appendingPathComponent("Models/ce"))
        #expect {
            try StageLoader.crossEncoder(withReranker.reranker!)
        } throws: { error in
            guard case PipelineError.modelMissing(let stage, _, let hint) = error else { return false }
            return stage == .rerank && hint.contains("cross-encoder/ms-marco-MiniLM-L-6-v2")
        }
    }

    @Test func badReaderRulesAreConfigProblems() throws {
        let collection = try TinyCollection()
        let config = try collection.pipeline(model: URL(fileURLWithPath: "/nonexistent"), overrides: ["reader.drop=[\"div[\"]"])
        #expect(throws: PipelineError.self) { try PipelineRunner(config: config) }
    }
}

@Suite struct OutputTests {
    static let chunk = Chunk(id: "c1", documentID: "guide.html", anchor: "errors", headingPath: ["Guide", "Errors"],
                             range: 10..<77, text: "Guide > Errors\nErrors\n\nHandle errors early. Retry twice on timeouts. Log the rest.",
                             tokenCount: 20)

    @Test func highlighterPrefersSharedTermsAndSkipsHeadings() {
        let sentences = Highlighter.sentences(of: Self.chunk)
        #expect(sentences.map { Self.chunk.text.scalarSlice($0) } == ["Handle errors early.", "Retry twice on timeouts.", "Log the rest."])
        let best = Highlighter.lexicalBest(chunk: Self.chunk, questionStems: Highlighter.stems("what about timeout retries?"))
        #expect(best.map { Self.chunk.text.scalarSlice($0) } == "Retry twice on timeouts.")
        #expect(Highlighter.lexicalBest(chunk: Self.chunk, questionStems: Highlighter.stems("unrelated words")) == nil)
    }

    @Test func snippetMarksTheSentenceAndJSONCarriesScalarOffsets() throws {
        let text = Self.chunk.text
        let start = text.unicodeScalars.count - "Retry twice on timeouts. Log the rest.".unicodeScalars.count
        let answer = Answer(rank: 1, chunk: Self.chunk, rerankScore: 2.5, retrievalScore: 0.03,
                            highlight: start..<(start + "Retry twice on timeouts.".unicodeScalars.count))
        #expect(AnswerFormatter.snippet(answer) == "Handle errors early. **Retry twice on timeouts.** Log the rest.")
        let record = AnswerRecord(answer)
        #expect(record.highlightText == "Retry twice on timeouts.")
        #expect(record.source == "guide.html#errors")
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        #expect(json.contains("\"rerank_score\":2.5"))
        #expect(json.contains("\"heading_path\":[\"Guide\",\"Errors\"]"))
    }

    @Test func snippetContextEndsAtWordBoundariesAndRenderWrapsLines() throws {
        // Long context on both sides of the highlighted sentence: it must be cut, but only between words.
        let before = (0..<40).map { "alpha\($0)" }.joined(separator: " ") + "."
        let after = (0..<40).map { "omega\($0)" }.joined(separator: " ") + "."
        let body = before + " The key sentence is here. " + after
        let text = "Guide\n" + body
        let chunk = Chunk(id: "c2", documentID: "guide.html", anchor: nil, headingPath: ["Guide"], range: 0..<body.unicodeScalars.count,
                          text: text, tokenCount: 150)
        let start = text.unicodeScalars.count - (" The key sentence is here. " + after).unicodeScalars.count + 1
        let answer = Answer(rank: 1, chunk: chunk, rerankScore: nil, retrievalScore: 0.03,
                            highlight: start..<(start + "The key sentence is here.".unicodeScalars.count))
        let snippet = AnswerFormatter.snippet(answer, width: 120)
        #expect(snippet.contains(" **The key sentence is here.** "))
        let words = Set(body.split(separator: " ").map(String.init))
        let shown = snippet.replacingOccurrences(of: "…", with: "").replacingOccurrences(of: "**", with: "").split(separator: " ")
        #expect(snippet.hasPrefix("…alpha") && snippet.hasSuffix("…"), "\(snippet)")
        #expect(shown.allSatisfy { words.contains(String($0)) }, "a word was cut: \(snippet)")

        // Wrapping: lines within the width, ANSI escapes take no room, the words come back unchanged.
        let marked = "one two \u{1B}[1mthree four\u{1B}[0m five six seven eight"
        let lines = AnswerFormatter.wrap(marked, width: 14)
        #expect(lines == ["one two \u{1B}[1mthree", "four\u{1B}[0m five six", "seven eight"])
        #expect(AnswerFormatter.wrap("", width: 10) == [""])
        #expect(AnswerFormatter.wrap("unbreakablewordlongerthanwidth x", width: 10) == ["unbreakablewordlongerthanwidth", "x"])

        let result = AskResult(question: "q", answers: [answer], stagesRun: [ActiveStage(.bm25)], stagesSkipped: [], timings: [],
                               stageCandidates: [], chunks: [:])
        let rendered = AnswerFormatter.render(result, showTimings: false, width: 60)
        let snippetLines = rendered.split(separator: "\n").dropFirst(2)
        #expect(snippetLines.count > 1)
        #expect(snippetLines.allSatisfy { $0.hasPrefix("   ") && $0.count <= 60 })
    }

    @Test func npyHeaderIsAlignedAndDataIsLittleEndianFloat32() {
        let data = NPYFile.data([[1, 2, 3], [4, 5, 6]], columns: 3)
        let bytes = [UInt8](data)
        #expect(Array(bytes[0..<8]) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'shape': (2, 3)"))
        #expect(header.hasSuffix("\n"))
        #expect(bytes.count == 10 + headerLength + 6 * 4)
        let firstValue = bytes[(10 + headerLength)..<(14 + headerLength)]
        #expect(Array(firstValue) == [0x00, 0x00, 0x80, 0x3f])  // 1.0f little-endian
    }

    @Test func stableDigestSeparatesParts() {
        #expect(StableDigest.hex(["ab", "c"]) != StableDigest.hex(["a", "bc"]))
        #expect(StableDigest.hex(["x"]) == StableDigest.hex(["x"]))
        #expect(StableDigest.hex(["x"]).count == 32)
        // Pinned (computed independently in Python): stored document hashes must not change.
        #expect(StableDigest.hex(["ab", "c"]) == "20ba9b3025a8b4215199cfee7d6d899c")
        #expect(StableDigest.hex([]) == "cbf29ce4842223256c62272e07bb0142")
        #expect(StableDigest.hex(["Überschrift", "x"]) == "e8ee51d038508dc8e218125c89cc5b01")
    }
}
