import Foundation
import SiftReader

/// The closed sets of stage types and options a pipeline file may name.
public enum StageRegistry {
    /// Embedder types (`embedder.type`).
    public static let embedderTypes = ["bi-encoder"]
    /// Re-ranker types (`reranker.type`, or `reranker: none`).
    public static let rerankerTypes = ["cross-encoder", "none"]
    /// Reader presets (`reader.preset`).
    public static var readerPresets: [String] { ReaderOptions.presetNames }
}

extension PipelineConfig {
    static let topLevelKeys = ["name", "source", "reader", "chunker", "embedder", "index", "retriever", "reranker", "answers", "eval"]

    /// Loads and validates a pipeline file, applying `--set` overrides on top.
    /// Throws `PipelineError.invalid` listing every problem found (each with key path and line).
    public static func load(contentsOf file: URL, overrides: [PipelineOverride] = [],
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) throws -> PipelineConfig {
        // Read one byte past the limit, not the whole file: `-p /dev/zero` or a 10 GB file must fail at once.
        let data: Data?
        do {
            let handle = try FileHandle(forReadingFrom: file)
            defer { try? handle.close() }
            data = try handle.read(upToCount: YAMLLimits.maxBytes + 1)
        } catch {
            let reason = FileManager.default.fileExists(atPath: file.path) ? "not readable" : "no such file"
            throw PipelineError.unreadable(file: file.path, reason: reason)
        }
        if let data, data.count > YAMLLimits.maxBytes {
            throw PipelineError.inputLimit(source: file.path, line: nil,
                                           message: "larger than the limit of \(YAMLLimits.maxBytes) bytes (1 MiB) for pipeline YAML")
        }
        guard let text = String(data: data ?? Data(), encoding: .utf8) else {
            throw PipelineError.unreadable(file: file.path, reason: "not UTF-8 text")
        }
        var config = try parse(yaml: text, file: file.path, baseDirectory: file.deletingLastPathComponent(),
                               defaultName: file.deletingPathExtension().lastPathComponent,
                               overrides: overrides, environment: environment, workingDirectory: workingDirectory)
        config.file = file
        return config
    }

