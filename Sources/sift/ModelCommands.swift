import ArgumentParser
import Foundation
import SiftPipeline

/// Texts from arguments and/or a file (one per line).
struct TextInput: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("Read texts from a file, one per line (- for stdin).", valueName: "file"))
    var file: String?

    func texts(_ arguments: [String]) throws -> [String] {
        var texts = arguments
        if let file { texts += try readTextLines(file) }
        return texts
    }
}

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed texts with the bi-encoder (JSON Lines or .npy).",
        discussion: """
        Writes one JSON line per text ({"text": ..., "embedding": [...]}) to stdout or --output; an --output \
        ending in .npy gets a float32 matrix [texts × dimension] instead.

        Examples:
          sift embed "A man is eating food." "A man is riding a horse."
          sift embed --file sentences.txt --output vectors.npy
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var input: TextInput
    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output file (.jsonl or .npy).", valueName: "file"))
    var outputPath: String?
    @Argument(help: "Texts to embed.")
    var texts: [String] = []

    struct Line: Encodable { var text: String; var embedding: [Float] }

    func run() throws {
        let texts = try input.texts(self.texts)
        guard !texts.isEmpty else { throw CLIError("no texts given; pass them as arguments or with --file", exitCode: 64) }
        let tools = try modelOptions.tools(pipeline: pipeline)
        let vectors = try tools.embed(texts)
        if let outputPath, outputPath.hasSuffix(".npy") {
            let data = NPYFile.data(vectors, columns: tools.embedder.dimension)
            guard FileManager.default.createFile(atPath: outputPath, contents: data) else { throw CLIError("cannot write \(outputPath)") }
            return
        }
        let lines = try zip(texts, vectors).map { try jsonString(Line(text: $0, embedding: $1)) }.joined(separator: "\n") + "\n"
        if let outputPath {
            guard FileManager.default.createFile(atPath: outputPath, contents: Data(lines.utf8)) else { throw CLIError("cannot write \(outputPath)") }
        } else {
            FileHandle.standardOutput.write(Data(lines.utf8))
        }
    }
}

struct SimilarityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similarity",
        abstract: "Cosine similarity matrix of sentences.",
        discussion: """
        Embeds the sentences and prints cos_sim for every pair (rows and columns in input order).

        Examples:
          sift similarity "A man is eating food." "A man is eating pasta." \\
            "The girl is carrying a baby."
          sift similarity --file sentences.txt --json
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var input: TextInput
    @Flag(help: "Print the matrix as JSON ({\"sentences\": [...], \"matrix\": [[...]]}).")
    var json = false
    @Argument(help: "Sentences.")
    var sentences: [String] = []

    struct Output: Encodable { var sentences: [String]; var matrix: [[Float]] }

    func run() throws {
        let sentences = try input.texts(self.sentences)
        guard sentences.count >= 2 else { throw CLIError("give at least two sentences", exitCode: 64) }
        let matrix = try modelOptions.tools(pipeline: pipeline).similarity(sentences)
        if json {
            Terminal.out(try jsonString(Output(sentences: sentences, matrix: matrix)))
            return
        }
        for (i, sentence) in sentences.enumerated() { Terminal.out("[\(i)] \(sentence)") }
        Terminal.out("     " + sentences.indices.map { String(format: "%8@", "[\($0)]") }.joined())
        for (i, row) in matrix.enumerated() {
            Terminal.out(String(format: "%-5@", "[\(i)]") + row.map { String(format: "%8.4f", $0) }.joined())
        }
    }
}

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Semantic search: a query against the lines of a text file, or against a pipeline's index.",
        discussion: """
        With --file, every line of the file is a corpus entry and the best lines are printed with their cosine \
        score. With -p, the pipeline's retrievers (no re-ranking, no highlighting) search its index.

        Examples:
          sift search "A man is eating pasta." --file sentences.txt --top 3
          sift search -p Pipelines/handbook.yaml "keep an SSH key private"
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("Corpus: one sentence per line (- for stdin).", valueName: "file"))
    var file: String?
    @Option(name: .customLong("top"), help: "Results to show.")
    var top = 5
    @Flag(help: "Print JSON.")
    var json = false
    @Argument(help: "The query.")
    var query: String

    struct Hit: Encodable { var rank: Int; var score: Float; var text: String; var line: Int?; var source: String? }

    func run() throws {
        guard top >= 1 else { throw CLIError("--top must be at least 1", exitCode: 64) }
        var hits: [Hit] = []
        if let file {
            let corpus = try readTextLines(file)
            guard !corpus.isEmpty else { throw CLIError("\(file) holds no sentences") }
            let results = try modelOptions.tools(pipeline: pipeline).search(queries: [query], corpus: corpus, topK: top)[0]
            hits = results.enumerated().map { Hit(rank: $0 + 1, score: $1.score, text: corpus[$1.corpusID], line: $1.corpusID + 1, source: nil) }
        } else if pipeline.hasPipeline {
            let result = try pipeline.runner().ask(query, options: AskOptions(topK: top, rerank: false, highlight: false))
            hits = result.answers.map { Hit(rank: $0.rank, score: $0.retrievalScore, text: $0.chunk.text, line: nil, source: $0.chunk.source) }
        } else {
            throw CLIError("give --file FILE (sentences to search) or -p PIPELINE (an index to search)", exitCode: 64)
        }
        if json {
            Terminal.out(try jsonString(hits))
            return
        }
        for hit in hits {
            let text = hit.text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            Terminal.out(String(format: "%2d. %.4f  ", hit.rank, hit.score) + (hit.source.map { "\($0)  " } ?? "") + String(text.prefix(200)))
        }
    }
}

struct MineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mine",
        abstract: "Find paraphrase pairs among the lines of a text file.",
        discussion: """
        Prints pairs of lines by decreasing cosine similarity: score, line numbers and both sentences.

        Examples:
          sift mine sentences.txt --top 10
          sift mine sentences.txt --min-score 0.8 --json
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("top"), help: "Pairs to show.")
    var top = 20
    @Option(name: .customLong("min-score"), help: "Only pairs at least this similar.")
    var minScore: Float = -1
    @Flag(help: "Print JSON.")
    var json = false
    @Argument(help: "Text file, one sentence per line (- for stdin).")
    var file: String

    struct Pair: Encodable { var score: Float; var i: Int; var j: Int; var first: String; var second: String }

    func run() throws {
        guard top >= 1 else { throw CLIError("--top must be at least 1", exitCode: 64) }
        let sentences = try readTextLines(file)
        guard sentences.count >= 2 else { throw CLIError("\(file) needs at least two sentences") }
        let pairs = try modelOptions.tools(pipeline: pipeline).mine(sentences)
            .filter { $0.score >= minScore }.prefix(top)
            .map { Pair(score: $0.score, i: $0.i + 1, j: $0.j + 1, first: sentences[$0.i], second: sentences[$0.j]) }
        if json {
            Terminal.out(try jsonString(Array(pairs)))
            return
        }
        for pair in pairs {
            Terminal.out(String(format: "%.4f  %d ↔ %d  ", pair.score, pair.i, pair.j) + "\(pair.first)  |  \(pair.second)")
        }
    }
}

