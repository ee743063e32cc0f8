import SiftCore

/// Cuts documents into passages that fit the model, keeping provenance (anchor, heading path, scalar range).
///
/// Splitting uses the largest unit that fits the budget: a section (consecutive blocks sharing a heading
/// path, and with `splitOnAnchor` also an anchor) → its blocks → sentences (lines for code and tables) → words → runs of scalars (only for a single
/// word longer than the budget). Units are packed greedily in reading order, so short neighbours share a
/// chunk; a heading never ends a chunk while content follows it in the section, and a section's last chunk
/// shorter than `minTokens` borrows trailing units from the chunk before it.
///
/// Tokens are counted once per unit and summed (the WordPiece count of texts joined by whitespace is the
/// sum of their counts minus the special tokens); every chunk is then counted exactly once more before it is
/// emitted and split further if the sum was optimistic, so `Chunk.tokenCount ≤ maxTokens` always holds for
/// any counter where one scalar plus specials fits the budget.
public struct Chunker: Sendable {
    public let settings: ChunkerSettings
    public let counter: any TokenCounter
    /// Tokens the counter adds to every text ([CLS] and [SEP] for BERT): the count of the empty string.
    public let specialTokens: Int

    /// Validates the settings against the counter's special tokens.
    /// - Throws: `ChunkerError` when `max_tokens` leaves no room for text, `overlap_tokens` is negative or
    ///   not below half the text budget, or `min_tokens` is negative.
    public init(settings: ChunkerSettings = ChunkerSettings(), counter: any TokenCounter) throws {
        let specials = counter.tokenCount("")
        guard settings.maxTokens >= specials + 1 else {
            throw ChunkerError.budgetTooSmall(maxTokens: settings.maxTokens, specialTokens: specials)
        }
        guard settings.minTokens >= 0 else { throw ChunkerError.negativeSetting(key: "min_tokens", value: settings.minTokens) }
        let overlapLimit = max(0, (settings.maxTokens - specials - 1) / 2)
        guard settings.overlapTokens >= 0, settings.overlapTokens <= overlapLimit else {
            throw ChunkerError.overlapTooLarge(overlapTokens: settings.overlapTokens, limit: overlapLimit)
        }
        self.settings = settings
        self.counter = counter
        self.specialTokens = specials
    }

    /// The document's chunks in reading order. Never empty or whitespace-only; ranges never decrease.
    /// A section's heading path as chunks carry it: opened with the page title (`titleInPath`) unless its first
    /// heading already carries the title, by containing it or opening it ("Processes and Signals" opens
    /// "Processes and Signals — The Workbench Handbook").
    public func headingPath(_ path: [String], pageTitle: String) -> [String] {
        let page = Self.comparable(pageTitle)
        guard settings.titleInPath, !page.isEmpty else { return path }
        if let first = path.first {
            let heading = Self.comparable(first)
            if heading.contains(page) || (!heading.isEmpty && page.hasPrefix(heading + " ")) { return path }
        }
        return [pageTitle.trimmingCharacters(in: .whitespacesAndNewlines)] + path
    }

    /// Lowercased letters and digits, single-spaced, for comparing a heading with a title.
    static func comparable(_ text: String) -> String {
        text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).joined(separator: " ")
    }

    public func chunk(_ document: Document) -> [Chunk] {
        var run = ChunkingRun(chunker: self, document: document)
        return run.chunks()
    }
}

// MARK: - Internals

/// Granularity of a unit; each level splits into the next one.
enum UnitLevel: Int, Comparable {
    case block, sentence, word, scalars
    static func < (a: UnitLevel, b: UnitLevel) -> Bool { a.rawValue < b.rawValue }
}

/// A piece of a section that is never cut further unless it alone overflows a chunk.
struct Unit {
    var range: Range<Int>
    /// Content tokens (special tokens excluded).
    var tokens: Int
    var level: UnitLevel
    var kind: BlockKind
    /// Index into `ChunkingRun.blocks` (kept blocks).
    var block: Int
    var isHeading: Bool { kind == .heading && level == .block }
}