    /// Validates pipeline YAML. Relative paths resolve against `baseDirectory`; those from overrides against `workingDirectory`.
    public static func parse(yaml: String, file: String = "<pipeline>", baseDirectory: URL, defaultName: String = "pipeline",
                             overrides: [PipelineOverride] = [],
                             environment: [String: String] = ProcessInfo.processInfo.environment,
                             workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) throws -> PipelineConfig {
        var tree = try ConfigNode.parse(yaml: yaml, file: file) ?? .mapping([], line: nil)
        if tree.isNull { tree = .mapping([], line: nil) }
        for override in overrides {
            tree = tree.setting(override.value, at: override.keyPath[...])
        }
        var validator = ConfigValidator(fileBase: baseDirectory, overrideBase: workingDirectory, environment: environment)
        let config = validator.pipeline(tree, defaultName: defaultName)
        if let config, validator.problems.isEmpty { return config }
        let sorted = validator.problems.enumerated().sorted { a, b in
            // File problems in line order, override problems (no line) last, otherwise in the order found.
            switch (a.element.line, b.element.line) {
            case let (x?, y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.offset < b.offset
            }
        }.map(\.element)
        throw PipelineError.invalid(sorted)
    }
}

extension ConfigValidator {
    /// The whole file. Returns nil when a required section is unusable (problems are then recorded).
    mutating func pipeline(_ tree: ConfigNode, defaultName: String) -> PipelineConfig? {
        guard let top = fields(tree, path: "", allowed: PipelineConfig.topLevelKeys) else { return nil }

        var name = defaultName
        if let node = top["name"], let text = string(node, path: "name") {
            if text.isEmpty || text.contains(where: { !($0.isLetter || $0.isNumber || "-_.".contains($0)) }) {
                report("name", node.line, "use letters, digits, '-', '_' or '.', got '\(text)'")
            } else {
                name = text
            }
        }

        let source = required(top, "source", example: "{ root: ../Corpora/handbook, include: [\"**/*.html\"] }").flatMap { sourceConfig($0) }
        let reader = top["reader"].flatMap { readerConfig($0) } ?? ReaderConfig()
        let chunker = top["chunker"].flatMap { chunkerConfig($0) } ?? ChunkerConfig()
        let embedder = required(top, "embedder", example: "{ model: ../Models/all-MiniLM-L6-v2 }").flatMap { embedderConfig($0) }
        let index = top["index"].flatMap { indexConfig($0) } ?? IndexConfig(path: fileBase.appendingPathComponent(".sift/\(name)"))
        let retriever = top["retriever"].flatMap { retrieverConfig($0) } ?? RetrieverConfig()
        let reranker = top["reranker"].flatMap { rerankerConfig($0) } ?? nil
        let answers = top["answers"].flatMap { answersConfig($0) } ?? AnswersConfig()
        let eval = top["eval"].flatMap { evalConfig($0) }

        // Cross-stage checks.
        if let reranker, reranker.topK > retriever.topK {
            report("reranker.top_k", top["reranker"]?.line,
                   "\(reranker.topK) exceeds retriever.top_k (\(retriever.topK)); the re-ranker only sees retrieved candidates")
        }
        let answerPool = reranker?.topK ?? retriever.topK
        if answers.topK > answerPool {
            report("answers.top_k", top["answers"]?.line,
                   "\(answers.topK) exceeds \(reranker == nil ? "retriever" : "reranker").top_k (\(answerPool))")
        }
        guard let source, let embedder else { return nil }
        return PipelineConfig(name: name, source: source, reader: reader, chunker: chunker, embedder: embedder,
                              index: index, retriever: retriever, reranker: reranker, answers: answers, eval: eval)
    }

    mutating func sourceConfig(_ node: ConfigNode) -> SourceConfig? {
        guard let f = fields(node, path: "source", allowed: ["root", "include", "exclude"]) else { return nil }
        let include = strings(f, "include", default: SourceConfig.defaultInclude)
        let exclude = strings(f, "exclude", default: [])
        if f["include"] != nil, include.isEmpty { report("source.include", f["include"]?.line, "must list at least one glob") }
        guard let rootNode = required(f, "root", example: "../Corpora/handbook"), let root = path(rootNode, path: "source.root") else { return nil }
        return SourceConfig(root: root, include: include, exclude: exclude)
    }

    mutating func readerConfig(_ node: ConfigNode) -> ReaderConfig? {
        guard let f = fields(node, path: "reader", allowed: ["preset", "drop", "keep"]) else { return nil }
        var preset: String?
        if let presetNode = f["preset"], !presetNode.isNull, let text = string(presetNode, path: "reader.preset") {
            if ReaderOptions.preset(named: text) != nil {
                preset = text
            } else {
                _ = choice(presetNode, path: "reader.preset", options: StageRegistry.readerPresets, what: "reader preset")
            }
        }
        return ReaderConfig(preset: preset, drop: strings(f, "drop", default: []), keep: strings(f, "keep", default: []))
    }

