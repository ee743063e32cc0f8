import Dispatch
import Foundation
import SiftCore

/// BERT WordPiece tokenizer with the behaviour of the Hugging Face fast tokenizer (Rust
/// `tokenizers`): BertNormalizer → BertPreTokenizer → WordPiece → [CLS]/[SEP] template.
///
/// Immutable after init and safe to share between threads. Offsets are Unicode-scalar offsets
/// into the original text, the unit of every character offset in Sift.
public final class WordPieceTokenizer: TokenCounter, Sendable {
    public let configuration: TokenizerConfiguration
    private let vocabulary: [String]
    private let idsByToken: [String: Int32]
    private let table: VocabularyTable
    /// Special tokens matched verbatim in raw text, as scalars, with their ids.
    private let specials: [(scalars: [UInt32], id: Int32)]

    /// `BertCharacters.bmpFlags`, held here so hot loops skip the global's lazy-init check.
    private let bmpFlags: [BertCharacters.Flags]

    public let clsID: Int32
    public let sepID: Int32
    public let padID: Int32
    public let unkID: Int32

    /// Loads a Hugging Face tokenizer folder: `tokenizer.json` when present, else `vocab.txt`
    /// (+ `tokenizer_config.json` for do_lower_case, strip_accents, tokenize_chinese_chars,
    /// model_max_length). Throws `TokenizerError` naming the file and key on any problem.
    public convenience init(directory: URL) throws {
        let loaded = try TokenizerFolderLoader.load(directory: directory)
        let missing = [loaded.configuration.unknownToken, loaded.configuration.classifierToken,
                       loaded.configuration.separatorToken, loaded.configuration.paddingToken]
            .filter { !loaded.vocabulary.contains($0) }
        if let token = missing.first {
            throw TokenizerError.invalidValue(file: directory.path, key: "vocabulary",
                                              expected: "an entry for special token \(token)", actual: "none")
        }
        self.init(vocabulary: loaded.vocabulary, configuration: loaded.configuration)
    }

    /// A tokenizer over `vocabulary` (index = id). The unknown, [CLS], [SEP] and [PAD] tokens
    /// must be in the vocabulary (programmer error otherwise).
    public init(vocabulary: [String], configuration: TokenizerConfiguration = TokenizerConfiguration()) {
        self.configuration = configuration
        self.vocabulary = vocabulary
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(vocabulary.count)
        for (id, token) in vocabulary.enumerated() { ids[token] = Int32(id) }
        self.idsByToken = ids
        self.bmpFlags = BertCharacters.bmpFlags
        self.table = VocabularyTable(vocabulary: vocabulary, continuationPrefix: configuration.continuingSubwordPrefix)
        func required(_ token: String) -> Int32 {
            guard let id = ids[token] else { preconditionFailure("special token \(token) is not in the vocabulary") }
            return id
        }
        clsID = required(configuration.classifierToken)
        sepID = required(configuration.separatorToken)
        padID = required(configuration.paddingToken)
        unkID = required(configuration.unknownToken)
        // Longest first, so that matching at one position prefers the longest special token.
        specials = configuration.specialTokens
            .compactMap { token in ids[token].map { (token.unicodeScalars.map(\.value), $0) } }
            .filter { !$0.0.isEmpty }
            .sorted { $0.0.count > $1.0.count }
    }

    // MARK: Vocabulary

