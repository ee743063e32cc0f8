import Foundation
import Testing
@testable import SiftModels
import SiftTestSupport

@Suite struct SafetensorsTests {
    /// A valid two-tensor file, returned as bytes.
    static func validFile() throws -> Data {
        let folder = try temporaryFolder("st")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("w.safetensors")
        try SafetensorsWriter.write([
            .init(name: "a.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
            .init(name: "a.bias", shape: [3], values: [-1, 0.5, 7]),
        ], to: url)
        return try Data(contentsOf: url)
    }

    /// A file made of an 8-byte length, `header` (JSON text) and `payload` bytes.
    static func file(header: String, payload: Int, length: UInt64? = nil) -> Data {
        var data = Data()
        let bytes = Array(header.utf8)
        withUnsafeBytes(of: (length ?? UInt64(bytes.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: bytes)
        data.append(Data(count: payload))
        return data
    }

    static func open(_ data: Data) throws -> SafetensorsFile {
        let folder = try temporaryFolder("st")
        let url = folder.appendingPathComponent("model.safetensors")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try SafetensorsFile(url: url)
    }

    static func error(_ data: Data) -> ModelError? {
        do { _ = try open(data); return nil } catch { return error as? ModelError }
    }

    @Test func roundTripsWrittenTensors() throws {
        let file = try Self.open(Self.validFile())
        #expect(Set(file.tensors.keys) == ["a.weight", "a.bias"])
        #expect(try file.floats("a.weight", shape: [2, 3]) == [1, 2, 3, 4, 5, 6])
        #expect(try file.floats("a.bias") == [-1, 0.5, 7])
        #expect(file.metadata == ["format": "pt"])
    }

    /// Aligned F32 tensors are read in place from the mapping, others through a converted copy; same values.
    @Test func withFloatsReadsInPlaceOrConverted() throws {
        let file = try Self.open(Self.validFile())
        #expect(file.isMappable("a.weight") && file.isMappable("a.bias"))
        #expect(try file.withFloats("a.weight", shape: [2, 3]) { Array($0) } == [1, 2, 3, 4, 5, 6])
        #expect(try file.withFloats("a.bias") { Array($0) } == [-1, 0.5, 7])
        #expect(throws: ModelError.self) { try file.withFloats("a.weight", shape: [3, 2]) { _ in } }
        #expect(throws: ModelError.self) { try file.withFloats("missing") { _ in } }

        var data = Self.file(header: #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, payload: 0)
        for v: UInt16 in [0x3C00, 0xC000] { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        let half = try Self.open(data)
        #expect(!half.isMappable("h"))
        #expect(try half.withFloats("h") { Array($0) } == [1, -2])
    }

    @Test func readsHalfAndBFloat16() throws {
        // 1.0, -2.0, 65504 (max half), 2^-24 (smallest subnormal) as F16; 1.0, -3.5 as BF16.
        let half: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001]
        let bf16: [UInt16] = [0x3F80, 0xC060]
        var data = Self.file(header: #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"__metadata__":{"x":"y"}}"#, payload: 0)
        for v in half + bf16 { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        let file = try Self.open(data)
        #expect(try file.floats("h") == [1, -2, 65504, Float(sign: .plus, exponent: -24, significand: 1)])
        #expect(try file.floats("b") == [1, -3.5])
    }

    @Test func rejectsTruncatedFiles() throws {
        let valid = try Self.validFile()
        // Shorter than the length prefix, and cut inside the header or the data.
        #expect(Self.error(valid.prefix(5)).map { if case .invalidSafetensors = $0 { true } else { false } } == true)
        for cut in [20, valid.count - 4] {
            let error = Self.error(valid.prefix(cut))
            #expect(error != nil, "cut at \(cut) must fail")
            if cut > 100, case let .invalidTensor(_, tensor, _) = error { #expect(tensor == "a.bias") }
        }
    }

    @Test func rejectsBadHeaderLength() {
        let error = Self.error(Self.file(header: "{}", payload: 0, length: 1 << 40))
        #expect(error.map { String(describing: $0) }?.contains("header length") == true)
        let notJSON = Self.error(Self.file(header: "{not json", payload: 0))
        #expect(notJSON.map { String(describing: $0) }?.contains("not valid JSON") == true)
    }

    @Test func rejectsBadTensorEntries() {
        func tensorError(_ header: String, payload: Int) -> (String, String)? {
            guard case let .invalidTensor(_, tensor, reason) = Self.error(Self.file(header: header, payload: payload)) else { return nil }
            return (tensor, reason)
        }
        // Offsets past the end of the data.
        let outOfRange = tensorError(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, payload: 8)
        #expect(outOfRange?.0 == "w" && outOfRange?.1.contains("outside") == true)
        // Size disagreeing with shape × dtype.
        let wrongSize = tensorError(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, payload: 16)
        #expect(wrongSize?.0 == "w" && wrongSize?.1.contains("shape") == true)
        // Unknown dtype.
        let dtype = tensorError(#"{"w":{"dtype":"F8","shape":[4],"data_offsets":[0,4]}}"#, payload: 4)
        #expect(dtype?.0 == "w" && dtype?.1.contains("dtype") == true)
        // Overlapping tensors.
        let overlap = tensorError(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, payload: 12)
        #expect(overlap?.1.contains("overlaps") == true)
        // Negative shape.
        #expect(tensorError(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, payload: 4)?.0 == "w")
    }

    @Test func nonFloatDtypeAndShapeMismatchNameTheTensor() throws {
        var data = Self.file(header: #"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, payload: 16)
        data.append(contentsOf: [])
        let file = try Self.open(data)
        #expect(throws: ModelError.self) { try file.floats("ids") }
        do { _ = try file.floats("w", shape: [3]); Issue.record("shape mismatch not detected") } catch let error as ModelError {
            #expect(error == .shapeMismatch(path: file.url.path, tensor: "w", expected: [3], actual: [2]))
            #expect(error.description.contains("'w'") && error.description.contains("[3]") && error.description.contains("[2]"))
        }
        do { _ = try file.floats("missing"); Issue.record("missing tensor not detected") } catch let error as ModelError {
            #expect(error == .missingTensor(path: file.url.path, tensor: "missing"))
        }
    }
}

@Suite struct ModelLoadingErrorTests {
    @Test func missingFolder() {
        let url = URL(fileURLWithPath: "/nonexistent/sift-model")
        #expect(throws: ModelError.missingFile(path: url.path)) { try BiEncoder(directory: url) }
        #expect(throws: ModelError.missingFile(path: url.path)) { try CrossEncoder(directory: url) }
    }

    @Test func malformedAndUnsupportedConfig() throws {
        let folder = try temporaryFolder("config")
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("config.json")
        try Data("{\"hidden_size\": 384,".utf8).write(to: config)
        #expect(throws: ModelError.self) { try BertConfiguration.load(from: config) }
        try Data(#"{"hidden_size": 384}"#.utf8).write(to: config)
        do { _ = try BertConfiguration.load(from: config) } catch let error as ModelError {
            #expect(error.description.contains("vocab_size") && error.description.contains(config.path))
        }
        let common = #""vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2"#
        let base = common + #", "num_attention_heads": 2"#
        try Data("{\(base), \"hidden_act\": \"relu\"}".utf8).write(to: config)
        do { _ = try BertConfiguration.load(from: config); Issue.record("relu accepted") } catch let error as ModelError {
            #expect(error.description.contains("relu"))
        }
        try Data("{\(common), \"num_attention_heads\": 3}".utf8).write(to: config)
        #expect(throws: ModelError.self) { try BertConfiguration.load(from: config) }
        try Data("{\(base), \"num_labels\": 3}".utf8).write(to: config)
        #expect(try BertConfiguration.load(from: config).numLabels == 3)
        try Data("{\(base), \"id2label\": {\"0\": \"a\", \"1\": \"b\"}}".utf8).write(to: config)
        #expect(try BertConfiguration.load(from: config).numLabels == 2)
    }

    /// A tiny model folder whose weights disagree with its config fails naming the tensor.
    @Test func wrongWeightShapeNamesTheTensor() throws {
        let folder = try temporaryFolder("shape")
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = BertConfiguration(vocabSize: 10, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16,
                                       maxPositionEmbeddings: 16, typeVocabSize: 2)
        try SafetensorsWriter.write([.init(name: "embeddings.word_embeddings.weight", shape: [10, 4], values: .init(repeating: 0, count: 40))],
                                    to: folder.appendingPathComponent("model.safetensors"))
        do {
            _ = try BertEncoder(configuration: config, weightsFile: folder.appendingPathComponent("model.safetensors"))
            Issue.record("wrong shape accepted")
        } catch let error as ModelError {
            #expect(error == .shapeMismatch(path: folder.appendingPathComponent("model.safetensors").path,
                                            tensor: "embeddings.word_embeddings.weight", expected: [10, 8], actual: [10, 4]))
        }
    }
}
