import Foundation
import SiftCore
import SiftEval
import SiftReader
import SiftTraining

/// Where `sift train` gets its examples, and how it mines negatives.
public struct TrainingDataOptions: Sendable {
    /// Labelled questions in the eval format (`{"question", "relevant": ["page.html#anchor", ...]}` per line), or a
    /// BEIR folder (`queries.jsonl`, `qrels/train.tsv`) whose corpus ids are `page.html[#anchor]` targets.
    public var labels: URL?
    /// (section heading → section text) pairs read from the indexed collection itself: no labels needed.
    public var fromHeadings = false
    /// Documents left out of the training data (globs on document ids, with `source.exclude`'s rules), e.g. `faq/*`.
    public var exclude: [String] = []
    /// Hard negatives mined per example (dense and BM25 candidates, interleaved).
    public var hardNegatives = 3
    /// Ranks skipped at the top of each mined list: a near-duplicate of the positive there is more likely an
    /// unlabelled answer than a negative.
    public var skipTop = 3
    /// How deep each retriever is searched for negatives.
    public var mineDepth = 30
    /// At most this many examples (a seeded sample), none when nil.
    public var maxExamples: Int?
    /// The fraction of documents held out for evaluation (0: none).
    public var evalSplit = 0.0
    /// k-fold evaluation: the documents (seeded shuffle) dealt into `folds.count` folds; fold `folds.index`
    /// (0-based) is held out. Overrides `evalSplit`.
    public var folds: (index: Int, count: Int)?
    public var seed: UInt64 = 42

    public init() {}
}

/// Training examples and the held-out questions (by document: no page is in both).
public struct TrainingData: Sendable {
    public var examples: [TrainingExample]
    /// Held-out questions in the eval format, judged against their section.
    public var heldOut: LabeledQuestionSet?
    /// Documents the held-out questions come from.
    public var heldOutDocuments: Set<String>
    /// Notes for the user (labels skipped, duplicates dropped).
    public var notes: [String]
}

