import Foundation
import SiftModels

/// Writes a trained model as a standard Hugging Face folder that sentence-transformers and transformers load:
/// - embedder: the base folder's files (config, tokenizer, modules.json, pooling and normalize modules,
///   sentence_bert_config.json) with the new `model.safetensors` (BertModel names);
/// - reranker: `config.json` with `BertForSequenceClassification` and one label, the tokenizer files, and
///   `model.safetensors` with `bert.`-prefixed encoder, pooler and classifier.
/// Files are written into a temporary folder beside `output` and moved in place, so a reader never sees half a model.
enum ModelFolderWriter {
    /// The base files copied as they are, per kind (weights and anything else are not).
    static let tokenizerFiles = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    static let sentenceTransformerFiles = ["modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                                           "1_Pooling", "2_Normalize"]

    static func write(_ parameters: BertParameters, kind: TrainedModelKind, base: URL, to output: URL,
                      settings: TrainerSettings) throws {
        let fm = FileManager.default
        let staging = output.deletingLastPathComponent()
            .appendingPathComponent(".\(output.lastPathComponent).writing-\(ProcessInfo.processInfo.processIdentifier)")
        func fail(_ reason: String) -> TrainingError { .checkpoint(path: output.path, reason: reason) }
        do {
            try? fm.removeItem(at: staging)
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            let copied = tokenizerFiles + (kind == .embedder ? sentenceTransformerFiles : [])
            for name in copied where fm.fileExists(atPath: base.appendingPathComponent(name).path) {
                try fm.copyItem(at: base.appendingPathComponent(name), to: staging.appendingPathComponent(name))
            }
            // config.json: the base's, with the architecture (and for a re-ranker the label) of what was trained.
            let configURL = base.appendingPathComponent("config.json")
            guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any] else {
                throw fail("\(configURL.path) is not a JSON object")
            }
            if kind == .reranker {
                config["architectures"] = ["BertForSequenceClassification"]
                config["num_labels"] = 1
                config["id2label"] = ["0": "LABEL_0"]
                config["label2id"] = ["LABEL_0": 0]
                // sentence-transformers' CrossEncoder applies a sigmoid to one logit by default; say so explicitly.
                config["sentence_transformers"] = ["activation_fn": "torch.nn.modules.activation.Sigmoid"]
            } else {
                config["architectures"] = ["BertModel"]
            }
            let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try data.write(to: staging.appendingPathComponent("config.json"))
            try SafetensorsWriter.write(parameters.safetensors(), to: staging.appendingPathComponent("model.safetensors"))
            let card = """
            # \(output.lastPathComponent)

            A \(kind == .embedder ? "sentence-transformers bi-encoder" : "cross-encoder (BertForSequenceClassification, one logit)")
            fine-tuned by `sift train \(kind.rawValue)` from `\(base.lastPathComponent)`.

            Settings: \(settings.epochs) epoch(s), batch \(settings.batchSize), learning rate \(settings.learningRate), \
            warm-up \(settings.warmupFraction), weight decay \(settings.weightDecay), \(settings.hardNegatives) hard negative(s) \
            per example, seed \(settings.seed).

            """
            try Data(card.utf8).write(to: staging.appendingPathComponent("README.md"))
            if fm.fileExists(atPath: output.path) {
                // Keep a checkpoint folder out of the way of the replacement; it is removed after a successful run anyway.
                for name in try fm.contentsOfDirectory(atPath: output.path) where name != "checkpoint" {
                    try fm.removeItem(at: output.appendingPathComponent(name))
                }
                for name in try fm.contentsOfDirectory(atPath: staging.path) {
                    try fm.moveItem(at: staging.appendingPathComponent(name), to: output.appendingPathComponent(name))
                }
                try fm.removeItem(at: staging)
            } else {
                try fm.moveItem(at: staging, to: output)
            }
        } catch let error as TrainingError {
            try? fm.removeItem(at: staging)
            throw error
        } catch {
            try? fm.removeItem(at: staging)
            throw fail("cannot write the model folder: \(error.localizedDescription)")
        }
    }
}

/// A training checkpoint: `model.safetensors` (the parameters), `optimizer.safetensors` (AdamW's moments) and
/// `state.json` (step, dropout generator, and the fingerprint of the data and settings it belongs to).
struct Checkpoint {
    let folder: URL

    struct State: Codable {
        var step: Int
        var randomState: UInt64
        var randomSpare: UInt32?
        var fingerprint: String
    }

    func save(_ parameters: BertParameters, optimizer: AdamW, random: DropoutRandom, fingerprint: String) throws {
        let fm = FileManager.default
        let staging = folder.deletingLastPathComponent().appendingPathComponent(".checkpoint-writing")
        do {
            try? fm.removeItem(at: staging)
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            try SafetensorsWriter.write(parameters.safetensors(), to: staging.appendingPathComponent("model.safetensors"))
            let state = optimizer.state
            try SafetensorsWriter.write([.init(name: "first_moment", shape: [state.first.count], values: state.first),
                                         .init(name: "second_moment", shape: [state.second.count], values: state.second)],
                                        to: staging.appendingPathComponent("optimizer.safetensors"))
            let record = State(step: state.step, randomState: random.state, randomSpare: random.spare, fingerprint: fingerprint)
            try JSONEncoder.sorted.encode(record).write(to: staging.appendingPathComponent("state.json"))
            try? fm.removeItem(at: folder)
            try fm.moveItem(at: staging, to: folder)
        } catch {
            throw TrainingError.checkpoint(path: folder.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Restores the checkpoint when there is one; nil when there is none. A checkpoint of other data or settings
    /// is an error (resuming it would silently mix two runs).
    func load(into parameters: BertParameters, optimizer: AdamW, fingerprint: String) throws -> (step: Int, random: DropoutRandom)? {
        let stateURL = folder.appendingPathComponent("state.json")
        guard FileManager.default.fileExists(atPath: stateURL.path) else { return nil }
        do {
            let state = try JSONDecoder().decode(State.self, from: Data(contentsOf: stateURL))
            guard state.fingerprint == fingerprint else {
                throw TrainingError.checkpoint(path: folder.path, reason: "it was written for other training data or settings; remove it to start over")
            }
            let weights = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
            for (tensor, named) in zip(parameters.tensors, parameters.safetensors()) {
                let values = try weights.floats(named.name, shape: tensor.shape)
                _ = parameters.values.mutableView(tensor.offset, tensor.count).update(fromContentsOf: values)
            }
            let moments = try SafetensorsFile(url: folder.appendingPathComponent("optimizer.safetensors"))
            optimizer.restore(step: state.step, first: try moments.floats("first_moment", shape: [parameters.values.count]),
                              second: try moments.floats("second_moment", shape: [parameters.values.count]))
            var random = DropoutRandom(seed: 0)
            random.state = state.randomState
            random.spare = state.randomSpare
            return (state.step, random)
        } catch let error as TrainingError { throw error } catch {
            throw TrainingError.checkpoint(path: folder.path, reason: "cannot read: \(error)")
        }
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}