struct RerankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank",
        abstract: "Score passages against a query with a cross-encoder.",
        discussion: """
        The cross-encoder is a Hugging Face BertForSequenceClassification folder (config.json, model.safetensors, \
        vocab.txt), e.g. cross-encoder/ms-marco-MiniLM-L-6-v2; the default is the pipeline's reranker.model. \
        Passages are printed best first with their scores.

        Examples:
          sift rerank --model Models/ms-marco-MiniLM-L-6-v2 \\
            "How many people live in Berlin?" \\
            "Berlin has a population of 3,520,031." \\
            "New York City is famous for the Met."
          sift rerank -p Pipelines/handbook.yaml --set reranker.model=Models/ce \\
            --file passages.txt "query"
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var input: TextInput
    @Option(name: .long, help: ArgumentHelp("Cross-encoder folder.", valueName: "folder"))
    var model: String?
    @Option(name: .customLong("max-tokens"), help: "Pair length limit; longer passages are truncated.")
    var maxTokens = 512
    @Flag(help: "Print JSON.")
    var json = false
    @Argument(help: "The query, then passages.")
    var arguments: [String] = []

    struct Scored: Encodable { var rank: Int; var score: Float; var index: Int; var passage: String }

    func run() throws {
        guard let query = arguments.first else { throw CLIError("give a query and passages", exitCode: 64) }
        let passages = try input.texts(Array(arguments.dropFirst()))
        guard !passages.isEmpty else { throw CLIError("no passages given; pass them after the query or with --file", exitCode: 64) }
        let folder: URL
        if let model {
            folder = URL(fileURLWithPath: model)
        } else if pipeline.hasPipeline, let reranker = try pipeline.load().reranker {
            folder = reranker.model
        } else {
            throw CLIError("no cross-encoder: pass --model FOLDER (a Hugging Face checkpoint such as cross-encoder/ms-marco-MiniLM-L-6-v2) or a pipeline with a reranker", exitCode: 64)
        }
        let scores = try ModelTools.rerankScores(modelFolder: folder, query: query, passages: passages, maxTokens: maxTokens)
        let ranked = scores.enumerated().sorted { $0.element > $1.element }.enumerated().map { rank, item in
            Scored(rank: rank + 1, score: item.element, index: item.offset + 1, passage: passages[item.offset])
        }
        if json {
            Terminal.out(try jsonString(ranked))
            return
        }
        for item in ranked { Terminal.out(String(format: "%2d. %8.4f  ", item.rank, item.score) + item.passage) }
    }
}
