/// A stable 128-bit content digest (two FNV-1a 64 lanes with different offsets), as 32 hex digits.
/// Used to detect changed documents between index runs; not a cryptographic hash.
enum StableDigest {
    static func hex(_ parts: [String]) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        for part in parts {
            for byte in part.utf8 {
                a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
                b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
            // A separator outside UTF-8 so ["ab", "c"] and ["a", "bc"] differ.
            a = (a ^ 0xff) &* 0x0000_0100_0000_01b3
            b = (b ^ 0xfe) &* 0x0000_0100_0000_01b3
        }
        return hex64(a) + hex64(b)
    }

    private static func hex64(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
