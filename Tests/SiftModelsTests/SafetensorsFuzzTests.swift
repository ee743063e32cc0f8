import Foundation
import SiftModels
import SiftTestSupport
import Testing

/// Random-mutation fuzzing of the safetensors header parser: small valid files, mutated as bytes (flips, truncation,
/// huge header lengths) and as headers (dtypes, shapes and offsets replaced by huge, negative, fractional or
/// overlapping values, deep JSON nesting). Deterministic for a seed. CI runs a few iterations; Scripts/fuzz_safetensors
/// runs it for minutes through the environment:
///   SIFT_SAFETENSORS_FUZZ_ITERATIONS (default 200), SIFT_SAFETENSORS_FUZZ_SECONDS (stop early),
///   SIFT_SAFETENSORS_FUZZ_SEED (default 1), SIFT_SAFETENSORS_FUZZ_SAVE (path: each input is written there and
///   opened from there, so a crash leaves its reproducer).
@Suite struct SafetensorsFuzzTests {
    /// Valid files: two F32 tensors with metadata; mixed dtypes with an empty and a scalar tensor.
    static func corpus() -> [[UInt8]] {
        var files: [[UInt8]] = []
        files.append(file(header: #"{"__metadata__":{"format":"pt"},"a.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"a.bias":{"dtype":"F32","shape":[3],"data_offsets":[24,36]}}"#,
                          payload: 36))
        files.append(file(header: #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},"i":{"dtype":"I8","shape":[],"data_offsets":[8,9]},"e":{"dtype":"U64","shape":[0,5],"data_offsets":[9,9]}}"#,
                          payload: 9))
        return files
    }