/// Units packed into one chunk, before overlap and prefix are added.
struct UnitGroup {
    var units: [Unit] = []
    var tokens = 0
    /// False when the first unit needed the whole budget, leaving no room for overlap.
    var overlapAllowed = true
    var isEmpty: Bool { units.isEmpty }
    var isOnlyHeadings: Bool { !units.isEmpty && units.allSatisfy(\.isHeading) }
    mutating func append(_ unit: Unit) { units.append(unit); tokens += unit.tokens }
    mutating func removeLast() -> Unit { let u = units.removeLast(); tokens -= u.tokens; return u }
}

/// Blocks sharing a heading path, and with `splitOnAnchor` an anchor (a leading run of headings joins the
/// content that follows it, whatever its anchors).
struct Section {
    var blocks: [Int] = []
    var headingPath: [String] = []
    var hasContent = false
    /// The first content block's anchor: with `splitOnAnchor` every chunk of the section links there, even one
    /// that opens with a parent heading carrying its own anchor (the content is what answers a question).
    var contentAnchor: String?
}

/// One `chunk(_:)` call: the document's scalars, its kept blocks and the chunks emitted so far.
struct ChunkingRun {
    let chunker: Chunker
    let document: Document
    let scalars: [Unicode.Scalar]
    /// The text's UTF-8 bytes and, per scalar offset, where that scalar starts in them (count + 1 entries):
    /// slicing bytes is much faster than rebuilding strings scalar by scalar.
    let utf8: [UInt8]
    let utf8Offsets: [Int]
    /// Non-empty blocks with ranges clamped to the text, trimmed, and made non-overlapping.
    var blocks: [(block: Block, range: Range<Int>)] = []
    var output: [Chunk] = []
    let fingerprint: String

    var settings: ChunkerSettings { chunker.settings }
    /// Content tokens available in a chunk before any prefix.
    var textBudget: Int { settings.maxTokens - chunker.specialTokens }

    init(chunker: Chunker, document: Document) {
        self.chunker = chunker
        self.document = document
        self.scalars = Array(document.text.unicodeScalars)
        self.utf8 = Array(document.text.utf8)
        var offsets: [Int] = []
        offsets.reserveCapacity(scalars.count + 1)
        var byte = 0
        for scalar in scalars {
            offsets.append(byte)
            byte += UTF8.width(scalar)
        }
        offsets.append(byte)
        self.utf8Offsets = offsets
        self.fingerprint = chunker.settings.fingerprint
        var previousEnd = 0
        for block in document.blocks {
            let lower = max(previousEnd, min(block.range.lowerBound, scalars.count))
            let upper = max(lower, min(block.range.upperBound, scalars.count))
            guard let range = SentenceSplitter.trimWhitespace(scalars, lower..<upper) else { continue }
            blocks.append((block, range))
            previousEnd = range.upperBound
        }
    }

    mutating func chunks() -> [Chunk] {
        for section in sections() { chunkSection(section) }
        return output
    }

    // MARK: Sections

    func sections() -> [Section] {
        var result: [Section] = []
        var current = Section()
        for (index, entry) in blocks.enumerated() {
            let isHeading = entry.block.kind == .heading
            let anchorChanges = settings.splitOnAnchor && entry.block.anchor != current.contentAnchor
            let startsNew = !current.blocks.isEmpty && current.hasContent
                && (isHeading || entry.block.headingPath != current.headingPath || anchorChanges)
            if startsNew {
                result.append(current)
                current = Section()
            }
            current.blocks.append(index)
            // A run of headings takes the path of the content it introduces.
            if !current.hasContent { current.headingPath = entry.block.headingPath }
            if !isHeading, !current.hasContent {
                current.hasContent = true
                current.contentAnchor = entry.block.anchor
            }
        }
        if !current.blocks.isEmpty { result.append(current) }
        return result
    }

    // MARK: Text and counting