extension PipelineRunner {
    /// Builds training examples from the pipeline's index: labelled questions (the positive is the relevant
    /// section's passage that the current embedder ranks highest for the question) and/or (heading → section text)
    /// pairs, then mines hard negatives from the index's own dense and BM25 retrievers.
    public func trainingData(_ options: TrainingDataOptions) throws -> TrainingData {
        guard options.labels != nil || options.fromHeadings else {
            throw PipelineError.training(.invalidSettings(reason: "no training data: give --labels FILE and/or --from-headings"))
        }
        let store = try openIndex()
        let allDocuments: [String]
        do { allDocuments = try store.documents.documentIDs().sorted() } catch { throw PipelineError.stage(.index, underlying: error) }
        let excluded = Set(allDocuments.filter { id in options.exclude.contains { Self.glob($0, matches: id) } })
        let documents = allDocuments.filter { !excluded.contains($0) }
        // Held-out documents: a seeded shuffle, the first fraction.
        var rng = SplitMix64(state: options.seed ^ 0x5EED)
        var shuffled = documents
        for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, rng.below(i + 1)) }
        let heldOutDocuments: Set<String>
        if let folds = options.folds {
            guard folds.count >= 2, (0..<folds.count).contains(folds.index), documents.count >= folds.count else {
                throw PipelineError.training(.invalidSettings(reason: "fold \(folds.index + 1) of \(folds.count) over \(documents.count) documents"))
            }
            heldOutDocuments = Set(shuffled.enumerated().filter { $0.offset % folds.count == folds.index }.map(\.element))
        } else {
            let heldOutCount = options.evalSplit > 0 ? max(1, Int((Double(documents.count) * options.evalSplit).rounded())) : 0
            heldOutDocuments = Set(shuffled.prefix(heldOutCount))
        }
        var notes: [String] = []
        if !excluded.isEmpty { notes.append("\(excluded.count) document(s) excluded by --exclude") }

        var candidates: [TrainingCandidate] = []
        var heldOut: [LabeledQuestion] = []
        let chunksByDocument = try exportChunks(store, documents: documents)
        if let labels = options.labels {
            let set: LabeledQuestionSet
            var isFolder: ObjCBool = false
            let folder = FileManager.default.fileExists(atPath: labels.path, isDirectory: &isFolder) && isFolder.boolValue
            do {
                set = folder ? try LabeledQuestionSet.load(beirFolder: labels, split: "train") : try LabeledQuestionSet.load(labels)
            } catch { throw PipelineError.evaluation(underlying: error) }
            let (kept, warnings) = set.restricted(toDocuments: Set(documents), source: labels.path)
            notes += warnings
            let training = kept.questions.filter { q in !q.relevant.keys.contains { heldOutDocuments.contains($0.documentID) } }
            heldOut += kept.questions.filter { q in q.relevant.keys.contains { heldOutDocuments.contains($0.documentID) } }
            candidates += try labelCandidates(training, chunksByDocument: chunksByDocument, store: store, notes: &notes)
        }
        if options.fromHeadings {
            // A heading that several sections share ("Examples", "Notes") names none of them: its pairs would
            // teach the model that one query fits many passages, so only headings unique in the collection train.
            let pairsByDocument = Dictionary(uniqueKeysWithValues: documents.map { ($0, Self.headingPairs(chunksByDocument[$0] ?? [])) })
            var uses: [String: Int] = [:]
            for pairs in pairsByDocument.values { for (query, _) in pairs { uses[query.lowercased(), default: 0] += 1 } }
            let shared = uses.values.filter { $0 > 1 }.reduce(0, +)
            if shared > 0 { notes.append("\(shared) heading pairs left out: their heading is shared by several sections") }
            for document in documents {
                for (query, chunk) in pairsByDocument[document] ?? [] where uses[query.lowercased()] == 1 {
                    if heldOutDocuments.contains(document) {
                        heldOut.append(LabeledQuestion(id: "\(document)#\(chunk.anchor ?? "")@\(heldOut.count)", question: query,
                                                       relevant: [LabelTarget(documentID: document, anchor: chunk.anchor): 1]))
                    } else {
                        candidates.append(TrainingCandidate(query: query, positive: chunk, stripPrefix: true,
                                                    sameSection: { $0.documentID == chunk.documentID && $0.headingPath == chunk.headingPath }))
                    }
                }
            }
        }
        if let cap = options.maxExamples, candidates.count > cap {
            var sampler = SplitMix64(state: options.seed ^ 0xCAFE)
            for i in stride(from: candidates.count - 1, to: 0, by: -1) { candidates.swapAt(i, sampler.below(i + 1)) }
            notes.append("\(candidates.count) examples sampled down to \(cap) (--max-examples)")
            candidates = Array(candidates.prefix(cap))
        }
        let examples = try mineNegatives(candidates, store: store, options: options,
                                         forbidden: excluded.union(heldOutDocuments))
        return TrainingData(examples: examples,
                            heldOut: heldOut.isEmpty ? nil : LabeledQuestionSet(questions: heldOut),
                            heldOutDocuments: heldOutDocuments, notes: notes)
    }

    /// An example before mining: the query, its positive chunk, and which chunks count as the same answer.
    struct TrainingCandidate {
        var query: String
        var positive: Chunk
        /// Heading pairs train on text without the heading prefix (else the query is in the passage verbatim).
        var stripPrefix: Bool
        var sameSection: (Chunk) -> Bool
    }

    func exportChunks(_ store: any CollectionStore, documents: [String]) throws -> [String: [Chunk]] {
        var out: [String: [Chunk]] = [:]
        do {
            for start in stride(from: 0, to: documents.count, by: 200) {
                for update in try store.documents.export(documentIDs: Array(documents[start..<min(start + 200, documents.count)])) {
                    out[update.id] = update.chunks
                }
            }
        } catch { throw PipelineError.stage(.index, underlying: error) }
        return out
    }

    /// The (heading → first chunk of its section) pairs of one document, in order: the innermost heading with any
    /// section number ("4.2. ") removed as the query; sections whose heading is the page's only one included.
    static func headingPairs(_ chunks: [Chunk]) -> [(String, Chunk)] {
        var seen = Set<[String]>()
        var pairs: [(String, Chunk)] = []
        for chunk in chunks where !chunk.headingPath.isEmpty && seen.insert(chunk.headingPath).inserted {
            let query = cleanHeading(chunk.headingPath.last!)
            guard query.count >= 3, !passageText(chunk, stripPrefix: true).isEmpty else { continue }
            pairs.append((query, chunk))
        }
        return pairs
    }

    static func cleanHeading(_ heading: String) -> String {
        let text = heading.trimmingCharacters(in: .whitespacesAndNewlines)
        // "4.2. for Statements", "12 Intro": a leading section number (digits and dots, then a space) says nothing
        // a user would ask; "2to3" or "3.11 changes"-like titles without the space after the number part stay.
        let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard number.first?.isNumber == true, text.dropFirst(number.count).first == " " else { return text }
        return text.dropFirst(number.count).trimmingCharacters(in: .whitespaces)
    }

    /// The chunk's text as the model saw it at indexing, or without its heading-path line.
    static func passageText(_ chunk: Chunk, stripPrefix: Bool) -> String {
        guard stripPrefix, let newline = chunk.text.firstIndex(of: "\n") else { return chunk.text }
        let first = chunk.text[..<newline]
        let headings = Set(chunk.headingPath)
        let parts = first.components(separatedBy: " > ")
        guard parts.allSatisfy({ headings.contains($0) }) else { return chunk.text }
        return String(chunk.text[chunk.text.index(after: newline)...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Labelled questions → candidates: the positive is, among the chunks of the question's relevant targets, the
    /// one whose stored vector is closest to the question's embedding.
    func labelCandidates(_ questions: [LabeledQuestion], chunksByDocument: [String: [Chunk]], store: any CollectionStore,
                         notes: inout [String]) throws -> [TrainingCandidate] {
        guard !questions.isEmpty else { return [] }
        let embedder = try self.embedder()
        let queryVectors: [[Float]]
        do { queryVectors = try embedder.embed(questions.map(\.question)) } catch { throw PipelineError.stage(.embedder, underlying: error) }
        var out: [TrainingCandidate] = []
        var unmatched = 0, pageLevel = 0
        for (question, vector) in zip(questions, queryVectors) {
            let targets = question.relevant.filter { $0.value > 0 }.map(\.key)
            var matching = targets.flatMap { target in
                (chunksByDocument[target.documentID] ?? []).filter { target.matches(documentID: $0.documentID, anchor: $0.anchor) }
            }
            // An anchor no chunk starts at (a page's own top anchor, a section inside a chunk): its page stands in.
            if matching.isEmpty {
                matching = targets.flatMap { chunksByDocument[$0.documentID] ?? [] }
                if !matching.isEmpty { pageLevel += 1 }
            }
            guard !matching.isEmpty else { unmatched += 1; continue }
            let stored: [String: [Float]]
            do { stored = try store.vectors.vectors(chunkIDs: matching.map(\.id)) } catch { throw PipelineError.stage(.index, underlying: error) }
            let best = matching.max { a, b in
                Self.dot(stored[a.id], vector) < Self.dot(stored[b.id], vector)
            }!
            out.append(TrainingCandidate(query: question.question, positive: best, stripPrefix: false, sameSection: { chunk in
                chunk.id == best.id || targets.contains { $0.matches(documentID: chunk.documentID, anchor: chunk.anchor) }
            }))
        }
        if pageLevel > 0 { notes.append("\(pageLevel) labelled question(s) name an anchor no passage starts at; their page's best passage is the positive") }
        if unmatched > 0 { notes.append("\(unmatched) labelled question(s) have no passage of their targets in the index; skipped") }
        return out
    }

    static func dot(_ a: [Float]?, _ b: [Float]) -> Float {
        guard let a, a.count == b.count else { return -.infinity }
        return zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// Dense and BM25 top-`mineDepth` for each query, minus the ranks skipped, the positive's own section and the
    /// forbidden (excluded, held-out) documents; interleaved dense, BM25, dense, … up to `hardNegatives`.
    func mineNegatives(_ candidates: [TrainingCandidate], store: any CollectionStore, options: TrainingDataOptions,
                       forbidden: Set<String>) throws -> [TrainingExample] {
        guard options.hardNegatives > 0 else {
            return candidates.map { TrainingExample(query: $0.query, positive: Self.passageText($0.positive, stripPrefix: $0.stripPrefix),
                                                    group: $0.positive.documentID) }
        }
        let embedder = try self.embedder()
        var examples: [TrainingExample] = []
        examples.reserveCapacity(candidates.count)
        for start in stride(from: 0, to: candidates.count, by: 256) {
            let slice = Array(candidates[start..<min(start + 256, candidates.count)])
            let dense: [[ScoredChunk]]
            var lexical: [[ScoredChunk]] = []
            do {
                dense = try store.vectors.search(try embedder.embed(slice.map(\.query)), topK: options.mineDepth)
                for c in slice { lexical.append(try store.lexical.search(c.query, topK: options.mineDepth)) }
            } catch { throw PipelineError.stage(.dense, underlying: error) }
            let ids = Array(Set((dense + lexical).flatMap { $0.map(\.chunkID) }))
            let chunks: [String: Chunk]
            do { chunks = Dictionary(try store.documents.chunks(ids: ids).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }) } catch {
                throw PipelineError.stage(.index, underlying: error)
            }
            for (n, candidate) in slice.enumerated() {
                let positiveText = Self.passageText(candidate.positive, stripPrefix: candidate.stripPrefix)
                func usable(_ list: [ScoredChunk]) -> [Chunk] {
                    list.dropFirst(options.skipTop).compactMap { chunks[$0.chunkID] }.filter {
                        !candidate.sameSection($0) && !forbidden.contains($0.documentID)
                    }
                }
                let a = usable(dense[n]), b = usable(lexical[n])
                var negatives: [String] = [], seen: Set<String> = [positiveText]
                var i = 0
                while negatives.count < options.hardNegatives && (i < a.count || i < b.count) {
                    for list in [a, b] where i < list.count && negatives.count < options.hardNegatives {
                        let text = Self.passageText(list[i], stripPrefix: candidate.stripPrefix)
                        if !text.isEmpty && seen.insert(text).inserted { negatives.append(text) }
                    }
                    i += 1
                }
                examples.append(TrainingExample(query: candidate.query, positive: positiveText, negatives: negatives,
                                                group: candidate.positive.documentID))
            }
        }
        return examples
    }

    /// `sift train --exclude` follows the source's glob rules (`source.exclude`), on document ids.
    static func glob(_ pattern: String, matches text: String) -> Bool { Glob.matches(pattern, path: text) }
}
