import Foundation

/// A memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// mapping tensor names to `{dtype, shape, data_offsets}`, then the raw little-endian tensor bytes.
///
/// The whole layout is validated at open (header length within the file, offsets inside the data
/// section and non-overlapping, byte size == element count × dtype size), so later reads cannot
/// run off the mapping. `__metadata__` is kept as strings and otherwise ignored.
public struct SafetensorsFile: Sendable {
    /// Element types of the format. Only the float ones can be read as `Float`.
    public enum DType: String, Sendable, CaseIterable {
        case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL
        public var byteSize: Int {
            switch self {
            case .F64, .I64, .U64: 8
            case .F32, .I32, .U32: 4
            case .F16, .BF16, .I16, .U16: 2
            case .I8, .U8, .BOOL: 1
            }
        }
    }

    /// One header entry; `byteRange` is relative to the start of the data section.
    public struct TensorInfo: Sendable, Equatable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var byteRange: Range<Int>
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The largest header accepted, as in the reference implementation (`safetensors`' MAX_HEADER_SIZE): a real
    /// header is a few KB per hundred tensors, and JSON parsing holds several times the text in memory.
    public static let maxHeaderBytes = 100_000_000

    public let url: URL
    /// Tensors by name.
    public let tensors: [String: TensorInfo]
    /// The `__metadata__` object (string values only, as the format specifies).
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int

    public init(url: URL) throws {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw ModelError.missingFile(path: path) }
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw ModelError.unreadable(path: path, reason: error.localizedDescription)
        }
        guard data.count >= 8 else {
            throw ModelError.invalidSafetensors(path: path, reason: "file is \(data.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) }
        guard headerLength >= 2, headerLength <= UInt64(data.count - 8) else {
            throw ModelError.invalidSafetensors(path: path, reason: "header length \(headerLength) does not fit in a \(data.count)-byte file")
        }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw ModelError.invalidSafetensors(path: path, reason: "header length \(headerLength) is over the limit of \(Self.maxHeaderBytes) bytes")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) } catch {
            throw ModelError.invalidSafetensors(path: path, reason: "header is not valid JSON")
        }
        guard let header = json as? [String: Any] else {
            throw ModelError.invalidSafetensors(path: path, reason: "header is not a JSON object")
        }
        let dataSize = data.count - headerEnd
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                (value as? [String: Any])?.forEach { if let s = $1 as? String { metadata[$0] = s } }
                continue
            }
            func bad(_ reason: String) -> ModelError { .invalidTensor(path: path, tensor: name, reason: reason) }
            guard let entry = value as? [String: Any] else { throw bad("header entry is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw bad("missing dtype") }
            guard let dtype = DType(rawValue: dtypeName) else { throw bad("unknown dtype \(dtypeName)") }
            guard let shapeValues = entry["shape"] as? [Any], let shape = Self.integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw bad("shape is not a list of non-negative integers")
            }
            guard let offsetValues = entry["data_offsets"] as? [Any], let offsets = Self.integers(offsetValues), offsets.count == 2 else {
                throw bad("data_offsets is not a pair of integers")
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                throw bad("data_offsets \(offsets) outside the \(dataSize)-byte data section")
            }
            // Every product is checked: a shape like [2^61, 8] must be refused, not trap.
            var count = 1, overflow = false
            for d in shape {
                let (product, o) = count.multipliedReportingOverflow(by: d)
                count = product
                overflow = overflow || o
            }
            let (bytes, byteOverflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, !byteOverflow else {
                throw bad("shape \(shape) of \(dtypeName) is too large to address")
            }
            guard bytes == offsets[1] - offsets[0] else {
                throw bad("shape \(shape) of \(dtypeName) needs \(count) elements but data_offsets span \(offsets[1] - offsets[0]) bytes")
            }
            tensors[name] = TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
        }
        let sorted = tensors.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.byteRange.upperBound > b.byteRange.lowerBound {
            throw ModelError.invalidTensor(path: path, tensor: b.name, reason: "data overlaps tensor '\(a.name)'")
        }
        self.url = url
        self.data = data
        self.dataStart = headerEnd
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Whole numbers within Int64 only (1.5 and 1e300 are refused); read as integers, since through a double
    /// 2^53 + 1 would become 2^53.
    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            guard let n = v as? NSNumber, n.doubleValue.rounded() == n.doubleValue, abs(n.doubleValue) < 0x1p63 else { return nil }
            out.append(Int(n.int64Value))
        }
        return out
    }

    /// The tensor's values converted to `Float` (F32, F16 and BF16 are accepted).
    /// With `shape`, the stored shape must equal it.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let info = tensors[name] else { throw ModelError.missingTensor(path: url.path, tensor: name) }
        if let expected, expected != info.shape {
            throw ModelError.shapeMismatch(path: url.path, tensor: name, expected: expected, actual: info.shape)
        }
        let count = info.elementCount
        let start = dataStart + info.byteRange.lowerBound
        return try data.withUnsafeBytes { raw -> [Float] in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[start..<(start + info.byteRange.count)])
            switch info.dtype {
            case .F32:
                return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    if count > 0 { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes) }
                    initialized = count
                }
            case .F16:
                return (0..<count).map { Self.halfToFloat(bytes.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
            case .BF16:
                return (0..<count).map { Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16) }
            default:
                throw ModelError.invalidTensor(path: url.path, tensor: name, reason: "dtype \(info.dtype.rawValue) is not a float type (F32, F16, BF16)")
            }
        }
    }

    /// Calls `body` with the tensor's values as `Float`s without copying when the tensor is F32 and
    /// 4-byte aligned in the mapping (the usual case: HF pads the header to 8 bytes); otherwise with a
    /// converted copy (`floats`). The buffer is valid only inside `body`. Loading packs weights straight
    /// from the mapped file this way, instead of copying 90 MB into arrays first (page zeroing and the
    /// copy were most of the model load time).
    public func withFloats<T>(_ name: String, shape expected: [Int]? = nil,
                              _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T {
        guard let info = tensors[name] else { throw ModelError.missingTensor(path: url.path, tensor: name) }
        if let expected, expected != info.shape {
            throw ModelError.shapeMismatch(path: url.path, tensor: name, expected: expected, actual: info.shape)
        }
        if isMappable(name) {
            let start = dataStart + info.byteRange.lowerBound
            return try data.withUnsafeBytes { raw in
                try UnsafeRawBufferPointer(rebasing: raw[start..<(start + info.byteRange.count)])
                    .withMemoryRebound(to: Float.self) { try body($0) }
            }
        }
        return try floats(name).withUnsafeBufferPointer { try body($0) }
    }

    /// True when `withFloats` hands out the mapped bytes themselves for `name` (F32, 4-byte aligned).
    public func isMappable(_ name: String) -> Bool {
        guard let info = tensors[name], info.dtype == .F32 else { return false }
        return data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return info.byteRange.isEmpty }
            return Int(bitPattern: base + dataStart + info.byteRange.lowerBound) % MemoryLayout<Float>.alignment == 0
        }
    }

    /// IEEE 754 binary16 → binary32, including subnormals, infinities and NaN.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h) & 0x3FF
        if exponent == 0 {
            // Zero or subnormal: mantissa · 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}

/// Writes float32 tensors as a `.safetensors` file (what PyTorch's `save_file` produces: 8-byte
/// header length, JSON header padded with spaces to a multiple of 8, then the data in order).
public enum SafetensorsWriter {
    /// One tensor to write: `values.count` must equal the product of `shape`.
    public struct Tensor {
        public var name: String
        public var shape: [Int]
        public var values: [Float]
        public init(name: String, shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "tensor \(name): shape \(shape) does not hold \(values.count) values")
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    public static func write(_ tensors: [Tensor], metadata: [String: String] = ["format": "pt"], to url: URL) throws {
        var header = "{"
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            header += "\"__metadata__\":{\(pairs.joined(separator: ","))},"
        }
        var offset = 0
        var entries: [String] = []
        for t in tensors {
            let size = t.values.count * 4
            entries.append("\(jsonString(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        header += entries.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for t in tensors { t.values.withUnsafeBytes { out.append(contentsOf: $0) } }
        do { try out.write(to: url, options: .atomic) } catch {
            throw ModelError.unreadable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    private static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
