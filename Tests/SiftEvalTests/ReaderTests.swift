import Foundation
import SiftTestSupport
import Testing
@testable import SiftEval

/// A throwaway folder with the given files (relative path → content).
func temporaryFolder(_ files: [String: String]) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-eval-\(UUID().uuidString)")
    for (path, content) in files {
        let url = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(content.utf8).write(to: url)
    }
    return folder
}

@Suite struct BEIRReaderTests {
    let corpus = """
    {"_id": "d1", "title": "Tables", "text": "CREATE TABLE makes a table."}
    {"_id": "d2", "title": "", "text": "  Indexes speed up lookups. "}
    {"_id": "d3", "text": "No title at all."}

    """
    let queries = """
    {"_id": "q1", "text": "how to make a table"}
    {"_id": "q2", "text": "what is an index"}
    {"_id": "q3", "text": "unjudged"}
    """
    let qrels = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\nq2\td3\t0\n"

    func folder(corpus: String? = nil, queries: String? = nil, qrels: String? = nil) throws -> URL {
        try temporaryFolder(["corpus.jsonl": corpus ?? self.corpus, "queries.jsonl": queries ?? self.queries,
                             "qrels/test.tsv": qrels ?? self.qrels])
    }

    /// Runs `load` and returns the error it throws (nil if it succeeds).
    func loadError(corpus: String? = nil, queries: String? = nil, qrels: String? = nil) throws -> EvalError? {
        let url = try folder(corpus: corpus, queries: queries, qrels: qrels)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try BEIRDataset.load(folder: url)
            return nil
        } catch let error as EvalError {
            return error
        }
    }

    @Test func readsAValidFolder() throws {
        let url = try folder()
        defer { try? FileManager.default.removeItem(at: url) }
        let dataset = try BEIRDataset.load(folder: url)
        #expect(dataset.corpus.map(\.id) == ["d1", "d2", "d3"])
        #expect(dataset.corpus.map(\.embeddingText) == ["Tables CREATE TABLE makes a table.", "Indexes speed up lookups.", "No title at all."])
        #expect(dataset.queries.count == 3)
        #expect(dataset.evaluatedQueries.map(\.id) == ["q1", "q2"])
        #expect(dataset.qrels.judgements == ["q1": ["d1": 2], "q2": ["d2": 1, "d3": 0]])
        #expect(dataset.qrels.relevantCount("q2") == 1)
        #expect(dataset.warnings.isEmpty)
    }

    @Test func malformedJSONNamesFileAndLine() throws {
        let error = try loadError(corpus: "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d2\", \"text\": \n")
        guard case let .malformedJSON(path, line, _) = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(path.hasSuffix("corpus.jsonl") && line == 2)
        #expect(error!.description.contains("corpus.jsonl:2: malformed JSON"))
        let notObject = try loadError(queries: "[1, 2]\n")
        #expect(notObject.map { if case .malformedJSON(_, 1, _) = $0 { true } else { false } } == true)
    }

    @Test func missingAndMistypedFields() throws {
        let missing = try loadError(queries: "{\"_id\": \"q1\", \"text\": \"x\"}\n{\"_id\": \"q2\"}\n")
        guard case let .missingField(path, 2, "text") = missing else { Issue.record("got \(String(describing: missing))"); return }
        #expect(path.hasSuffix("queries.jsonl"))
        let mistyped = try loadError(corpus: "{\"_id\": 7, \"text\": \"x\"}\n")
        guard case .wrongFieldType(_, 1, "_id", _) = mistyped else { Issue.record("got \(String(describing: mistyped))"); return }
    }

    @Test func duplicateIDsNameBothLines() throws {
        let error = try loadError(corpus: "{\"_id\": \"d1\", \"text\": \"a\"}\n\n{\"_id\": \"d1\", \"text\": \"b\"}\n")
        #expect(error == .duplicateID(path: error.map { if case let .duplicateID(p, _, _, _) = $0 { p } else { "" } } ?? "",
                                      line: 3, id: "d1", firstLine: 1))
    }

    @Test func emptyFilesAreRejected() throws {
        guard case let .emptyFile(path) = try loadError(corpus: "\n\n") else { Issue.record("corpus"); return }
        #expect(path.hasSuffix("corpus.jsonl"))
        guard case .emptyFile = try loadError(qrels: "query-id\tcorpus-id\tscore\n") else { Issue.record("qrels"); return }
        guard case .emptyFile = try loadError(qrels: "") else { Issue.record("qrels"); return }
    }

    @Test func malformedQrelsLines() throws {
        guard case .malformedQrels(_, 1, _) = try loadError(qrels: "q1\td1\t1\n") else { Issue.record("header"); return }
        guard case .malformedQrels(_, 3, _) = try loadError(qrels: "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2 d2 1\n") else {
            Issue.record("columns"); return
        }
        let grade = try loadError(qrels: "query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
        guard case let .malformedQrels(path, 2, reason) = grade else { Issue.record("grade"); return }
        #expect(path.hasSuffix("qrels/test.tsv") && reason.contains("high"))
    }

    @Test func unknownIDsThrowWhenStrictAndWarnWhenLenient() throws {
        let badQrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td1\t1\nq2\td9\t1\n"
        guard case .unknownQuery(_, 3, "q9") = try loadError(qrels: badQrels) else { Issue.record("query"); return }
        guard case .unknownDocument(_, 3, "d9") = try loadError(qrels: "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td9\t1\n") else {
            Issue.record("document"); return
        }
        let url = try folder(qrels: badQrels)
        defer { try? FileManager.default.removeItem(at: url) }
        let lenient = try BEIRDataset.load(folder: url, validation: .lenient)
        #expect(lenient.qrels.judgements == ["q1": ["d1": 1]])
        let qrelsPath = url.appendingPathComponent("qrels/test.tsv").path
        #expect(lenient.warnings == [
            "\(qrelsPath): qrels name 1 unknown query id (e.g. q9), not in queries.jsonl; 1 line skipped",
            "\(qrelsPath): qrels name 1 unknown corpus id (e.g. d9), not in corpus.jsonl; 1 line skipped",
            "\(qrelsPath): 1 query (e.g. q2) judged only against unknown corpus ids, so not evaluated",
        ])
        #expect(lenient.evaluatedQueries.map(\.id) == ["q1"])
    }

    @Test func unknownIDWarningsCountAndGiveAFewExamples() throws {
        let lines = (1...5).map { "q1\tgone\($0)\t1\ngone-query\td1\t1" }.joined(separator: "\n")
        let url = try folder(qrels: "query-id\tcorpus-id\tscore\nq2\td2\t1\n" + lines + "\n")
        defer { try? FileManager.default.removeItem(at: url) }
        let dataset = try BEIRDataset.load(folder: url, validation: .lenient)
        #expect(dataset.evaluatedQueries.map(\.id) == ["q2"])
        #expect(dataset.warnings.count == 3)
        #expect(dataset.warnings[0].hasSuffix("qrels name 1 unknown query id (e.g. gone-query), not in queries.jsonl; 5 lines skipped"))
        #expect(dataset.warnings[1].hasSuffix("qrels name 5 unknown corpus ids (e.g. gone1, gone2, gone3, …), not in corpus.jsonl; 5 lines skipped"))
        #expect(dataset.warnings[2].hasSuffix("1 query (e.g. q1) judged only against unknown corpus ids, so not evaluated"))
    }

    @Test func missingFileIsACannotRead() throws {
        let url = try temporaryFolder(["queries.jsonl": queries])
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: EvalError.self) { try BEIRDataset.load(folder: url) }
    }

    @Test func aPathThatIsNotABEIRFolderSaysWhatOneHolds() throws {
        let url = try folder()
        defer { try? FileManager.default.removeItem(at: url) }
        let layout = "a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/test.tsv"
        let file = url.appendingPathComponent("corpus.jsonl")
        #expect(throws: EvalError.notABEIRFolder(path: file.path, problem: "is a file, not a folder", split: "test")) {
            try BEIRDataset.load(folder: file)
        }
        #expect(EvalError.notABEIRFolder(path: file.path, problem: "is a file, not a folder", split: "test").description
                == "\(file.path): is a file, not a folder; \(layout)")
        let nowhere = url.appendingPathComponent("nowhere")
        #expect(throws: EvalError.notABEIRFolder(path: nowhere.path, problem: "no such folder", split: "test")) {
            try BEIRDataset.load(folder: nowhere)
        }
        #expect(throws: EvalError.notABEIRFolder(path: url.path, problem: "no qrels/dev.tsv (qrels/ has splits: test)", split: "dev")) {
            try BEIRDataset.load(folder: url, split: "dev")
        }
        try FileManager.default.removeItem(at: file)
        #expect(throws: EvalError.notABEIRFolder(path: url.path, problem: "no corpus.jsonl", split: "test")) {
            try BEIRDataset.load(folder: url)
        }
    }
}

