/// Open-addressing hash table from token text (as Unicode scalars) to id, so WordPiece can look up
/// every candidate prefix of a word without building a String. Continuation pieces ("##ing") are
/// stored without their prefix under a different hash seed; every hit is verified scalar by scalar.
struct VocabularyTable: Sendable {
    private var storage: [UInt32] = []
    private var entryStart: [Int32] = []
    private var entryLength: [Int32] = []
    private var entryID: [Int32] = []
    private var slotEntry: [Int32]
    private var slotHash: [UInt64]
    private let mask: Int

    static let wordSeed: UInt64 = 0xcbf2_9ce4_8422_2325
    static let continuationSeed: UInt64 = 0x84222325_cbf29ce4

    @inline(__always)
    static func step(_ hash: UInt64, _ scalar: UInt32) -> UInt64 {
        (hash ^ UInt64(scalar)) &* 0x0000_0100_0000_01B3
    }

    init(vocabulary: [String], continuationPrefix: String) {
        let prefix = Array(continuationPrefix.unicodeScalars.map(\.value))
        var capacity = 16
        while capacity < vocabulary.count * 4 { capacity <<= 1 }
        mask = capacity - 1
        slotEntry = [Int32](repeating: -1, count: capacity)
        slotHash = [UInt64](repeating: 0, count: capacity)
        for (id, token) in vocabulary.enumerated() {
            let scalars = token.unicodeScalars.map(\.value)
            insert(scalars, id: Int32(id), seed: Self.wordSeed)
            if !prefix.isEmpty, scalars.count > prefix.count, Array(scalars[0..<prefix.count]) == prefix {
                insert(Array(scalars[prefix.count...]), id: Int32(id), seed: Self.continuationSeed)
            }
        }
    }

    private mutating func insert(_ scalars: [UInt32], id: Int32, seed: UInt64) {
        var hash = seed
        for s in scalars { hash = Self.step(hash, s) }
        let entry = Int32(entryID.count)
        var slot = Self.slot(hash) & mask
        while slotEntry[slot] >= 0 {
            let existing = Int(slotEntry[slot])
            if slotHash[slot] == hash && matches(entry: existing, scalars[...]) {
                // Duplicate token text: the later id wins, as in HF's vocab loading.
                entryID[existing] = id
                return
            }
            slot = (slot + 1) & mask
        }
        entryStart.append(Int32(storage.count))
        entryLength.append(Int32(scalars.count))
        entryID.append(id)
        storage.append(contentsOf: scalars)
        slotEntry[slot] = entry
        slotHash[slot] = hash
    }

    @inline(__always)
    private static func slot(_ hash: UInt64) -> Int {
        Int(truncatingIfNeeded: (hash ^ (hash >> 31)) &* 0x9E37_79B9_7F4A_7C15 >> 20)
    }

    @inline(__always)
    private func matches(entry: Int, _ scalars: ArraySlice<UInt32>) -> Bool {
        let length = Int(entryLength[entry])
        guard length == scalars.count else { return false }
        var position = Int(entryStart[entry])
        for s in scalars {
            if storage[position] != s { return false }
            position += 1
        }
        return true
    }

    /// The id of `scalars` (whose hash under the right seed is `hash`), or nil.
    @inline(__always)
    func lookup(_ scalars: ArraySlice<UInt32>, hash: UInt64) -> Int32? {
        var slot = Self.slot(hash) & mask
        while true {
            let entry = slotEntry[slot]
            if entry < 0 { return nil }
            if slotHash[slot] == hash && matches(entry: Int(entry), scalars) { return entryID[Int(entry)] }
            slot = (slot + 1) & mask
        }
    }
}
