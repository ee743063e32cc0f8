import Foundation
import Testing
import SiftTestSupport
@testable import SiftPipeline

/// Parses `yaml` as if it were a file in /repo/Pipelines.
private func parse(_ yaml: String, environment: [String: String] = [:]) throws -> PipelineConfig {
    try PipelineConfig.parse(yaml: yaml, file: "test.yaml", baseDirectory: URL(fileURLWithPath: "/repo/Pipelines"),
                             defaultName: "test", environment: environment, workingDirectory: URL(fileURLWithPath: "/work/cwd"))
}

/// The problems `parse` reports; fails the test when the YAML is accepted.
private func problems(_ yaml: String, environment: [String: String] = [:]) -> [ConfigProblem] {
    do {
        _ = try parse(yaml, environment: environment)
        Issue.record("expected the pipeline to be rejected")
        return []
    } catch PipelineError.invalid(let problems) {
        return problems
    } catch {
        Issue.record("unexpected error \(error)")
        return []
    }
}

private let minimal = "source: { root: docs }\nembedder: { model: m }\n"

/// `index.type: postgres`: its keys, checks and settings, and that no password ever reaches a message.
@Suite struct PostgresIndexConfigTests {
    @Test func localStaysTheDefault() throws {
        let absent = try parse(minimal)
        #expect(absent.index == IndexConfig(path: URL(fileURLWithPath: "/repo/Pipelines/.sift/test")))
        #expect(absent.index.type == "local")
        let given = try parse(minimal + "index: { path: idx }")
        #expect(given.index == IndexConfig(path: URL(fileURLWithPath: "/repo/Pipelines/idx")))
        #expect(try parse(minimal + "index: { type: local, path: idx }").index == given.index)
        #expect(problems(minimal + "index: {}").map(\.description) == ["index.path: required; for example path: ../.sift/handbook (line 3)"])
        #expect(StageRegistry.indexTypes == ["local", "postgres"])
        #expect(try StageRegistry.makeStoreBackend(given.index).location == "/repo/Pipelines/idx")
    }

    @Test func oneServerWithReplicas() throws {
        let config = try parse(minimal + """
            index:
              type: postgres
              url: postgresql://sift@db1:5432/sift?sslmode=require
              replicas: [postgresql://sift@db1r:5432/sift, "postgres://sift@db1s/sift"]
              schema: docs_v2
              vector_index: exact
              hnsw: { m: 8, ef_construction: 16, ef_search: 40 }
              statement_timeout_ms: 0
              connect_timeout_s: 2
              on_shard_failure: partial
            """).index
        #expect(config.type == "postgres")
        let settings = try config.postgres.settings()
        #expect(settings.shards.count == 1)
        #expect(settings.shards[0].primary.url == "postgresql://sift@db1:5432/sift?sslmode=require")
        #expect(settings.shards[0].primary.password == nil)
        #expect(settings.shards[0].replicas.map(\.url) == ["postgresql://sift@db1r:5432/sift", "postgres://sift@db1s/sift"])
        #expect(settings.schema == "docs_v2")
        #expect(settings.vectorIndex == .exact)
        #expect(settings.hnsw == .init(m: 8, efConstruction: 16, efSearch: 40))
        #expect(settings.statementTimeoutMilliseconds == 0)
        #expect(settings.connectTimeoutSeconds == 2)
        #expect(settings.onShardFailure == .partial)
    }

    @Test func shardsWithDefaults() throws {
        let config = try parse(minimal + """
            index:
              type: postgres
              shards:
                - url: postgresql://postgres@127.0.0.1:54329/sift
                  replicas: [postgresql://postgres@127.0.0.1:54331/sift]
                - { url: postgresql://postgres@127.0.0.1:54330/sift }
            """).index
        let settings = try config.postgres.settings()
        #expect(settings.shards.map(\.primary.url) == ["postgresql://postgres@127.0.0.1:54329/sift", "postgresql://postgres@127.0.0.1:54330/sift"])
        #expect(settings.shards.map { $0.replicas.map(\.url) } == [["postgresql://postgres@127.0.0.1:54331/sift"], []])
        #expect(settings.schema == "sift")
        #expect(settings.vectorIndex == .hnsw)
        #expect(settings.hnsw == .init(m: 16, efConstruction: 64, efSearch: 400))
        #expect(settings.statementTimeoutMilliseconds == 30_000)
        #expect(settings.connectTimeoutSeconds == 5)
        #expect(settings.onShardFailure == .fail)
        #expect(config.description == "postgres 127.0.0.1:54329/sift (replicas 127.0.0.1:54331/sift); 127.0.0.1:54330/sift, schema sift, hnsw")
    }

