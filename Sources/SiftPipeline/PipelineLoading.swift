import Foundation
import SiftReader

extension PipelineConfig {
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
        var config = StageRegistry.defaults(name: defaultName)
        _ = validator.read(tree, path: "", keys: StageRegistry.pipeline, into: &config, missingInPlace: true,
                           check: StageRegistry.checkAcrossStages)
        if validator.problems.isEmpty { return config }
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

extension PipelineConfig {
    /// A pipeline without a file, for commands that only read and chunk (`sift inspect` without -p):
    /// the reader preset given (or the generic rules), default chunker settings, the model's tokenizer.
    public static func standalone(root: URL, preset: String?, model: URL) throws -> PipelineConfig {
        if let preset, ReaderOptions.preset(named: preset) == nil {
            throw PipelineError.invalid([ConfigProblem(path: "--preset", line: nil,
                                                       message: ConfigValidator.unknown("reader preset", preset, options: StageRegistry.readerPresets))])
        }
        return PipelineConfig(name: "standalone", source: SourceConfig(root: root), reader: ReaderConfig(preset: preset),
                              embedder: EmbedderConfig(model: model),
                              index: IndexConfig(path: FileManager.default.temporaryDirectory.appendingPathComponent("sift-standalone")))
    }
}