@Suite struct LabeledQuestionTests {
    func load(_ text: String) throws -> LabeledQuestionSet {
        let url = try temporaryFolder(["labels.jsonl": text])
        defer { try? FileManager.default.removeItem(at: url) }
        return try LabeledQuestionSet.load(url.appendingPathComponent("labels.jsonl"))
    }

    func loadError(_ text: String) throws -> EvalError? {
        do { _ = try load(text); return nil } catch let error as EvalError { return error }
    }

    @Test func readsListsAndGrades() throws {
        let set = try load("""
        {"question": "How do I copy a file?", "relevant": ["faq/library.html#how-do-i-copy-a-file", "library/shutil.html"]}
        {"id": "graded", "question": "Why?", "relevant": {"faq/design.html#why": 2, "faq/design.html": 1}}
        """)
        #expect(set.questions.map(\.id) == ["q1", "graded"])
        #expect(set.questions[0].relevant == [LabelTarget(documentID: "faq/library.html", anchor: "how-do-i-copy-a-file"): 1,
                                              LabelTarget(documentID: "library/shutil.html"): 1])
        #expect(set.qrels.judgements["graded"] == ["faq/design.html#why": 2, "faq/design.html": 1])
    }

    @Test func rejectsBadLabelsWithLineNumbers() throws {
        guard case .missingField(_, 2, "question") = try loadError("{\"question\": \"a\", \"relevant\": [\"x\"]}\n{\"relevant\": [\"x\"]}") else {
            Issue.record("question"); return
        }
        guard case .invalidLabel(_, 1, _) = try loadError("{\"question\": \"a\", \"relevant\": []}") else { Issue.record("empty"); return }
        guard case .wrongFieldType(_, 1, "relevant", _) = try loadError("{\"question\": \"a\", \"relevant\": {\"x\": \"high\"}}") else {
            Issue.record("grade"); return
        }
        guard case .duplicateID(_, 2, "a", 1) = try loadError("{\"id\": \"a\", \"question\": \"a\", \"relevant\": [\"x\"]}\n{\"id\": \"a\", \"question\": \"b\", \"relevant\": [\"y\"]}") else {
            Issue.record("duplicate"); return
        }
        guard case .wrongFieldType(_, 1, "relevant", _) = try loadError("{\"question\": \"a\", \"relevant\": {\"x\": true}}") else {
            Issue.record("boolean grade"); return
        }
        guard case .emptyFile = try loadError("\n") else { Issue.record("empty file"); return }
    }

    @Test func targetsOutsideTheIndexAreDroppedWithCountedWarnings() throws {
        let set = try load("""
        {"id": "kept", "question": "a", "relevant": ["in.html#x", "gone.html"]}
        {"id": "emptied", "question": "b", "relevant": {"gone.html#y": 1, "lost.html": 2}}
        {"id": "whole", "question": "c", "relevant": ["in.html"]}
        """)
        let (restricted, warnings) = set.restricted(toDocuments: ["in.html"], source: "labels.jsonl")
        #expect(restricted.questions.map(\.id) == ["kept", "whole"])
        #expect(restricted.questions[0].relevant == [LabelTarget("in.html#x"): 1])
        #expect(warnings == [
            "labels.jsonl: labels name 2 documents (e.g. gone.html, lost.html) that the index does not hold; 3 targets dropped",
            "labels.jsonl: 1 question (e.g. emptied) left without a relevant target in the index, so not evaluated",
        ])
        let untouched = set.restricted(toDocuments: ["in.html", "gone.html", "lost.html"], source: "labels.jsonl")
        #expect(untouched.questions.questions == set.questions)
        #expect(untouched.warnings.isEmpty)
    }

    @Test func maxPAggregatesChunksToLabelTargets() {
        let question = LabeledQuestion(id: "q", question: "?", relevant: [LabelTarget("faq/a.html#x"): 1, LabelTarget("lib/b.html"): 1])
        let chunks = [
            RetrievedChunk(documentID: "faq/a.html", anchor: "y", score: 0.9), // same page, other section: not relevant
            RetrievedChunk(documentID: "faq/a.html", anchor: "x", score: 0.5),
            RetrievedChunk(documentID: "faq/a.html", anchor: "x", score: 0.7), // best chunk of the section wins
            RetrievedChunk(documentID: "lib/b.html", anchor: "any", score: 0.6), // document-level label: any anchor
            RetrievedChunk(documentID: "faq/a.html", anchor: "y", score: 0.8),
        ]
        let ranking = sortRanking(aggregateMaxP(chunkRanking: chunks, labels: question), convention: .trecEval)
        #expect(ranking == [ScoredID("faq/a.html#y", 0.9), ScoredID("faq/a.html#x", 0.7), ScoredID("lib/b.html", 0.6)])
        let result = evaluate(rankings: ["q": ranking], qrels: LabeledQuestionSet(questions: [question]).qrels,
                              metrics: [.mrr(10), .recall(10)])
        #expect(result.mean[.mrr(10)] == 0.5)
        #expect(result.mean[.recall(10)] == 1)
        // Document-level labels only: unmatched chunks group by document.
        let documentLevel = LabeledQuestion(id: "d", question: "?", relevant: [LabelTarget("lib/b.html"): 1])
        let grouped = aggregateMaxP(chunkRanking: chunks, labels: documentLevel)
        #expect(Set(grouped) == [ScoredID("faq/a.html", 0.9), ScoredID("lib/b.html", 0.6)])
    }
}

