import ArgumentParser
import Foundation
import SiftPipeline

/// `sift pipeline`: what a pipeline file may say, from the registry every key and stage type is declared in.
struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Describe the pipeline file format: its keys, or a JSON Schema for editors.",
        discussion: """
        Both are generated from the registry the loader validates pipeline files with, so they list exactly the keys, \
        defaults, ranges, choices and stage types it accepts.

        Examples:
          sift pipeline keys
          sift pipeline schema > sift-pipeline.schema.json
            (then, for editors using yaml-language-server, start a pipeline file with
             # yaml-language-server: $schema=sift-pipeline.schema.json)
        """,
        subcommands: [KeysCommand.self, SchemaCommand.self])

    struct KeysCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keys",
            abstract: "Print every key of a pipeline file: value, default and meaning (Markdown).",
            discussion: """
            One table row per key with its dotted path, then what each choice means. Pipelines/README.md holds the \
            same text between its BEGIN/END markers, checked by the tests.

            Examples:
              sift pipeline keys
              sift pipeline keys | grep retriever
            """)

        func run() throws {
            Terminal.out(StageRegistry.markdownReference())
        }
    }

    struct SchemaCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "schema",
            abstract: "Print the JSON Schema (draft-07) of pipeline files.",
            discussion: """
            For completion, hover help and checks in editors. It describes the canonical spellings; `sift` also takes \
            yes/no/on/off for booleans and reader preset aliases such as `python`.

            Examples:
              sift pipeline schema > sift-pipeline.schema.json
              # VS Code (YAML extension), in settings.json:
              #   "yaml.schemas": { "./sift-pipeline.schema.json": "Pipelines/*.yaml" }
            """)

        func run() throws {
            Terminal.out(StageRegistry.jsonSchema())
        }
    }
}
