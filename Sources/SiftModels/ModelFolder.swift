import Foundation
import SiftKernels
import SiftTokenizer

/// What `BiEncoder` and `CrossEncoder` both load from a Hugging Face BERT checkpoint folder: `config.json`,
/// `model.safetensors` (packed into a `BertEncoder`) and the tokenizer files, with the fingerprints of the weights
/// and tokenizer files that `ModelIdentity` hashes. The heads (pooling, classifier, token limits) stay with the callers.
struct BertModelFolder {
    let directory: URL
    /// `directory/config.json`.
    let configurationFile: URL
    let configuration: BertConfiguration
    let tokenizer: WordPieceTokenizer
    let encoder: BertEncoder
    let weightsFingerprint: String
    let tokenizerFingerprint: String

    /// Loads `directory`: fails with `ModelError.missingFile` when it does not exist, then reads `config.json`, and
    /// loads the tokenizer and both fingerprints on one core while the other packs the weights for `precision`
    /// (with `pooler.dense` when `pooler`, and a classifier of `classifierLabels(configuration)` outputs when that is
    /// not nil). Errors are those of the steps, the tokenizer's before the weights'.
    init(directory: URL, precision: ModelPrecision, pooler: Bool = false,
         classifierLabels: (BertConfiguration) -> Int? = { _ in nil }) throws {
        guard FileManager.default.fileExists(atPath: directory.path) else { throw ModelError.missingFile(path: directory.path) }
        self.directory = directory
        configurationFile = directory.appendingPathComponent("config.json")
        let configuration = try BertConfiguration.load(from: configurationFile)
        self.configuration = configuration
        let weights = directory.appendingPathComponent("model.safetensors")
        let labels = classifierLabels(configuration)
        let ((tokenizer, fingerprints), encoder) = try concurrently(
            { (try loadTokenizer(directory), (try fileFingerprint(weights), try ModelIdentity.tokenizerFingerprint(directory))) },
            { try BertEncoder(configuration: configuration, weightsFile: weights, pooler: pooler, classifierLabels: labels,
                              precision: precision) })
        self.tokenizer = tokenizer
        self.encoder = encoder
        weightsFingerprint = fingerprints.0
        tokenizerFingerprint = fingerprints.1
    }

    /// `ModelIdentity` of this folder with the head's `settings` in effect (`key=value`).
    func identity(settings: [String]) -> String {
        ModelIdentity.make(configuration: configuration, weights: weightsFingerprint, tokenizer: tokenizerFingerprint,
                           settings: settings)
    }
}

func loadTokenizer(_ directory: URL) throws -> WordPieceTokenizer {
    do { return try WordPieceTokenizer(directory: directory) } catch {
        throw ModelError.tokenizer(reason: String(describing: error))
    }
}

/// Runs two independent load steps at once (weight packing on one core; tokenizer tables and the weights
/// fingerprint on the other), which cuts model load time by about a third. Errors are rethrown in argument order.
func concurrently<A, B>(_ first: @Sendable () throws -> A, _ second: @Sendable () throws -> B) throws -> (A, B) {
    let results = ConcurrentResults<A, B>()
    DispatchQueue.concurrentPerform(iterations: 2) { i in
        if i == 0 { results.first = Result { try first() } } else { results.second = Result { try second() } }
    }
    return (try results.first!.get(), try results.second!.get())
}

/// Each slot is written by one worker of `concurrently` and read after both finished.
private final class ConcurrentResults<A, B>: @unchecked Sendable {
    var first: Result<A, any Error>?
    var second: Result<B, any Error>?
}