    @Test func variablesExpandWithDefaults() throws {
        let yaml = minimal + "index: { type: postgres, url: 'postgresql://u@${PGH:-localhost}:${PGP:-5432}/${PGDB}' }"
        #expect(try parse(yaml, environment: ["PGDB": "d"]).index.postgres.url == "postgresql://u@localhost:5432/d")
        #expect(try parse(yaml, environment: ["PGDB": "d", "PGH": "db", "PGP": ""]).index.postgres.url == "postgresql://u@db:5432/d")
        #expect(problems(yaml).map(\.description)
                == ["index.url: environment variable PGDB is not set (used in 'postgresql://...@${PGH:-localhost}:${PGP:-5432}/${PGDB}') (line 3)"])
        // Paths take the default form too.
        #expect(try parse(minimal + "index: { path: '${IDX:-idx}' }").index.path.path == "/repo/Pipelines/idx")
    }

    @Test func everyProblemAtOnceWithPathAndLine() {
        let found = problems(minimal + """
            index:
              type: postgres
              url: postgresql://h/db
              schema: x; DROP TABLE
              path: ../.sift/x
              hnsw: { m: 40, ef_construction: 64, ef_search: 0 }
              shards:
                - { replicas: [postgresql://r/db] }
                - { url: postgresql://s/db, replica: [postgresql://t/db] }
                - { url: mysql://u:pw@s/db }
              vector_index: ivf
              on_shard_failure: retry
            """).map(\.description)
        #expect(found == [
            "index.schema: use [a-z_][a-z0-9_]{0,47} (lower-case letters, digits and '_', at most 48, not starting with a digit or pg_), "
                + "got 'x; DROP TABLE' (line 6)",
            "index.path: not a key of index type 'postgres', whose keys are type, url, replicas, shards, password_file, schema, vector_index, "
                + "hnsw, statement_timeout_ms, connect_timeout_s, on_shard_failure, lexical; it belongs to type 'local' (line 7)",
            "index.hnsw.ef_search: must be between 1 and 1000, got 0 (line 8)",
            "index.hnsw.ef_construction: 64 is less than 2 · m (80); pgvector needs ef_construction ≥ 2 · m (line 8)",
            "index.shards[0].url: required; for example url: postgresql://sift@db1:5432/sift (line 10)",
            "index.shards: url and shards exclude each other: url is one server, shards are several (line 10)",
            "index.shards[1].replica: unknown key; did you mean 'replicas'? (line 11)",
            "index.shards[2].url: expected a URL starting with postgresql:// or postgres://, got 'mysql://...' "
                + "(for example postgresql://user@host:5432/database) (line 12)",
            "index.vector_index: unknown vector index 'ivf'; expected one of hnsw, exact (line 13)",
            "index.on_shard_failure: unknown shard failure policy 'retry'; expected one of fail, partial (line 14)",
        ])
    }

    @Test func neitherUrlNorShardsAndForeignKeys() {
        #expect(problems(minimal + "index: { type: postgres }").map(\.description)
                == ["index: give url (one server) or shards (several); for example url: postgresql://sift@localhost:5432/sift (line 3)"])
        #expect(problems(minimal + "index: { type: postgres, shards: [] }").map(\.message)
                == ["must list at least one item"])
        #expect(problems(minimal + "index: { type: postgres, shards: [{ url: 'postgresql://a/d' }], replicas: ['postgresql://b/d'] }")
            .map(\.path) == ["index.replicas"])
        #expect(problems(minimal + "index: { path: idx, url: 'postgresql://a/d' }").map(\.message)
                == ["not a key of index type 'local', whose keys are type, path; it belongs to type 'postgres'"])
        #expect(problems(minimal + "index: { type: postgres, url: 'postgresql://a/d', shard: [] }").map(\.message)
                == ["unknown key; did you mean 'shards'?"])
        #expect(problems(minimal + "index: { type: postgress, url: 'postgresql://a/d' }").first?.message
                == "unknown index type 'postgress'; expected one of local, postgres; did you mean 'postgres'?")
        #expect(problems(minimal + "index: { type: postgres, url: 'postgresql://a/d', schema: pg_toast }").map(\.path) == ["index.schema"])
        #expect(problems(minimal + "index: { type: postgres, url: 'postgresql://a/d', hnsw: { m: 1 } }").map(\.path) == ["index.hnsw.m"])
        #expect(problems(minimal + "index: { type: postgres, url: 'postgresql://a/d', statement_timeout_ms: -1 }").map(\.path)
                == ["index.statement_timeout_ms"])
    }

    /// A password, written in a URL or coming from a variable, appears in no problem and no description.
    @Test func passwordsNeverShow() throws {
        let secret = "s3cr3t-Pw", written = "hunter2"
        let environment = ["PGPW": secret, "PGUSER_PW": "u:\(secret)"]
        let found = problems(minimal + """
            index:
              type: postgres
              shards:
                - url: "postgresql://u:${PGPW}@${NOHOST}/db"
                  replicas: ["postgresql://u:\(written)@${NOHOST2}/db?password=\(written)", "mysql://u:${PGPW}@h/db", "${PGUSER_PW}@h/db"]
                - url: "postgresql://u:\(written)@h/db?password=\(written)"
                  replicas: { a: "postgresql://u:\(written)@h/db" }
                - url: "postgresql://u:\(written)@h/${UNTERMINATED"
                - url: "postgresql://${PGUSER_PW}@h/db"
                  extra: "postgresql://u:\(written)@h/db"
              url: "postgresql://u:${PGPW}@h/db"
              schema: "\(written)"
            """, environment: environment)
        #expect(found.count >= 6)
        for problem in found {
            #expect(!problem.description.contains(secret), "\(problem)")
            #expect(!problem.description.contains(written) || problem.path == "index.schema", "\(problem)")
        }
        let config = try parse(minimal + """
            index:
              type: postgres
              url: "postgresql://u:${PGPW}@h:5433/db?password=${PGPW}"
              replicas: ["postgresql://u:\(written)@r/db"]
            """, environment: environment)
        #expect(config.index.postgres.url == "postgresql://u:\(secret)@h:5433/db?password=\(secret)")
        for text in ["\(config)", "\(config.index)", "\(config.index.postgres)", String(reflecting: config), "\(try config.index.postgres.settings())"] {
            #expect(!text.contains(secret) && !text.contains(written), "\(text)")
        }
        #expect(config.index.description == "postgres h:5433/db (replicas r:5432/db), schema sift, hnsw")
    }

    @Test func passwordFileIsReadWhenBuildingSettings() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-pw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "pa:ss word\nsecond line\n".write(to: folder.appendingPathComponent("pw"), atomically: true, encoding: .utf8)
        try "\n".write(to: folder.appendingPathComponent("empty"), atomically: true, encoding: .utf8)

        func index(_ file: String) throws -> PostgresIndexConfig {
            try PipelineConfig.parse(yaml: minimal + """
                index: { type: postgres, shards: [{ url: 'postgresql://u@a/d', replicas: ['postgresql://u@b/d'] }, { url: 'postgresql://u@c/d' }],
                         password_file: \(file) }
                """, baseDirectory: folder, environment: [:]).index.postgres
        }
        let config = try index("pw")
        #expect(config.passwordFile?.path == ConfigValidator.lexicallyNormalized(folder.appendingPathComponent("pw").path))
        let settings = try config.settings()
        #expect(settings.shards.flatMap { [$0.primary] + $0.replicas }.map(\.password) == ["pa:ss word", "pa:ss word", "pa:ss word"])
        #expect(!"\(config)".contains("pa:ss"))
        #expect(try StageRegistry.makeStoreBackend(IndexConfig(postgres: config)).location.contains("pa:ss") == false)

        for (file, reason) in [("missing", "no such file"), ("empty", "its first line is empty"), (".", "a folder, not a file")] {
            do {
                _ = try index(file).settings()
                Issue.record("expected \(file) to fail")
            } catch PipelineError.invalid(let problems) {
                let path = ConfigValidator.lexicallyNormalized(folder.appendingPathComponent(file).path)
                #expect(problems.map(\.description) == ["index.password_file: cannot read the password from \(path): \(reason)"])
            }
        }
    }

    @Test func referenceDescribesTheShardItems() {
        let reference = StageRegistry.markdownReference()
        #expect(reference.contains("| `index.type` | `local` \\| `postgres` | `local` |"))
        #expect(reference.contains("| `index.shards` (postgres) | list of mappings (at least 1) | none |"))
        #expect(reference.contains("| `index.shards[].url` (postgres) | URL `postgresql://…` or `postgres://…` | **required**"))
        #expect(reference.contains("| `index.hnsw.m` (postgres) | integer from 2 to 100 | `16` |"))
        #expect(reference.contains("| `index.schema` (postgres) | `[a-z_][a-z0-9_]{0,47}`, not starting with `pg_` | `sift` |"))
    }
}
