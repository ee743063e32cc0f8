import Foundation

/// One key of a pipeline file as the key reference (`sift pipeline keys`, Pipelines/README.md) and the JSON Schema
/// (`sift pipeline schema`) describe it. Each is declared once, in `StageRegistry`, bound to the field it sets; this
/// description, the validation and the defaults all come from that declaration.
public struct ConfigKey: Sendable, Hashable {
    /// What a key holds, with its range or choices.
    public indirect enum Kind: Sendable, Hashable {
        /// A whole number of at least `atLeast`.
        case integer(atLeast: Int)
        /// A whole number within the range.
        case integerIn(ClosedRange<Int>)
        /// A number within the range.
        case number(ClosedRange<Float>)
        case boolean
        /// Text of letters, digits, `-`, `_` and `.` (the pipeline's name).
        case identifier
        /// A file or folder: relative to the pipeline file's folder (to the current directory with `--set`); `~` and
        /// `${VAR}` expand.
        case path
        /// A list of strings naming `item`s (a single string is a list of one); at least `minCount` when given.
        case list(of: String, minCount: Int)
        /// A connection URL starting with one of `schemes` (`postgresql://`); `${VAR}` and `${VAR:-default}` expand.
        /// It may hold a password, so messages show it only without user information and query.
        case url(schemes: [String])
        /// Text matching `pattern` (a regular expression, anchored); `summary` says it in words for the reference.
        case pattern(String, summary: String)
        /// A list of mappings, each of `keys` (`index.shards`); at least `minCount` items when given. Problems name
        /// an item by its position from 0: `index.shards[1].url`.
        case mappings([ConfigKey], minCount: Int)
        /// One of a closed set of words; `what` names the set in messages ("unknown fusion 'rff'").
        case choice([Choice], what: String)
        /// A mapping of further keys.
        case section([ConfigKey])
        /// A stage whose `type` key picks one of `types` (the first is the default), each with its own keys. `off`,
        /// when there is one, is the type that switches the stage off; it may also stand alone (`reranker: none`).
        case stage(types: [StageTypeDescription], off: Choice?)
    }

    /// One word of a closed set, with what it means.
    public struct Choice: Sendable, Hashable {
        public let name: String
        public let help: String
        public init(_ name: String, _ help: String) {
            self.name = name
            self.help = help
        }
    }

    /// A default value, as written in a pipeline file.
    public enum Value: Sendable, Hashable {
        case integer(Int)
        case number(Float)
        case boolean(Bool)
        case text(String)
        case texts([String])
    }

    /// What applies when the key is left out.
    public enum Default: Sendable, Hashable {
        /// The key must be given; `example` is shown in the error and the reference.
        case required(example: String)
        case value(Value)
        /// A default that depends on other settings, described in words.
        case described(String)
        /// Nothing is set.
        case unset
    }

    public let name: String
    public let kind: Kind
    public let defaultValue: Default
    /// One line: what the key does.
    public let help: String

    public var isRequired: Bool {
        if case .required = defaultValue { return true }
        return false
    }
}

/// One type of a stage (`embedder.type: bi-encoder`) as the reference and the schema describe it.
public struct StageTypeDescription: Sendable, Hashable {
    public let name: String
    public let help: String
    public let keys: [ConfigKey]
}

/// A closed set of words a key takes, each with one line of help: `retriever.fusion`, `precision`, `truncation`,
/// `answers.group_by`. The cases are the choices, so a new case is offered, documented and validated at once.
protocol ConfigChoice: CaseIterable, RawRepresentable<String> {
    var help: String { get }
}

extension ConfigChoice {
    static var choices: [ConfigKey.Choice] { allCases.map { ConfigKey.Choice($0.rawValue, $0.help) } }
}

/// A `ConfigKey` bound to the field of `Config` it sets: how the key is read from a file and how it is described.
/// Built by the static functions below, one per kind, each taking the key's name, its field, its range or choices
/// and its help; the default is the field's value in the defaults the key is read into.
struct Setting<Config> {
    let name: String
    /// For a required key, the example value its "required" message shows; nil for an optional key.
    let example: String?
    /// The description, with the default read from `defaults`.
    let describe: (_ defaults: Config) -> ConfigKey
    /// Validates `node` (found at key path `path`) and stores its value. Problems are reported and leave the field
    /// as it was.
    let read: (inout ConfigValidator, ConfigNode, _ path: String, inout Config) -> Void