    /// Number of entries in the vocabulary (ids are 0..<vocabularySize).
    public var vocabularySize: Int { vocabulary.count }
    /// The longest sequence the model accepts, special tokens included.
    public var modelMaxLength: Int { configuration.modelMaxLength }
    public func id(for token: String) -> Int32? { idsByToken[token] }
    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < vocabulary.count ? vocabulary[Int(id)] : nil
    }

    // MARK: Tokenising

    /// WordPiece strings of `text` (no special tokens added; "[SEP]" typed in the text stays one token).
    public func tokenize(_ text: String) -> [String] {
        tokenIDs(text).map { vocabulary[Int($0)] }
    }

    /// Token ids of `text` without [CLS]/[SEP]: the fast path for counting.
    public func tokenIDs(_ text: String) -> [Int32] {
        var sink = IDSink()
        run(text, into: &sink)
        return sink.ids
    }

    /// Tokens of `text` including [CLS] and [SEP] (TokenCounter).
    public func tokenCount(_ text: String) -> Int {
        var sink = CountSink()
        run(text, into: &sink)
        return sink.count + 2
    }

    /// [CLS] text [SEP]. With `maxLength`, longer inputs are cut per `truncation`
    /// (`.onlySecond` throws, as there is no second sequence; `.error` throws `sequenceTooLong`).
    public func encode(_ text: String, maxLength: Int? = nil,
                       truncation: TruncationStrategy = .longestFirst) throws -> Encoding {
        var pieces = PieceSink()
        run(text, into: &pieces)
        var dropped = 0
        if let maxLength {
            let total = pieces.count + 2
            if total > maxLength {
                guard maxLength >= 2 else {
                    throw TokenizerError.cannotTruncate(strategy: truncation, length: total, maxLength: maxLength,
                                                        reason: "the 2 special tokens alone exceed the maximum")
                }
                let budget = maxLength - 2
                switch truncation {
                case .error:
                    throw TokenizerError.sequenceTooLong(length: total, maxLength: maxLength)
                case .onlySecond:
                    throw TokenizerError.cannotTruncate(strategy: truncation, length: total, maxLength: maxLength,
                                                        reason: "there is no second sequence")
                case .longestFirst, .onlyFirst:
                    dropped = pieces.count - budget
                    pieces.truncate(to: budget)
                }
            }
        }
        var encoding = Encoding(ids: [], tokenTypeIDs: [], attentionMask: [], offsets: [], sequenceIDs: [],
                                truncatedTokenCount: dropped)
        reserve(&encoding, pieces.count + 2)
        appendSpecial(&encoding, clsID, type: 0)
        append(&encoding, pieces, sequence: 0)
        appendSpecial(&encoding, sepID, type: 0)
        return encoding
    }

    /// [CLS] first [SEP] second [SEP], token types 0 then 1. With `maxLength`, inputs are cut
    /// per `truncation` (HF semantics); a strategy that cannot fit throws `cannotTruncate`.
    public func encodePair(_ first: String, _ second: String, maxLength: Int?,
                           truncation: TruncationStrategy = .longestFirst) throws -> Encoding {
        var a = PieceSink()
        run(first, into: &a)
        var b = PieceSink()
        run(second, into: &b)
        var dropped = 0
        if let maxLength {
            let total = a.count + b.count + 3
            if total > maxLength {
                guard maxLength >= 3 else {
                    throw TokenizerError.cannotTruncate(strategy: truncation, length: total, maxLength: maxLength,
                                                        reason: "the 3 special tokens alone exceed the maximum")
                }
                let budget = maxLength - 3
                let toRemove = a.count + b.count - budget
                switch truncation {
                case .error:
                    throw TokenizerError.sequenceTooLong(length: total, maxLength: maxLength)
                case .longestFirst:
                    // Rust tokenizers: the shorter keeps its length when the longer can absorb the
                    // cut; otherwise budget/2 each, the longer (or, on a tie, the second) keeps the odd one.
                    var n1 = a.count, n2 = b.count
                    let swap = n1 > n2
                    if swap { Swift.swap(&n1, &n2) }
                    n2 = n1 > budget ? n1 : max(n1, budget - n1)
                    if n1 + n2 > budget {
                        n1 = budget / 2
                        n2 = n1 + budget % 2
                    }
                    if swap { Swift.swap(&n1, &n2) }
                    if budget == 0 { n1 = 0; n2 = 0 }
                    a.truncate(to: min(a.count, n1))
                    b.truncate(to: min(b.count, n2))
                case .onlyFirst, .onlySecond:
                    let targetCount = truncation == .onlyFirst ? a.count : b.count
                    if budget == 0 {
                        a.truncate(to: 0)
                        b.truncate(to: 0)
                    } else if targetCount > toRemove {
                        if truncation == .onlyFirst { a.truncate(to: a.count - toRemove) } else { b.truncate(to: b.count - toRemove) }
                    } else {
                        let which = truncation == .onlyFirst ? "first" : "second"
                        throw TokenizerError.cannotTruncate(
                            strategy: truncation, length: total, maxLength: maxLength,
                            reason: "the \(which) sequence has \(targetCount) tokens but \(toRemove) must be removed")
                    }
                }
                dropped = total - (a.count + b.count + 3)
            }
        }
        var encoding = Encoding(ids: [], tokenTypeIDs: [], attentionMask: [], offsets: [], sequenceIDs: [],
                                truncatedTokenCount: dropped)
        reserve(&encoding, a.count + b.count + 3)
        appendSpecial(&encoding, clsID, type: 0)
        append(&encoding, a, sequence: 0)
        appendSpecial(&encoding, sepID, type: 0)
        append(&encoding, b, sequence: 1)
        appendSpecial(&encoding, sepID, type: 1)
        return encoding
    }

    /// Encodes each text ([CLS] text [SEP], cut to `maxLength` from the end) in parallel
    /// contiguous chunks; the result is in input order and equals `encode` on each text.
    public func encodeBatch(_ texts: [String], maxLength: Int) -> [Encoding] {
        precondition(maxLength >= 2, "maxLength must leave room for [CLS] and [SEP]")
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, texts.count / 16))
        let chunkSize = (texts.count + workers - 1) / max(workers, 1)
        let collected = BatchResults(count: workers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let range = (worker * chunkSize)..<min(texts.count, (worker + 1) * chunkSize)
            // Cannot throw: longestFirst on a single sequence with maxLength >= 2 always fits.
            let encodings = range.map { try! self.encode(texts[$0], maxLength: maxLength, truncation: .longestFirst) }
            collected.store(encodings, at: worker)
        }
        return collected.joined()
    }

    // MARK: Encoding assembly

    private func reserve(_ encoding: inout Encoding, _ count: Int) {
        encoding.ids.reserveCapacity(count)
        encoding.tokenTypeIDs.reserveCapacity(count)
        encoding.attentionMask.reserveCapacity(count)
        encoding.offsets.reserveCapacity(count)
        encoding.sequenceIDs.reserveCapacity(count)
    }

    private func appendSpecial(_ encoding: inout Encoding, _ id: Int32, type: Int32) {
        encoding.ids.append(id)
        encoding.tokenTypeIDs.append(type)
        encoding.attentionMask.append(1)
        encoding.offsets.append(nil)
        encoding.sequenceIDs.append(nil)
    }

    private func append(_ encoding: inout Encoding, _ pieces: PieceSink, sequence: Int) {
        for index in 0..<pieces.count {
            encoding.ids.append(pieces.ids[index])
            encoding.tokenTypeIDs.append(Int32(sequence))
            encoding.attentionMask.append(1)
            encoding.offsets.append(Int(pieces.starts[index])..<Int(pieces.ends[index]))
            encoding.sequenceIDs.append(sequence)
        }
    }

    // MARK: Pipeline

    /// Splits raw text at special tokens, then normalises, pre-tokenises and WordPiece-encodes
    /// each segment, reporting (id, original scalar start, end) to `sink` in order.
    private func run<Sink: TokenSink>(_ text: String, into sink: inout Sink) {
        let scalars = Self.scalarValues(text)
        var state = WordState()
        var segmentStart = 0
        var position = 0
        let count = scalars.count
        if specials.isEmpty {
            normalizeSegment(scalars, 0..<count, &state, &sink)
            return
        }
        while position < count {
            // Special tokens are all bracketed in BERT vocabularies, but match generically.
            var matched: (length: Int, id: Int32)? = nil
            for special in specials where special.scalars[0] == scalars[position] {
                let length = special.scalars.count
                if position + length <= count && scalars[position..<(position + length)].elementsEqual(special.scalars) {
                    matched = (length, special.id)
                    break
                }
            }
            if let matched {
                normalizeSegment(scalars, segmentStart..<position, &state, &sink)
                sink.append(id: matched.id, start: Int32(position), end: Int32(position + matched.length))
                position += matched.length
                segmentStart = position
            } else {
                position += 1
            }
        }
        normalizeSegment(scalars, segmentStart..<count, &state, &sink)
    }

    /// The Unicode scalar values of `text`, decoded straight from its (always valid) UTF-8.
    private static func scalarValues(_ text: String) -> [UInt32] {
        var text = text
        return text.withUTF8 { bytes in
            [UInt32](unsafeUninitializedCapacity: bytes.count) { buffer, initialized in
                var i = 0
                var n = 0
                let count = bytes.count
                while i < count {
                    let b0 = UInt32(bytes[i])
                    if b0 < 0x80 {
                        buffer[n] = b0
                        i += 1
                    } else if b0 < 0xE0 {
                        buffer[n] = (b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)
                        i += 2
                    } else if b0 < 0xF0 {
                        buffer[n] = (b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F)
                        i += 3
                    } else {
                        buffer[n] = (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12
                            | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F)
                        i += 4
                    }
                    n += 1
                }
                initialized = n
            }
        }
    }

    /// BertNormalizer (clean text, CJK spacing, strip accents, lowercase) and BertPreTokenizer
    /// (whitespace split, punctuation isolated) fused into one pass over the scalars.
    ///
    /// Offsets follow HF's alignment bookkeeping exactly, including its quirk under canonical
    /// reordering: NFD output characters take the alignment of the *position* they land on, so a
    /// kept mark that NFD moves in front of a dropped one reports the dropped one's position.
    private func normalizeSegment<Sink: TokenSink>(_ scalars: [UInt32], _ range: Range<Int>,
                                                   _ state: inout WordState, _ sink: inout Sink) {
        let clean = configuration.cleanText
        let strip = configuration.effectiveStripAccents
        let chinese = configuration.handleChineseCharacters
        state.resetSegment()
        for index in range {
            let c = scalars[index]
            let alignment = Alignment(start: Int32(index), end: Int32(index + 1))
            if c < 0x80 {
                let flags = bmpFlags[Int(c)]
                if clean && flags.contains(.removed) { continue }
                // An ASCII scalar is an NFD starter: the pending combining block is complete.
                if strip && !state.pending.isEmpty { releaseDecomposed(&state, &sink) }
                state.lastAlignment = alignment
                state.lastStageAlignment = alignment
                state.segmentHasContent = true
                if flags.contains(.whitespace) { flushWord(&state, &sink); continue }
                if flags.contains(.punctuation) {
                    flushWord(&state, &sink)
                    state.append(c, alignment)
                    flushWord(&state, &sink)
                    continue
                }
                state.append(configuration.lowercase && c >= 0x41 && c <= 0x5A ? c + 32 : c, alignment)
                continue
            }
            let flags = c < 0x10000 ? bmpFlags[Int(c)] : BertCharacters.flags(c)
            var normalized = c
            if clean {
                if flags.contains(.removed) { continue }
                if flags.contains(.whitespace) { normalized = 0x20 }
            }
            if chinese && flags.contains(.chinese) {
                // HF inserts a space on each side; they align with the neighbouring characters.
                let before = state.segmentHasContent ? state.lastStageAlignment : Alignment(start: 0, end: 0)
                afterCleaning(0x20, before, strip, &state, &sink)
                afterCleaning(normalized, alignment, strip, &state, &sink)
                afterCleaning(0x20, alignment, strip, &state, &sink)
            } else {
                afterCleaning(normalized, alignment, strip, &state, &sink)
            }
        }
        if strip && !state.pending.isEmpty { releaseDecomposed(&state, &sink) }
        flushWord(&state, &sink)
    }

    /// One character of the cleaned (and CJK-spaced) text with its alignment, on to strip-accents.
    @inline(__always)
    private func afterCleaning<Sink: TokenSink>(_ c: UInt32, _ alignment: Alignment, _ strip: Bool,
                                                _ state: inout WordState, _ sink: inout Sink) {
        state.segmentHasContent = true
        state.lastStageAlignment = alignment
        guard strip else {
            lowercaseAndFeed(c, alignment, &state, &sink)
            return
        }
        // NFD: decompose, then stably sort each block of non-starters by combining class
        // (unicode-normalization's buffering); changes travel with the characters.
        state.pendingAlignments.append(alignment)
        if let decomposed = BertCharacters.decomposition(c) {
            for (j, d) in decomposed.enumerated() { pushDecomposed(d, isFirst: j == 0, &state, &sink) }
        } else {
            pushDecomposed(c, isFirst: true, &state, &sink)
        }
    }

    @inline(__always)
    private func pushDecomposed<Sink: TokenSink>(_ c: UInt32, isFirst: Bool,
                                                 _ state: inout WordState, _ sink: inout Sink) {
        let combiningClass = BertCharacters.combiningClass(c)
        if combiningClass == 0 && !state.pending.isEmpty { releaseDecomposed(&state, &sink) }
        state.pending.append(PendingScalar(combiningClass: combiningClass, scalar: c, isFirst: isFirst))
    }

    /// Emits the pending NFD block in canonical order. Alignments are assigned by position, as in
    /// HF's `transform`: a character that replaces one takes the next original position's
    /// alignment; an added one repeats the last consumed alignment.
    private func releaseDecomposed<Sink: TokenSink>(_ state: inout WordState, _ sink: inout Sink) {
        guard !state.pending.isEmpty else { return }
        if state.pending.count > 2 || (state.pending.count == 2 && state.pending[1].combiningClass < state.pending[0].combiningClass) {
            // Stable insertion sort by combining class (blocks are tiny).
            for i in 1..<state.pending.count {
                let item = state.pending[i]
                var j = i
                while j > 0 && state.pending[j - 1].combiningClass > item.combiningClass {
                    state.pending[j] = state.pending[j - 1]
                    j -= 1
                }
                state.pending[j] = item
            }
        }
        for item in state.pending {
            let alignment: Alignment
            if item.isFirst {
                alignment = state.pendingAlignments[state.pendingHead]
                state.pendingHead += 1
                state.lastAlignment = alignment
            } else {
                alignment = state.lastAlignment
            }
            let flags = BertCharacters.flags(item.scalar)
            if flags.contains(.nonspacingMark) { continue }
            lowercaseAndFeed(item.scalar, alignment, &state, &sink)
        }
        state.pending.removeAll(keepingCapacity: true)
        if state.pendingHead == state.pendingAlignments.count {
            state.pendingAlignments.removeAll(keepingCapacity: true)
            state.pendingHead = 0
        }
    }

    @inline(__always)
    private func lowercaseAndFeed<Sink: TokenSink>(_ c: UInt32, _ alignment: Alignment,
                                                   _ state: inout WordState, _ sink: inout Sink) {
        let flags = c < 0x10000 ? bmpFlags[Int(c)] : BertCharacters.flags(c)
        if configuration.lowercase && flags.contains(.changesWhenLowercased) {
            if c < 0x80 {
                feed(c + 32, alignment, &state, &sink)
            } else {
                // Every scalar of the expansion keeps the source character's alignment.
                for l in BertCharacters.lowercase(c) { feed(l, alignment, &state, &sink) }
            }
        } else {
            feed(c, alignment, &state, &sink)
        }
    }

    /// Pre-tokenizer step for one normalised scalar.
    @inline(__always)
    private func feed<Sink: TokenSink>(_ c: UInt32, _ alignment: Alignment, _ state: inout WordState, _ sink: inout Sink) {
        let flags = c < 0x10000 ? bmpFlags[Int(c)] : BertCharacters.flags(c)
        if flags.contains(.whitespace) {
            flushWord(&state, &sink)
        } else if flags.contains(.punctuation) {
            flushWord(&state, &sink)
            state.append(c, alignment)
            flushWord(&state, &sink)
        } else {
            state.append(c, alignment)
        }
    }

    /// Greedy longest-match-first WordPiece over the buffered word, then clears the buffer.
    private func flushWord<Sink: TokenSink>(_ state: inout WordState, _ sink: inout Sink) {
        let n = state.length
        guard n > 0 else { return }
        defer { state.length = 0 }
        let wordStart = state.starts[0]
        let wordEnd = state.ends[n - 1]
        if n > configuration.maxInputCharactersPerWord {
            sink.append(id: unkID, start: wordStart, end: wordEnd)
            return
        }
        state.reservePieces(n)
        var pieces = 0
        var start = 0
        while start < n {
            var hash = start == 0 ? VocabularyTable.wordSeed : VocabularyTable.continuationSeed
            for i in start..<n {
                hash = VocabularyTable.step(hash, state.word[i])
                state.hashes[i] = hash
            }
            var end = n
            var found: Int32? = nil
            while end > start {
                if let id = table.lookup(state.word[start..<end], hash: state.hashes[end - 1]) {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                // Unmatchable: the whole word becomes [UNK].
                sink.append(id: unkID, start: wordStart, end: wordEnd)
                return
            }
            state.pieceIDs[pieces] = id
            state.pieceEnds[pieces] = Int32(end)
            pieces += 1
            start = end
        }
        var pieceStart = 0
        for k in 0..<pieces {
            let pieceEnd = Int(state.pieceEnds[k])
            sink.append(id: state.pieceIDs[k], start: state.starts[pieceStart], end: state.ends[pieceEnd - 1])
            pieceStart = pieceEnd
        }
    }
}

