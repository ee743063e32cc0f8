import Foundation
import SiftModels
import SiftTestSupport
import Testing
@testable import SiftTraining

/// The trainer on the real all-MiniLM-L6-v2 (installed by Scripts/setup): the folders it writes load in Sift's
/// inference models (and, with the reference venv, in sentence-transformers) with the trained model's outputs;
/// runs are deterministic; a stopped run resumed from its checkpoint ends exactly where an uninterrupted one does.
@Suite(.enabled(if: TestPaths.miniLMModel != nil, "needs Models/all-MiniLM-L6-v2 (Scripts/setup)"))
struct TrainerTests {
    static let examples = [
        TrainingExample(query: "how do I undo a commit", positive: "git revert creates a new commit that undoes an earlier one.",
                        negatives: ["HTTP status 404 means the resource was not found."], group: "git"),
        TrainingExample(query: "what does exit status 137 mean", positive: "Exit status 137 means the process was killed by SIGKILL.",
                        negatives: ["A symbolic link points to another file."], group: "processes"),
        TrainingExample(query: "list hidden files", positive: "ls -a shows files whose names start with a dot.",
                        negatives: ["Cookies are sent with every request to the domain."], group: "shell"),
        TrainingExample(query: "cache an HTTP response", positive: "Cache-Control max-age tells caches how long a response stays fresh.",
                        negatives: ["git stash saves uncommitted changes."], group: "http"),
        TrainingExample(query: "rename a branch", positive: "git branch -m old new renames a branch.",
                        negatives: ["chmod changes permissions."], group: "git"),
    ]

    static func settings(_ epochs: Int = 1) -> TrainerSettings {
        var s = TrainerSettings()
        s.batchSize = 2
        s.epochs = epochs
        s.learningRate = 1e-4
        s.passageTokens = 32
        s.queryTokens = 16
        s.checkpointEvery = 1
        return s
    }