    /// A key whose node `parse` turns into the field's value (nil after reporting a problem). `shown` renders the
    /// field's default for the reference; `fixedDefault` replaces it (a required key, or one described in words).
    static func bound<Value>(_ name: String, _ field: WritableKeyPath<Config, Value>, _ kind: ConfigKey.Kind,
                             help: String, fixedDefault: ConfigKey.Default? = nil,
                             shown: @escaping (Value) -> ConfigKey.Value? = { _ in nil },
                             parse: @escaping (inout ConfigValidator, ConfigNode, String) -> Value?) -> Setting {
        var example: String?
        if case let .required(text)? = fixedDefault { example = text }
        return Setting(name: name, example: example,
                describe: { defaults in
                    let value = defaults[keyPath: field]
                    return ConfigKey(name: name, kind: kind, defaultValue: fixedDefault ?? shown(value).map { .value($0) } ?? .unset,
                                     help: help)
                },
                read: { validator, node, path, config in
                    if let value = parse(&validator, node, path) { config[keyPath: field] = value }
                })
    }

    static func integer(_ name: String, _ field: WritableKeyPath<Config, Int>, atLeast minimum: Int, help: String) -> Setting {
        bound(name, field, .integer(atLeast: minimum), help: help, shown: { .integer($0) }) { validator, node, path in
            validator.int(node, path: path, atLeast: minimum)
        }
    }

    static func integer(_ name: String, _ field: WritableKeyPath<Config, Int>, in range: ClosedRange<Int>, help: String) -> Setting {
        bound(name, field, .integerIn(range), help: help, shown: { .integer($0) }) { validator, node, path in
            validator.int(node, path: path, in: range)
        }
    }

    static func number(_ name: String, _ field: WritableKeyPath<Config, Float>, in range: ClosedRange<Float>, help: String) -> Setting {
        bound(name, field, .number(range), help: help, shown: { .number($0) }) { validator, node, path in
            validator.float(node, path: path, in: range)
        }
    }

    static func boolean(_ name: String, _ field: WritableKeyPath<Config, Bool>, help: String) -> Setting {
        bound(name, field, .boolean, help: help, shown: { .boolean($0) }) { validator, node, path in
            validator.bool(node, path: path)
        }
    }

    static func list(_ name: String, _ field: WritableKeyPath<Config, [String]>, of item: String, minCount: Int = 0,
                     help: String) -> Setting {
        bound(name, field, .list(of: item, minCount: minCount), help: help, shown: { .texts($0) }) { validator, node, path in
            validator.strings(node, path: path, of: item, minCount: minCount)
        }
    }

    /// A required path.
    static func path(_ name: String, _ field: WritableKeyPath<Config, URL>, example: String, help: String) -> Setting {
        bound(name, field, .path, help: help, fixedDefault: .required(example: example)) { validator, node, path in
            validator.path(node, path: path)
        }
    }

    /// An optional path.
    static func path(_ name: String, _ field: WritableKeyPath<Config, URL?>, help: String) -> Setting {
        bound(name, field, .path, help: help) { validator, node, path in
            validator.path(node, path: path).map { .some($0) }
        }
    }

    /// One of the cases of `Choices`, named by `what` in messages.
    static func choice<Choices: ConfigChoice>(_ name: String, _ field: WritableKeyPath<Config, Choices>, what: String,
                                              help: String) -> Setting {
        bound(name, field, .choice(Choices.choices, what: what), help: help, shown: { .text($0.rawValue) }) { validator, node, path in
            validator.choice(node, path: path, options: Choices.choices.map(\.name), what: what).flatMap(Choices.init(rawValue:))
        }
    }

    /// A connection URL (`${VAR}` expanded), optional (nil until given) unless `example` makes it required.
    static func url(_ name: String, _ field: WritableKeyPath<Config, String?>, schemes: [String], example: String? = nil,
                    defaultText: String? = nil, help: String) -> Setting {
        bound(name, field, .url(schemes: schemes), help: help,
              fixedDefault: example.map { .required(example: $0) } ?? defaultText.map { .described($0) }) { validator, node, path in
            validator.url(node, path: path, schemes: schemes).map { .some($0) }
        }
    }