    func text(_ range: Range<Int>) -> String {
        String(decoding: utf8[utf8Offsets[range.lowerBound]..<utf8Offsets[range.upperBound]], as: UTF8.self)
    }

    /// Model tokens of the text minus the special tokens.
    func contentTokens(_ string: String) -> Int {
        max(0, chunker.counter.tokenCount(string) - chunker.specialTokens)
    }

    // MARK: Per section

    mutating func chunkSection(_ untitled: Section) {
        var section = untitled
        section.headingPath = titled(untitled.headingPath)
        let path = section.headingPath
        // The prefix may use at most a quarter of the text budget; fall back to the outermost and innermost
        // headings (the page title and the section), then the innermost, then none.
        var prefixPath: [String] = []
        var prefixTokens = 0
        if settings.headingPrefix, !path.isEmpty {
            let candidates = path.count > 2 ? [path, [path[0], path[path.count - 1]], [path[path.count - 1]]] : [path, [path[path.count - 1]]]
            for candidate in candidates {
                let tokens = contentTokens(Self.prefix(for: candidate))
                if tokens * 4 <= textBudget {
                    prefixPath = candidate
                    prefixTokens = tokens
                    break
                }
            }
        }
        let budget = textBudget - prefixTokens

        var units: [Unit] = []
        for blockIndex in section.blocks {
            let entry = blocks[blockIndex]
            appendUnits(entry.range, level: .block, kind: entry.block.kind, block: blockIndex, knownTokens: nil,
                        budget: budget, into: &units)
        }
        var groups = pack(units, budget: budget)
        rebalanceLast(&groups, budget: budget)

        var previous: UnitGroup?
        for group in groups {
            var overlapStart: Int?
            var overlapTokens = 0
            if let previous, group.overlapAllowed, settings.overlapTokens > 0 {
                (overlapStart, overlapTokens) = overlap(after: previous, room: min(settings.overlapTokens, budget - group.tokens))
            }
            emit(group, overlapStart: overlapStart, overlapTokens: overlapTokens, section: section,
                 prefixPath: prefixPath, budget: budget)
            previous = group
        }
    }

    func titled(_ path: [String]) -> [String] { chunker.headingPath(path, pageTitle: document.title) }

    static func prefix(for path: [String]) -> String {
        path.isEmpty ? "" : path.joined(separator: " > ") + "\n"
    }

    // MARK: Units

    /// Appends `range` as one unit when it fits `budget`, else the finer units it splits into.
    func appendUnits(_ range: Range<Int>, level: UnitLevel, kind: BlockKind, block: Int, knownTokens: Int?,
                     budget: Int, into units: inout [Unit]) {
        let tokens = knownTokens ?? contentTokens(text(range))
        if tokens <= budget || (level == .scalars && range.count <= 1) {
            units.append(Unit(range: range, tokens: tokens, level: level, kind: kind, block: block))
            return
        }
        switch level {
        case .block, .sentence:
            let next: UnitLevel = level == .block ? .sentence : .word
            let pieces = level == .block ? (Self.isLineBased(kind) ? lineRanges(range) : SentenceSplitter.ranges(in: scalars, within: range))
                                         : wordRanges(range)
            if pieces.count <= 1 {
                // Nothing to split at this level: try the next one on the same text.
                appendUnits(range, level: next, kind: kind, block: block, knownTokens: tokens, budget: budget, into: &units)
            } else {
                for piece in pieces {
                    appendUnits(piece, level: next, kind: kind, block: block, knownTokens: nil, budget: budget, into: &units)
                }
            }
        case .word:
            let words = wordRanges(range)
            if words.count <= 1 {
                appendScalarRuns(range, kind: kind, block: block, budget: budget, into: &units)
            } else {
                for word in words {
                    appendUnits(word, level: .scalars, kind: kind, block: block, knownTokens: nil, budget: budget, into: &units)
                }
            }
        case .scalars:
            appendScalarRuns(range, kind: kind, block: block, budget: budget, into: &units)
        }
    }