    static func temporaryFolder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("sift-trainer-\(name)-\(ProcessInfo.processInfo.processIdentifier)")
    }

    @Test func embedderFolderLoadsWithTheTrainedEmbeddings() throws {
        let out = Self.temporaryFolder("embedder")
        defer { try? FileManager.default.removeItem(at: out) }
        let trainer = try Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: Self.settings(), threads: 2)
        let summary = try trainer.train(Self.examples, output: out)
        #expect(summary.steps == 2, "5 examples in batches of 2: the odd one waits for another epoch's order")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint").path), "checkpoint removed at the end")
        for file in ["config.json", "model.safetensors", "vocab.txt", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file) written")
        }
        let texts = ["how do I undo a commit", "Exit status 137 means the process was killed by SIGKILL."]
        let ours = try trainer.model.embed(texts.map { try trainer.sequence($0, limit: 256) })
        let loaded = try BiEncoder(directory: out).encode(texts).flatMap { $0 }
        let worst = zip(ours, loaded).map { abs($0 - $1) }.max() ?? 1
        #expect(worst <= 1e-4, "Sift's BiEncoder on the written folder differs by \(worst)")
        let base = try BiEncoder(directory: TestPaths.miniLMModel!).encode(texts).flatMap { $0 }
        #expect(zip(base, loaded).map { abs($0 - $1) }.max()! > 1e-3, "training changed the model")
    }

    @Test func rerankerFolderLoadsWithTheTrainedLogits() throws {
        let out = Self.temporaryFolder("reranker")
        defer { try? FileManager.default.removeItem(at: out) }
        let trainer = try Trainer(kind: .reranker, baseModel: TestPaths.miniLMModel!, settings: Self.settings(), threads: 2)
        _ = try trainer.train(Self.examples, output: out)
        #expect(trainer.initialised.contains("classifier.weight"), "the head is new: the base is a bi-encoder")
        let pairs = [("how do I undo a commit", "git revert creates a new commit."), ("list hidden files", "chmod changes permissions.")]
        let ours = try trainer.model.logits(pairs.map { try trainer.pair($0.0, $0.1) })
        let loaded = try CrossEncoder(directory: out).predict(pairs).map { $0[0] }
        let worst = zip(ours, loaded).map { abs($0 - $1) }.max() ?? 1
        #expect(worst <= 1e-4, "Sift's CrossEncoder on the written folder differs by \(worst)")
    }

    /// The reference venv's python (Scripts/setup --python; SIFT_VENV overrides), when it is there.
    static let referencePython: URL? = {
        let venv = ProcessInfo.processInfo.environment["SIFT_VENV"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/sift-venv").path
        let python = URL(fileURLWithPath: venv).appendingPathComponent("bin/python")
        return FileManager.default.isExecutableFile(atPath: python.path) ? python : nil
    }()

    /// sentence-transformers and transformers load both kinds of folder and give Sift's embeddings and logits within
    /// 1e-4 (Scripts/check_trained_model.py). CI has no torch: there the tests above check the folders with Sift's
    /// own loaders, whose parity with sentence-transformers the model golden files establish.
    @Test(.enabled(if: referencePython != nil, "needs the reference venv with sentence-transformers (Scripts/setup --python)"))
    func foldersLoadInSentenceTransformers() throws {
        let python = try #require(Self.referencePython)
        for kind in [TrainedModelKind.embedder, .reranker] {
            let out = Self.temporaryFolder("st-\(kind.rawValue)")
            defer { try? FileManager.default.removeItem(at: out) }
            let trainer = try Trainer(kind: kind, baseModel: TestPaths.miniLMModel!, settings: Self.settings(), threads: 2)
            _ = try trainer.train(Self.examples, output: out)
            let cases: [String: Any]
            if kind == .embedder {
                let texts = ["how do I undo a commit", "Exit status 137 means the process was killed by SIGKILL."]
                let flat = try trainer.model.embed(texts.map { try trainer.sequence($0, limit: 256) })
                cases = ["texts": texts, "embeddings": stride(from: 0, to: flat.count, by: 384).map { Array(flat[$0..<($0 + 384)]) }]
            } else {
                let pairs = [["how do I undo a commit", "git revert creates a new commit."], ["list hidden files", "chmod changes permissions."]]
                cases = ["pairs": pairs, "logits": try trainer.model.logits(pairs.map { try trainer.pair($0[0], $0[1]) })]
            }
            let casesFile = out.appendingPathComponent("cases.json")
            try JSONSerialization.data(withJSONObject: cases).write(to: casesFile)
            let process = Process()
            process.executableURL = python
            process.arguments = [TestPaths.repositoryRoot.appendingPathComponent("Scripts/check_trained_model.py").path,
                                 kind.rawValue, out.path, casesFile.path]
            process.environment = ProcessInfo.processInfo.environment.merging(["HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"]) { $1 }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(kind) folder in sentence-transformers:\n\(output)")
            #expect(output.contains("max |sift − sentence-transformers|"), "the check ran: \(output)")
        }
    }

    /// Same seed and threads → the same weights; a run stopped after its second step and resumed from the
    /// checkpoint → the same weights as the uninterrupted run (data order, dropout and AdamW state all restored).
    @Test func deterministicAndResumable() throws {
        let settings = Self.settings(2)
        let whole = Self.temporaryFolder("whole"), again = Self.temporaryFolder("again"), resumed = Self.temporaryFolder("resumed")
        defer { for f in [whole, again, resumed] { try? FileManager.default.removeItem(at: f) } }
        func weights(_ folder: URL) throws -> [Float] {
            try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors")).floats("encoder.layer.5.output.dense.weight")
        }
        _ = try Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: settings, threads: 2).train(Self.examples, output: whole)
        _ = try Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: settings, threads: 2).train(Self.examples, output: again)
        #expect(try weights(whole) == weights(again), "same seed, same weights")

        var steps = 0
        #expect(throws: TrainingError.stopped(step: 2, total: 4)) {
            _ = try Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: settings, threads: 2)
                .train(Self.examples, output: resumed, progress: { steps = $0.step }, shouldStop: { steps >= 2 })
        }
        #expect(FileManager.default.fileExists(atPath: resumed.appendingPathComponent("checkpoint/state.json").path))
        let summary = try Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: settings, threads: 2)
            .train(Self.examples, output: resumed, resume: true)
        #expect(summary.resumedFromStep == 2)
        #expect(try weights(resumed) == weights(whole), "resumed run ends where the uninterrupted one does")

        // A checkpoint of other data is refused, not mixed in.
        var other = settings
        other.seed = 7
        steps = 0
        _ = try? Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: other, threads: 2)
            .train(Self.examples, output: resumed, progress: { steps = $0.step }, shouldStop: { steps >= 1 })
        #expect(throws: TrainingError.self) {
            _ = try Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: settings, threads: 2)
                .train(Self.examples, output: resumed, resume: true)
        }
    }

    /// No passage twice in one embedder batch (it would be its own false negative); every example still trains.
    @Test func batchesKeepPassagesApart() throws {
        var examples = Self.examples
        examples.append(TrainingExample(query: "revert a commit", positive: Self.examples[0].positive, group: "git"))
        var settings = Self.settings()
        settings.batchSize = 6
        let trainer = try Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: settings, threads: 1)
        let batches = trainer.batches(examples, epoch: 0)
        for batch in batches { #expect(Set(batch.map(\.positive)).count == batch.count) }
        #expect(batches.map(\.count).reduce(0, +) == examples.count - (batches.last!.count < 2 ? 1 : 0) || batches.count == 1)
    }

    @Test func settingsAreChecked() {
        var s = TrainerSettings()
        s.batchSize = 1
        #expect(throws: TrainingError.self) { try Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: s) }
        s = TrainerSettings()
        s.learningRate = 5
        #expect(throws: TrainingError.self) { try Trainer(kind: .embedder, baseModel: TestPaths.miniLMModel!, settings: s) }
    }
}
