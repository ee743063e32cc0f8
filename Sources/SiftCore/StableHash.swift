/// 64-bit FNV-1a: the same value in every process and on every machine (unlike Swift's per-process seeded
/// `Hasher`), for ids and fingerprints that are stored on disk. Not cryptographic.
public enum StableHash {
    /// The FNV-1a 64 offset basis: the hash of no bytes, and the default seed.
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    /// The FNV-1a 64 prime.
    public static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// FNV-1a 64 of `bytes`, continuing from `seed`: pass an earlier result as `seed` to hash a concatenation.
    @inlinable
    public static func fnv1a64<Bytes: Sequence<UInt8>>(bytes: Bytes, seed: UInt64 = offsetBasis) -> UInt64 {
        var hash = seed
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* prime
        }
        return hash
    }

    /// FNV-1a 64 of the UTF-8 bytes of `text`.
    @inlinable
    public static func fnv1a64(_ text: String, seed: UInt64 = offsetBasis) -> UInt64 {
        fnv1a64(bytes: text.utf8, seed: seed)
    }

    /// `value` as 16 lower-case hex digits, zero-padded.
    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
