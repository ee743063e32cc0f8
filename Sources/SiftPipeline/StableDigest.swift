import SiftCore

/// A stable 128-bit content digest (two FNV-1a 64 lanes with different offsets), as 32 hex digits.
/// Used to detect changed documents between index runs; not a cryptographic hash.
enum StableDigest {
    /// The second lane's offset basis.
    private static let secondSeed: UInt64 = 0x6c62_272e_07bb_0142

    static func hex(_ parts: [String]) -> String {
        var a = StableHash.offsetBasis
        var b = secondSeed
        for part in parts {
            a = StableHash.fnv1a64(part, seed: a)
            b = StableHash.fnv1a64(part, seed: b)
            // A separator outside UTF-8 so ["ab", "c"] and ["a", "bc"] differ.
            a = StableHash.fnv1a64(bytes: CollectionOfOne(0xff), seed: a)
            b = StableHash.fnv1a64(bytes: CollectionOfOne(0xfe), seed: b)
        }
        return StableHash.hex(a) + StableHash.hex(b)
    }
}
