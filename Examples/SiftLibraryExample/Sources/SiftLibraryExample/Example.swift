// Sift as a library: encode sentences and search them semantically (BiEncoder + SentenceTransformersUtil), then index
// the bundled handbook into a temporary folder and ask it a question (PipelineConfig + PipelineRunner).
// It checks what it prints and exits 1 when something is wrong, so CI runs it as a test of the library API.
//
// Usage: SiftLibraryExample [SIFT_CHECKOUT]   (default: the nearest folder at or above the current one holding
// Pipelines/handbook.yaml). Needs the model in Models/all-MiniLM-L6-v2 (Scripts/setup fetches it).
import Foundation
import SiftCore
import SiftIndex
import SiftModels
import SiftPipeline

@main
struct SiftLibraryExample {
    static func main() {
        guard let root = checkoutRoot() else {
            print("SiftLibraryExample: no Sift checkout (Pipelines/handbook.yaml) at or above the current folder; pass its path")
            exit(2)
        }
        var failures: [String] = []
        do {
            try encodeAndSearch(root: root, failures: &failures)
            try indexAndAsk(root: root, failures: &failures)
        } catch {
            print("SiftLibraryExample: error: \(error)")
            exit(1)
        }
        if failures.isEmpty {
            print("\nSiftLibraryExample: all checks passed")
        } else {
            print("\nSiftLibraryExample: \(failures.count) check(s) failed:")
            for failure in failures { print("  \(failure)") }
            exit(1)
        }
    }

    /// The bi-encoder and sentence-transformers' `util` functions, on the sentences of its semantic search example.
    static func encodeAndSearch(root: URL, failures: inout [String]) throws {
        let model = try BiEncoder(directory: root.appendingPathComponent("Models/all-MiniLM-L6-v2"))
        let corpus = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
                      "A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods.",
                      "A man is riding a white horse on an enclosed ground.", "A monkey is playing drums.",
                      "A cheetah is running behind its prey."]
        let queries = ["A man is eating pasta.", "Someone in a gorilla costume is playing a set of drums.",
                       "A cheetah chases prey on across a field."]
        let expectedTop = [0, 7, 8]

        let corpusEmbeddings = try model.encode(corpus)
        let queryEmbeddings = try model.encode(queries)
        print("encoded \(corpus.count + queries.count) sentences into \(model.dimension)-dimensional vectors (kernel \(model.kernel))")
        check(corpusEmbeddings.count == corpus.count && corpusEmbeddings.allSatisfy { $0.count == model.dimension },
              "one \(model.dimension)-dimensional vector per sentence", &failures)
        let norm = corpusEmbeddings[0].reduce(0) { $0 + $1 * $1 }.squareRoot()
        check(abs(norm - 1) < 1e-4, "the vectors are normalized (norm \(norm))", &failures)

        let similarity = SentenceTransformersUtil.cosSim(queryEmbeddings, corpusEmbeddings)
        let hits = SentenceTransformersUtil.semanticSearch(queryEmbeddings: queryEmbeddings,
                                                           corpusEmbeddings: corpusEmbeddings, topK: 3)
        for (q, query) in queries.enumerated() {
            print("\nquery: \(query)")
            for hit in hits[q] { print("  \(fixed(hit.score))  \(corpus[hit.corpusID])") }
            check(hits[q].first?.corpusID == expectedTop[q],
                  "the top hit for \"\(query)\" is \"\(corpus[expectedTop[q]])\"", &failures)
            if let best = hits[q].first {
                check(abs(similarity[q][best.corpusID] - best.score) < 1e-5, "cosSim agrees with semanticSearch", &failures)
            }
        }
    }

    /// A pipeline over an index: the bundled handbook pipeline with its index moved to a temporary folder.
    static func indexAndAsk(root: URL, failures: inout [String]) throws {
        let indexFolder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sift-library-example-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: indexFolder) }
        let config = try PipelineConfig.load(contentsOf: root.appendingPathComponent("Pipelines/handbook.yaml"),
                                             overrides: [try PipelineOverride("index.path=\(indexFolder.path)")])
        let runner = try PipelineRunner(config: config)
        let report = try runner.index()
        print("\nindexed the handbook: \(report.documents) documents, \(report.chunks) chunks")
        check(report.documents > 0 && report.chunks > 0, "the handbook index holds documents and chunks", &failures)

        let question = "What does exit status 137 mean?"
        let result = try runner.ask(question)
        print("\nquestion: \(question)")
        for answer in result.answers {
            print("  \(answer.rank). \(fixed(answer.retrievalScore))  \(answer.chunk.source)  "
                  + answer.chunk.headingPath.joined(separator: " > "))
        }
        let top = result.answers.first?.chunk
        check(top?.documentID == "processes.html",
              "the top answer comes from processes.html (got \(top?.source ?? "no answer"))", &failures)
    }

    static func check(_ condition: Bool, _ message: String, _ failures: inout [String]) {
        if !condition {
            failures.append(message)
            print("FAILED: \(message)")
        }
    }

    static func fixed(_ x: Float) -> String { String(format: "%.4f", Double(x)) }

    static func checkoutRoot() -> URL? {
        if CommandLine.arguments.count > 1 { return URL(fileURLWithPath: CommandLine.arguments[1]).standardizedFileURL }
        var folder = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL
        while true {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Pipelines/handbook.yaml").path) {
                return folder
            }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { return nil }
            folder = parent
        }
    }
}