    mutating func chunkerConfig(_ node: ConfigNode) -> ChunkerConfig? {
        guard let f = fields(node, path: "chunker", allowed: ["max_tokens", "overlap_tokens", "heading_prefix", "min_tokens",
                                                                 "split_on_anchor", "title_in_path"]) else { return nil }
        let defaults = ChunkerConfig()
        let maxTokens = int(f, "max_tokens", default: defaults.maxTokens, atLeast: 8)
        let overlap = int(f, "overlap_tokens", default: defaults.overlapTokens, atLeast: 0)
        let minTokens = int(f, "min_tokens", default: defaults.minTokens, atLeast: 0)
        if overlap >= maxTokens / 2 {
            report("chunker.overlap_tokens", f["overlap_tokens"]?.line ?? f.line,
                   "\(overlap) must be less than half of max_tokens (\(maxTokens)) so chunks advance")
        }
        if minTokens > maxTokens {
            report("chunker.min_tokens", f["min_tokens"]?.line ?? f.line, "\(minTokens) exceeds max_tokens (\(maxTokens))")
        }
        return ChunkerConfig(maxTokens: maxTokens, overlapTokens: overlap,
                             headingPrefix: bool(f, "heading_prefix", default: defaults.headingPrefix), minTokens: minTokens,
                             splitOnAnchor: bool(f, "split_on_anchor", default: defaults.splitOnAnchor),
                             titleInPath: bool(f, "title_in_path", default: defaults.titleInPath))
    }

    mutating func embedderConfig(_ node: ConfigNode) -> EmbedderConfig? {
        guard let f = fields(node, path: "embedder", allowed: ["type", "model", "batch_size", "precision"]) else { return nil }
        if let typeNode = f["type"] {
            _ = choice(typeNode, path: "embedder.type", options: StageRegistry.embedderTypes, what: "embedder type")
        }
        let batchSize = int(f, "batch_size", default: 32, atLeast: 1)
        let precision = precisionSetting(f, default: EmbedderConfig.defaultPrecision)
        guard let modelNode = required(f, "model", example: "../Models/all-MiniLM-L6-v2"),
              let model = path(modelNode, path: "embedder.model") else { return nil }
        return EmbedderConfig(model: model, batchSize: batchSize, precision: precision)
    }

    mutating func indexConfig(_ node: ConfigNode) -> IndexConfig? {
        guard let f = fields(node, path: "index", allowed: ["path"]) else { return nil }
        guard let pathNode = required(f, "path", example: "../.sift/handbook"), let url = path(pathNode, path: "index.path") else { return nil }
        return IndexConfig(path: url)
    }

    mutating func retrieverConfig(_ node: ConfigNode) -> RetrieverConfig? {
        guard let f = fields(node, path: "retriever", allowed: ["top_k", "dense", "bm25", "fusion", "rrf_k", "dense_weight"]) else { return nil }
        let defaults = RetrieverConfig()
        let dense = bool(f, "dense", default: defaults.dense)
        let bm25 = bool(f, "bm25", default: defaults.bm25)
        var fusion = defaults.fusion
        if let fusionNode = f["fusion"],
           let text = choice(fusionNode, path: "retriever.fusion", options: FusionMethod.allCases.map(\.rawValue), what: "fusion") {
            fusion = FusionMethod(rawValue: text) ?? defaults.fusion
        }
        if !dense && !bm25 {
            report("retriever", f.line, "dense and bm25 are both off; switch at least one on")
        } else if dense && bm25 && fusion == .none {
            report("retriever.fusion", f["fusion"]?.line, "'none' needs exactly one of dense and bm25; use rrf or weighted, or set bm25: false")
        }
        return RetrieverConfig(topK: int(f, "top_k", default: defaults.topK, atLeast: 1), dense: dense, bm25: bm25, fusion: fusion,
                               rrfK: int(f, "rrf_k", default: defaults.rrfK, atLeast: 1),
                               denseWeight: float(f, "dense_weight", default: defaults.denseWeight, in: 0...1))
    }