// MARK: - Internal buffers

/// Original-text span (Unicode scalars) a normalised scalar comes from, as HF's alignments.
struct Alignment {
    var start: Int32
    var end: Int32
}

/// One NFD output scalar waiting for its combining block to be sorted.
struct PendingScalar {
    var combiningClass: UInt8
    var scalar: UInt32
    /// First scalar of a character's decomposition (replaces it) rather than an added one.
    var isFirst: Bool
}

/// Per-call scratch state: the word being built (normalised scalars with their alignments) and
/// the NFD block being buffered. Buffers only grow; `length` is the word's size.
private struct WordState {
    var word: [UInt32]
    var starts: [Int32]
    var ends: [Int32]
    var length = 0
    var hashes: [UInt64]
    var pieceIDs: [Int32]
    var pieceEnds: [Int32]
    var pending: [PendingScalar] = []
    var pendingAlignments: [Alignment] = []
    var pendingHead = 0
    var lastAlignment = Alignment(start: 0, end: 0)
    var lastStageAlignment = Alignment(start: 0, end: 0)
    var segmentHasContent = false

    init(capacity: Int = 32) {
        word = [UInt32](repeating: 0, count: capacity)
        starts = [Int32](repeating: 0, count: capacity)
        ends = [Int32](repeating: 0, count: capacity)
        hashes = [UInt64](repeating: 0, count: capacity)
        pieceIDs = [Int32](repeating: 0, count: capacity)
        pieceEnds = [Int32](repeating: 0, count: capacity)
    }