    static func file(header: String, payload: Int) -> [UInt8] {
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) }
        bytes += Array(header.utf8)
        bytes += (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        return bytes
    }

    /// Values that break assumptions about numbers in a header.
    static var numbers: [Any] {
        [0, 1, -1, 3, 8, 24, 36, Int64.max, Int64.min, 1 << 62, 1 << 61, 1 << 32, 9_007_199_254_740_993, 1.5, 1e300, -0.0, "7",
         NSNull(), [1], true]
    }

    static func randomValue(_ rng: inout SplitMix64) -> Any {
        switch rng.below(4) {
        case 0: return numbers[rng.below(numbers.count)]
        case 1: return Int(truncatingIfNeeded: rng.next())
        case 2: return ["F32", "F16", "BF16", "I8", "U64", "BOOL", "F8", "", "f32"][rng.below(9)]
        default: return (0..<rng.below(4)).map { _ in numbers[rng.below(numbers.count)] }
        }
    }

    /// Edits the header as JSON: one field of one tensor replaced, a tensor duplicated or removed; then re-frames it,
    /// sometimes with the payload resized.
    static func mutateHeader(_ input: [UInt8], rng: inout SplitMix64) -> [UInt8]? {
        guard input.count >= 8 else { return nil }
        let declared = input.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard declared <= UInt64(input.count - 8), case let length = Int(declared),
              var header = (try? JSONSerialization.jsonObject(with: Data(input[8..<(8 + length)]))) as? [String: Any],
              let name = header.keys.filter({ $0 != "__metadata__" }).sorted().randomElement(using: &rng),
              var entry = header[name] as? [String: Any] else { return nil }
        switch rng.below(6) {
        case 0: entry["dtype"] = randomValue(&rng)
        case 1: entry["shape"] = (0..<rng.below(5)).map { _ in rng.below(3) == 0 ? randomValue(&rng) : rng.below(10) }
        case 2: entry["data_offsets"] = [randomValue(&rng), randomValue(&rng)]
        case 3: entry[["dtype", "shape", "data_offsets"][rng.below(3)]] = nil
        case 4: header["copy\(rng.below(3))"] = entry   // same offsets: overlap
        default: entry["shape"] = randomValue(&rng)
        }
        header[name] = entry
        guard let text = try? JSONSerialization.data(withJSONObject: header, options: .sortedKeys) else { return nil }
        let payload = Array(input[(8 + length)...])
        let resized = rng.below(3) == 0 ? Array(payload.prefix(rng.below(payload.count + 1))) + Array(repeating: 0, count: rng.below(16)) : payload
        return withUnsafeBytes(of: UInt64(text.count).littleEndian) { Array($0) } + Array(text) + resized
    }

    static func mutate(_ input: [UInt8], rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0...rng.below(3) {
            switch rng.below(8) {
            case 0, 1:
                if let edited = mutateHeader(bytes, rng: &rng) { bytes = edited }
            case 2: ByteMutation.flipBits(&bytes, count: 8, within: rng.below(2) == 0 ? 8 : nil, rng: &rng)   // often the length
            case 3: ByteMutation.truncate(&bytes, rng: &rng)
            case 4 where bytes.count >= 8:  // another header length: huge, just past the end, zero, random
                let choices: [UInt64] = [.max, UInt64(bytes.count), UInt64(bytes.count - 7), 0, 1, 2, 1 << 63, rng.next(),
                                         UInt64(SafetensorsFile.maxHeaderBytes) + 1]
                let value = choices[rng.below(choices.count)]
                bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: value.littleEndian) { Array($0) })
            case 5:                        // deep JSON nesting as a whole header or inside one
                let depth = [10, 1_000, 100_000][rng.below(3)]
                let open = rng.below(2) == 0 ? "[" : "{\"a\":"
                let nested = String(repeating: open, count: depth)
                let header = rng.below(2) == 0 ? nested : #"{"t":{"dtype":"F32","shape":"# + nested
                bytes = file(header: header, payload: rng.below(64))
            case 6: ByteMutation.duplicateRange(&bytes, length: 64, times: 0, rng: &rng)
            default: ByteMutation.insertRandom(&bytes, rng: &rng)
            }
        }
        return bytes
    }

    /// Element count × dtype size past Int.max used to trap while building the error message.
    @Test func shapesTooLargeToAddressAreRefused() throws {
        let folder = try temporaryFolder("st-huge")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        for shape in ["[2305843009213693952,8]", "[4611686018427387904,4611686018427387904]", "[1152921504606846977]"] {
            try Data(Self.file(header: #"{"t":{"dtype":"F64","shape":\#(shape),"data_offsets":[0,8]}}"#, payload: 8)).write(to: url)
            #expect(throws: ModelError.invalidTensor(path: url.path, tensor: "t", reason: "shape \(shape.replacingOccurrences(of: ",", with: ", ")) of F64 is too large to address")) {
                try SafetensorsFile(url: url)
            }
        }
    }

    @Test func mutatedFilesNeverCrashHangOrEscapeTheirBounds() throws {
        var fuzz = FuzzRun(environmentPrefix: "SIFT_SAFETENSORS_FUZZ", defaultIterations: 200)
        let folder = try temporaryFolder("st-fuzz")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = fuzz.savePath.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent("fuzz.safetensors")
        let corpus = Self.corpus()
        var rng = SplitMix64(state: fuzz.seed)
        var opened = 0, errors = 0
        let seed = fuzz.seed
        try fuzz.run({ iteration in
            let input = Self.mutate(corpus[rng.below(corpus.count)], rng: &rng)
            try Data(input).write(to: url)
            do {
                let file = try SafetensorsFile(url: url)
                opened += 1
                for info in file.tensors.values {
                    #expect(info.byteRange.lowerBound >= 0 && info.byteRange.upperBound + 8 <= input.count,
                            "\(info.name) range \(info.byteRange) outside a \(input.count)-byte file; seed \(seed), iteration \(iteration)")
                    #expect(info.elementCount * info.dtype.byteSize == info.byteRange.count)
                    do {
                        #expect(try file.floats(info.name).count == info.elementCount)
                    } catch let error as ModelError {
                        #expect(error.description.contains(url.path))
                    }
                }
            } catch let error as ModelError {
                errors += 1
                #expect(error.description.contains(url.path), "error without the file: \(error)")
            }
        }, check: { iteration, elapsed in
            #expect(elapsed < 2, "iteration \(iteration) took \(elapsed) s; seed \(seed)")
        })
        print(fuzz.summary("fuzz_safetensors", "\(opened) opened, \(errors) errors"))
        #expect(fuzz.done > 0)
        #expect(opened > 0 && errors > 0, "the mutations should yield both valid and invalid files")
    }
}