@Suite struct PythonFAQLabelsTests {
    /// Tests/Fixtures/eval/python_faq_labels.jsonl, written by Scripts/eval/make_faq_labels.py from python3.11-doc.
    @Test func fixtureReadsAsSectionLevelLabels() throws {
        let url = TestPaths.fixtures.appendingPathComponent("eval/python_faq_labels.jsonl")
        let set = try LabeledQuestionSet.load(url)
        #expect(set.questions.count == 179)
        #expect(set.questions.allSatisfy { question in
            question.relevant.count == 1 && question.relevant.keys.allSatisfy {
                $0.documentID.hasPrefix("faq/") && $0.documentID.hasSuffix(".html") && $0.anchor != nil
            }
        })
        let question = try #require(set.questions.first { $0.id == "programming:how-do-i-share-global-variables-across-modules" })
        #expect(question.question == "How do I share global variables across modules?")
        #expect(set.qrels.judgements[question.id] == ["faq/programming.html#how-do-i-share-global-variables-across-modules": 1])
    }
}

@Test func targetRankingsAggregatePerQuestion() {
    let set = LabeledQuestionSet(questions: [
        LabeledQuestion(id: "a", question: "?", relevant: [LabelTarget("p.html#x"): 1]),
        LabeledQuestion(id: "b", question: "?", relevant: [LabelTarget("p.html"): 1]),
    ])
    let chunks = [RetrievedChunk(documentID: "p.html", anchor: "x", score: 2), RetrievedChunk(documentID: "p.html", anchor: "y", score: 3)]
    let rankings = set.targetRankings(chunkRankings: ["a": chunks, "b": chunks])
    #expect(Set(rankings["a"]!) == [ScoredID("p.html#x", 2), ScoredID("p.html#y", 3)])
    #expect(rankings["b"] == [ScoredID("p.html", 3)])
    let result = evaluate(rankings: rankings, qrels: set.qrels, metrics: [.mrr(10)])
    #expect(result.mean[.mrr(10)] == 0.75) // a: rank 2, b: rank 1
}