    mutating func resetSegment() {
        pending.removeAll(keepingCapacity: true)
        pendingAlignments.removeAll(keepingCapacity: true)
        pendingHead = 0
        lastAlignment = Alignment(start: 0, end: 0)
        lastStageAlignment = Alignment(start: 0, end: 0)
        segmentHasContent = false
    }

    @inline(__always)
    mutating func append(_ scalar: UInt32, _ alignment: Alignment) {
        if length == word.count { grow() }
        word[length] = scalar
        starts[length] = alignment.start
        ends[length] = alignment.end
        length += 1
    }

    private mutating func grow() {
        let extra = max(32, word.count)
        word.append(contentsOf: repeatElement(0, count: extra))
        starts.append(contentsOf: repeatElement(0, count: extra))
        ends.append(contentsOf: repeatElement(0, count: extra))
    }

    /// Room for `n` hashes and pieces (a word of n scalars has at most n pieces).
    @inline(__always)
    mutating func reservePieces(_ n: Int) {
        guard hashes.count < n else { return }
        hashes = [UInt64](repeating: 0, count: n)
        pieceIDs = [Int32](repeating: 0, count: n)
        pieceEnds = [Int32](repeating: 0, count: n)
    }
}

/// Per-worker results of `encodeBatch`, written once per worker under a lock.
private final class BatchResults: @unchecked Sendable {
    private var chunks: [[Encoding]]
    private let lock = NSLock()