    /// `reranker: none`, `reranker: { type: none }`, or a cross-encoder block. Returns `.some(nil)` for none.
    mutating func rerankerConfig(_ node: ConfigNode) -> RerankerConfig?? {
        if node.isNull { return .some(nil) }
        if case .scalar = node {
            guard let text = choice(node, path: "reranker", options: ["none"], what: "reranker (use none, or a mapping with model:)") else { return nil }
            _ = text
            return .some(nil)
        }
        guard let f = fields(node, path: "reranker", allowed: ["type", "model", "top_k", "max_tokens", "truncation", "batch_size",
                                                                  "precision"]) else { return nil }
        if let typeNode = f["type"],
           choice(typeNode, path: "reranker.type", options: StageRegistry.rerankerTypes, what: "reranker type") == "none" {
            return .some(nil)
        }
        let defaults = RerankerConfig(model: fileBase)
        let topK = int(f, "top_k", default: defaults.topK, atLeast: 1)
        let maxTokens = int(f, "max_tokens", default: defaults.maxTokens, atLeast: 16)
        let batchSize = int(f, "batch_size", default: defaults.batchSize, atLeast: 1)
        var truncation = defaults.truncation
        if let truncationNode = f["truncation"],
           let text = choice(truncationNode, path: "reranker.truncation", options: TruncationPolicy.allCases.map(\.rawValue), what: "truncation") {
            truncation = TruncationPolicy(rawValue: text) ?? truncation
        }
        let precision = precisionSetting(f, default: defaults.precision)
        guard let modelNode = required(f, "model", example: "../Models/ms-marco-MiniLM-L-6-v2"),
              let model = path(modelNode, path: "reranker.model") else { return nil }
        return .some(RerankerConfig(model: model, topK: topK, maxTokens: maxTokens, truncation: truncation, batchSize: batchSize,
                                    precision: precision))
    }

    /// `precision: fp32 | bf16 | int8` of a model stage; the stage's default when absent or invalid (the problem is reported).
    mutating func precisionSetting(_ f: Fields, default fallback: PrecisionSetting) -> PrecisionSetting {
        guard let node = f["precision"],
              let text = choice(node, path: f.path("precision"), options: PrecisionSetting.allCases.map(\.rawValue), what: "precision")
        else { return fallback }
        return PrecisionSetting(rawValue: text) ?? fallback
    }

    mutating func answersConfig(_ node: ConfigNode) -> AnswersConfig? {
        guard let f = fields(node, path: "answers", allowed: ["top_k", "highlight", "group_by"]) else { return nil }
        let defaults = AnswersConfig()
        var groupBy = defaults.groupBy
        if let node = f["group_by"],
           let text = choice(node, path: "answers.group_by", options: AnswerGrouping.allCases.map(\.rawValue), what: "answer grouping") {
            groupBy = AnswerGrouping(rawValue: text) ?? groupBy
        }
        return AnswersConfig(topK: int(f, "top_k", default: defaults.topK, atLeast: 1), highlight: bool(f, "highlight", default: defaults.highlight),
                             groupBy: groupBy)
    }

    mutating func evalConfig(_ node: ConfigNode) -> EvalConfig? {
        guard let f = fields(node, path: "eval", allowed: ["labels"]) else { return nil }
        return EvalConfig(labels: f["labels"].flatMap { path($0, path: "eval.labels") })
    }
}

extension PipelineConfig {
    /// A pipeline without a file, for commands that only read and chunk (`sift inspect` without -p):
    /// the reader preset given (or the generic rules), default chunker settings, the model's tokenizer.
    public static func standalone(root: URL, preset: String?, model: URL) throws -> PipelineConfig {
        if let preset, ReaderOptions.preset(named: preset) == nil {
            var message = "unknown reader preset '\(preset)'; expected one of \(StageRegistry.readerPresets.joined(separator: ", "))"
            if let guess = Suggestion.closest(to: preset, among: StageRegistry.readerPresets) { message += "; did you mean '\(guess)'?" }
            throw PipelineError.invalid([ConfigProblem(path: "--preset", line: nil, message: message)])
        }
        return PipelineConfig(name: "standalone", source: SourceConfig(root: root), reader: ReaderConfig(preset: preset),
                              embedder: EmbedderConfig(model: model),
                              index: IndexConfig(path: FileManager.default.temporaryDirectory.appendingPathComponent("sift-standalone")))
    }
}