    /// A required connection URL (`${VAR}` expanded).
    static func url(_ name: String, _ field: WritableKeyPath<Config, String>, schemes: [String], example: String, help: String) -> Setting {
        bound(name, field, .url(schemes: schemes), help: help, fixedDefault: .required(example: example)) { validator, node, path in
            validator.url(node, path: path, schemes: schemes)
        }
    }

    /// A list of connection URLs (a single string is a list of one).
    static func urls(_ name: String, _ field: WritableKeyPath<Config, [String]>, schemes: [String], help: String) -> Setting {
        bound(name, field, .list(of: "URL", minCount: 0), help: help, shown: { .texts($0) }) { validator, node, path in
            validator.urls(node, path: path, schemes: schemes)
        }
    }

    /// A list of mappings, each read through `keys` into `item` (every field at its default); left out, the
    /// field's default (an empty list).
    static func mappings<Item>(_ name: String, _ field: WritableKeyPath<Config, [Item]>, item: Item, _ keys: [Setting<Item>],
                               minCount: Int = 1, help: String) -> Setting {
        bound(name, field, .mappings(keys.map { $0.describe(item) }, minCount: minCount), help: help) { validator, node, path in
            validator.mappings(node, path: path, keys: keys, item: item, minCount: minCount)
        }
    }

    /// A mapping of further keys, read into the field's current value (its default, or what an earlier key left).
    /// Left out, it is its keys' defaults, unless `required` gives an example or `defaultText` says otherwise.
    static func section<Section>(_ name: String, _ field: WritableKeyPath<Config, Section>, _ keys: [Setting<Section>],
                                 required example: String? = nil, defaultText: String? = nil, help: String,
                                 check: ((inout ConfigValidator, ConfigValidator.Fields, inout Section) -> Void)? = nil) -> Setting {
        let fixed = example.map { ConfigKey.Default.required(example: $0) } ?? .described(defaultText ?? "its keys' defaults")
        return Setting(name: name, example: example,
                       describe: { defaults in
                           let section = defaults[keyPath: field]
                           return ConfigKey(name: name, kind: .section(keys.map { $0.describe(section) }), defaultValue: fixed,
                                            help: help)
                       },
                       read: { validator, node, path, config in
                           var section = config[keyPath: field]
                           if validator.read(node, path: path, keys: keys, into: &section, check: check) { config[keyPath: field] = section }
                       })
    }
}

extension ConfigKey {
    /// This key and every key below it with its dotted path, depth first in declaration order: a stage's `type` key,
    /// then each type's keys; the keys of a list of mappings' items follow `name[]` (`index.shards[].url`); `type` names the stage type a key belongs to when the stage has several.
    public func flattened(prefix: String = "") -> [(path: String, type: String?, key: ConfigKey)] {
        let path = prefix.isEmpty ? name : "\(prefix).\(name)"
        switch kind {
        case let .section(keys):
            return [(path, nil, self)] + keys.flatMap { $0.flattened(prefix: path) }
        case let .mappings(keys, _):
            return [(path, nil, self)] + keys.flatMap { $0.flattened(prefix: path + "[]") }
        case let .stage(types, off):
            let typeKey = ConfigKey.stageType(types: types, off: off, stage: name)
            return [(path, nil, self), ("\(path).type", nil, typeKey)] + types.flatMap { type in
                type.keys.flatMap { $0.flattened(prefix: path) }.map { ($0.path, types.count > 1 ? type.name : $0.type, $0.key) }
            }
        default:
            return [(path, nil, self)]
        }
    }

    /// The `type` key of a stage: one of its types (the first by default) or `off`.
    static func stageType(types: [StageTypeDescription], off: Choice?, stage: String) -> ConfigKey {
        ConfigKey(name: "type", kind: .choice(types.map { Choice($0.name, $0.help) } + (off.map { [$0] } ?? []), what: "\(stage) type"),
                  defaultValue: .value(.text(types[0].name)), help: "which \(stage) runs; each type has its own keys")
    }
}