    init(count: Int) { chunks = Array(repeating: [], count: count) }

    func store(_ encodings: [Encoding], at index: Int) {
        lock.lock()
        chunks[index] = encodings
        lock.unlock()
    }

    func joined() -> [Encoding] {
        lock.lock()
        defer { lock.unlock() }
        return chunks.flatMap { $0 }
    }
}

/// Receives tokens as (id, original scalar start, original scalar end).
private protocol TokenSink {
    mutating func append(id: Int32, start: Int32, end: Int32)
}

private struct CountSink: TokenSink {
    var count = 0
    @inline(__always) mutating func append(id: Int32, start: Int32, end: Int32) { count += 1 }
}

private struct IDSink: TokenSink {
    var ids: [Int32] = []
    @inline(__always) mutating func append(id: Int32, start: Int32, end: Int32) { ids.append(id) }
}

private struct PieceSink: TokenSink {
    var ids: [Int32] = []
    var starts: [Int32] = []
    var ends: [Int32] = []
    var count: Int { ids.count }

    @inline(__always) mutating func append(id: Int32, start: Int32, end: Int32) {
        ids.append(id)
        starts.append(start)
        ends.append(end)
    }

    mutating func truncate(to length: Int) {
        guard length < ids.count else { return }
        ids.removeSubrange(length...)
        starts.removeSubrange(length...)
        ends.removeSubrange(length...)
    }
}