    static func isLineBased(_ kind: BlockKind) -> Bool { kind == .code || kind == .table }

    /// Cuts a word longer than the budget into the longest prefixes that fit: a galloping search on the
    /// count, so the cost grows with the piece length, not the word length.
    func appendScalarRuns(_ range: Range<Int>, kind: BlockKind, block: Int, budget: Int, into units: inout [Unit]) {
        var start = range.lowerBound
        while start < range.upperBound {
            let available = range.upperBound - start
            // Invariant: [start, start+lo) fits, or lo == 1 (a single scalar is taken regardless); start+hi does not fit.
            var lo = 1, loTokens = contentTokens(text(start..<(start + 1)))
            var hi = available + 1
            var probe = 2
            while probe <= available {
                let tokens = contentTokens(text(start..<(start + probe)))
                if tokens > budget { hi = probe; break }
                lo = probe; loTokens = tokens
                probe *= 2
            }
            if probe > available, hi == available + 1, lo < available {
                let tokens = contentTokens(text(start..<range.upperBound))
                if tokens <= budget { lo = available; loTokens = tokens } else { hi = available }
            }
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                let tokens = contentTokens(text(start..<(start + mid)))
                if tokens <= budget { lo = mid; loTokens = tokens } else { hi = mid }
            }
            units.append(Unit(range: start..<(start + lo), tokens: loTokens, level: .scalars, kind: kind, block: block))
            start += lo
        }
    }

    /// Non-blank lines of `range`; code keeps its indentation, trailing whitespace is dropped.
    func lineRanges(_ range: Range<Int>) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = range.lowerBound
        func add(_ end: Int) {
            var hi = end
            while hi > start, SentenceSplitter.isSpace(scalars[hi - 1]) { hi -= 1 }
            if scalars[start..<hi].contains(where: { !SentenceSplitter.isSpace($0) }) { result.append(start..<hi) }
        }
        for i in range where scalars[i] == "\n" {
            add(i)
            start = i + 1
        }
        add(range.upperBound)
        return result
    }

    /// Whitespace-separated words of `range`.
    func wordRanges(_ range: Range<Int>) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var i = range.lowerBound
        while i < range.upperBound {
            while i < range.upperBound, SentenceSplitter.isSpace(scalars[i]) { i += 1 }
            let start = i
            while i < range.upperBound, !SentenceSplitter.isSpace(scalars[i]) { i += 1 }
            if start < i { result.append(start..<i) }
        }
        return result
    }

    /// The units one level finer than `unit`, or nil when it cannot be split.
    func refine(_ unit: Unit, budget: Int) -> [Unit]? {
        guard unit.level < .scalars || unit.range.count > 1 else { return nil }
        var pieces: [Unit] = []
        // A budget one below the unit's count forces at least one split.
        appendUnits(unit.range, level: unit.level, kind: unit.kind, block: unit.block, knownTokens: unit.tokens,
                    budget: min(budget, max(0, unit.tokens - 1)), into: &pieces)
        return pieces.count > 1 ? pieces : nil
    }

    // MARK: Packing

    /// Greedy packing in reading order. Groups after the first reserve room for the overlap.
    func pack(_ units: [Unit], budget: Int) -> [UnitGroup] {
        var groups: [UnitGroup] = []
        var current = UnitGroup()
        var pending = Array(units.reversed()) // a stack: refined units are pushed back in front
        let overlap = settings.overlapTokens
        func limit(_ group: UnitGroup, isFirst: Bool) -> Int {
            isFirst || !group.overlapAllowed ? budget : budget - overlap
        }
        while let unit = pending.popLast() {
            if current.tokens + unit.tokens <= limit(current, isFirst: groups.isEmpty) {
                current.append(unit)
                continue
            }
            if current.isEmpty {
                // The unit alone needs more than budget − overlap (it always fits the budget): no overlap here.
                current.overlapAllowed = false
                current.append(unit)
                continue
            }
            if current.isOnlyHeadings {
                // Keep headings with their content: cut the content so its first part fits after them.
                if let finer = refine(unit, budget: budget) {
                    pending.append(contentsOf: finer.reversed())
                    continue
                }
                groups.append(current)
                current = UnitGroup()
                pending.append(unit)
                continue
            }
            // Close the group; trailing headings move on with the content they introduce, and so does a
            // lead-in ("Equivalent to:") before a code block, table or list when both fit the next chunk.
            var trailing: [Unit] = []
            while let last = current.units.last, last.isHeading { trailing.insert(current.removeLast(), at: 0) }
            if trailing.isEmpty, let last = current.units.last, isLeadIn(last, before: unit) {
                let room = budget - overlap
                if current.units.dropLast().contains(where: { !$0.isHeading }), last.tokens + unit.tokens <= room {
                    trailing.append(current.removeLast())
                } else if last.level == .block {
                    // Only the block's last sentence leads in: split it off.
                    let sentences = SentenceSplitter.ranges(in: scalars, within: last.range).map {
                        Unit(range: $0, tokens: contentTokens(text($0)), level: .sentence, kind: last.kind, block: last.block)
                    }
                    if sentences.count > 1, let leadIn = sentences.last, leadIn.tokens + unit.tokens <= room {
                        _ = current.removeLast()
                        for sentence in sentences.dropLast() { current.append(sentence) }
                        trailing.append(leadIn)
                    }
                }
            }
            groups.append(current)
            current = UnitGroup()
            for heading in trailing { current.append(heading) }
            pending.append(unit)
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }

    /// A prose unit ending in ":" that introduces the code, table or list item that follows it.
    func isLeadIn(_ unit: Unit, before next: Unit) -> Bool {
        guard !Self.isLineBased(unit.kind), unit.level <= .sentence,
              Self.isLineBased(next.kind) || next.kind == .listItem, next.block != unit.block,
              let lastScalar = scalars[unit.range].last else { return false }
        return lastScalar == ":"
    }

    /// Moves trailing units from the second-to-last group into a last group shorter than `minTokens`.
    func rebalanceLast(_ groups: inout [UnitGroup], budget: Int) {
        guard groups.count >= 2 else { return }
        var last = groups[groups.count - 1]
        var previous = groups[groups.count - 2]
        let limit = last.overlapAllowed ? budget - settings.overlapTokens : budget
        while last.tokens < settings.minTokens, previous.units.count >= 2, let candidate = previous.units.last,
              last.tokens + candidate.tokens <= limit,
              previous.tokens - candidate.tokens >= last.tokens + candidate.tokens {
            last.units.insert(previous.removeLast(), at: 0)
            last.tokens += candidate.tokens
        }
        // Never leave a heading at the end of a group when its content moved on.
        while previous.units.count >= 2, let candidate = previous.units.last, candidate.isHeading,
              last.tokens + candidate.tokens <= budget {
            last.units.insert(previous.removeLast(), at: 0)
            last.tokens += candidate.tokens
            last.overlapAllowed = false
        }
        groups[groups.count - 2] = previous
        groups[groups.count - 1] = last
    }

    /// Start of the previous group's tail to repeat: whole words, at most `room` tokens, never the whole group.
    /// Prefers the longest tail that starts a line or a sentence, so the overlap reads cleanly; falls back to a word start.
    func overlap(after previous: UnitGroup, room: Int) -> (start: Int?, tokens: Int) {
        guard room > 0, let first = previous.units.first, let last = previous.units.last else { return (nil, 0) }
        var wordStart: (start: Int, tokens: Int)?
        var cleanStart: (start: Int, tokens: Int)?
        var total = 0
        var end = last.range.upperBound
        while end > first.range.lowerBound {
            var lo = end
            while lo > first.range.lowerBound, !SentenceSplitter.isSpace(scalars[lo - 1]) { lo -= 1 }
            if lo == first.range.lowerBound { break } // would repeat the entire previous chunk
            let tokens = contentTokens(text(lo..<end))
            if total + tokens > room { break }
            total += tokens
            wordStart = (lo, total)
            if startsLineOrSentence(lo) { cleanStart = (lo, total) }
            end = lo
            while end > first.range.lowerBound, SentenceSplitter.isSpace(scalars[end - 1]) { end -= 1 }
        }
        guard let chosen = cleanStart ?? wordStart else { return (nil, 0) }
        return (chosen.start, chosen.tokens)
    }

    /// Whether the word at `position` opens a line or follows a sentence terminator.
    func startsLineOrSentence(_ position: Int) -> Bool {
        var i = position
        while i > 0, SentenceSplitter.isSpace(scalars[i - 1]) {
            if scalars[i - 1] == "\n" { return true }
            i -= 1
        }
        guard i > 0, i < position else { return i == 0 }
        let previous = scalars[i - 1]
        return previous == "." || previous == "!" || previous == "?"
    }

    // MARK: Emitting

    /// Builds, counts exactly and appends the chunk for `group`; splits further if the exact count overflows.
    mutating func emit(_ group: UnitGroup, overlapStart: Int?, overlapTokens: Int, section: Section,
                       prefixPath: [String], budget: Int) {
        guard let first = group.units.first, let last = group.units.last else { return }
        let range = (overlapStart ?? first.range.lowerBound)..<last.range.upperBound
        let source = text(range)

        // A chunk opening with the section's own headings needs them in the prefix only once.
        var path = prefixPath
        var leading = group.units.prefix(while: \.isHeading).map { text($0.range) }
        if overlapStart == nil {
            while let heading = leading.last, let tail = path.last, heading == tail {
                path.removeLast()
                leading.removeLast()
            }
        }
        let chunkText = Self.prefix(for: path) + source
        let tokenCount = chunker.counter.tokenCount(chunkText)

        if tokenCount > settings.maxTokens {
            let excess = tokenCount - settings.maxTokens
            if overlapStart != nil {
                emit(group, overlapStart: nil, overlapTokens: 0, section: section, prefixPath: prefixPath, budget: budget)
            } else if group.units.count > 1 {
                // The summed estimate was optimistic: halve the group.
                let middle = group.units.count / 2
                for part in [group.units[..<middle], group.units[middle...]] {
                    var half = UnitGroup()
                    for unit in part { half.append(unit) }
                    emit(half, overlapStart: nil, overlapTokens: 0, section: section, prefixPath: prefixPath, budget: budget)
                }
            } else if let finer = refine(first, budget: max(1, first.tokens - excess)) {
                for piece in finer {
                    var single = UnitGroup()
                    single.append(piece)
                    emit(single, overlapStart: nil, overlapTokens: 0, section: section, prefixPath: prefixPath, budget: budget)
                }
            } else if !prefixPath.isEmpty {
                emit(group, overlapStart: nil, overlapTokens: 0, section: section, prefixPath: [], budget: budget)
            } else {
                // A single scalar that overflows even without a prefix: only possible with a budget of
                // specials + 1 and a counter giving one scalar several tokens. Emit it rather than lose text.
                append(range: range, text: chunkText, tokenCount: tokenCount, section: section)
            }
            return
        }
        append(range: range, text: chunkText, tokenCount: tokenCount, section: section)
    }

    mutating func append(range: Range<Int>, text chunkText: String, tokenCount: Int, section: Section) {
        let startBlock = section.blocks.last(where: { blocks[$0].range.lowerBound <= range.lowerBound }) ?? section.blocks[0]
        let identity = "\(document.id)\u{1F}\(range.lowerBound)-\(range.upperBound)\u{1F}\(fingerprint)\u{1F}\(chunkText)"
        output.append(Chunk(
            id: StableHash.hex(StableHash.fnv1a64(identity)),
            documentID: document.id,
            anchor: settings.splitOnAnchor && section.hasContent ? section.contentAnchor : blocks[startBlock].block.anchor,
            headingPath: section.headingPath,
            range: range,
            text: chunkText,
            tokenCount: tokenCount))
    }
}
