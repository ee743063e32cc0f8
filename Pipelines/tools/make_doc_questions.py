#!/usr/bin/env python3
"""Held-out evaluation questions for the PostgreSQL 15 and SQLite documentation collections.

Writes Pipelines/{postgresql,sqlite}-docs-eval.{dev,test}.jsonl in Sift's eval label format, one question a line:
    {"id": "pg-001", "question": "...", "relevant": ["page.html#ANCHOR", "other.html"]}
or, where one target is clearly the best, graded: "relevant": {"page.html#ANCHOR": 2, "other.html": 1}.

The questions were written by hand, in user phrasing, from reading the pages (see README-questions.md). Every
question carries, besides its targets, one check phrase per target (or None) that must occur in the target's text:
the whole page, or for `page#anchor` the anchor's section (the element's own text when it is a container, else from
the anchor to the next heading / a[name] / dt[id]). Validation fails when a file is missing, excluded by the pipeline's
globs, lacks the anchor as id= or name=, or lacks the check phrase. It warns when the check phrase sits under a deeper
anchor than the label names (Sift matches `page#anchor` labels against a chunk's anchor exactly, so such a label
could only be hit by chunks elsewhere in the section).

Split: ids are stable (a question's position in its list; add new questions at the end); sha1(id) mod 5 < 2 -> dev
(about 40 %), else test.

    python3 Pipelines/tools/make_doc_questions.py            # validate, then write the four files
    python3 Pipelines/tools/make_doc_questions.py --check    # validate only
Options: --pg-root DIR, --sqlite-root DIR (default: the roots in the pipeline YAML files).
"""
import argparse
import hashlib
import html.parser
import json
import os
import pathlib
import re
import sys

PIPELINES = pathlib.Path(__file__).resolve().parent.parent

VOID = {"area","base","br","col","embed","hr","img","input","link","meta","param","source","track","wbr"}
HEAD = re.compile(r"h[1-6]$")
class Page(html.parser.HTMLParser):
    """Flat text of a page plus, for every id=/name= anchor, where it starts and ends in that text."""
    def __init__(self, source):
        super().__init__(convert_charrefs=True)
        self.parts, self.pos, self.stack = [], 0, []
        self.anchors = {}     # anchor -> [tag, start, end]
        self.breaks = []      # (pos, kind) positions where a new section/entry starts: headings, a[name], dt[id]
        self.skip = 0
        self.parent = {}      # anchor -> its parent element entry [tag, names, start, end]
        self.feed(source); self.close()
        for e in self.stack: self._end(e)
        self.text = "".join(self.parts)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"): self.skip += 1
        names = [v for k, v in attrs if k == "id" or (k == "name" and tag == "a")]
        if "indexterm" in (a.get("class") or ""): names = []   # DocBook index-term targets: dropped by the reader
        parent = self.stack[-1] if self.stack else None
        for n in names:
            if n not in self.anchors:
                self.anchors[n] = [tag, self.pos, None]
                self.parent[n] = parent
        if HEAD.match(tag) or (tag == "a" and a.get("name")) or (tag == "dt" and a.get("id")):
            self.breaks.append(self.pos)
        if tag in VOID:
            for n in names: self.anchors[n][2] = self.pos
            return
        self.stack.append([tag, names, self.pos, None])
    def _end(self, e):
        e[3] = self.pos
        for n in e[1]:
            if self.anchors[n][2] is None: self.anchors[n][2] = self.pos
    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip: self.skip -= 1
        if not any(e[0] == tag for e in self.stack): return
        while self.stack:
            e = self.stack.pop(); self._end(e)
            if e[0] == tag: break
        if HEAD.match(tag) or tag in ("p", "div", "li", "dt", "dd", "tr", "pre", "br", "td", "th"):
            self._add(" ")
    def handle_data(self, data):
        if not self.skip: self._add(data)
    def _add(self, s):
        self.parts.append(s); self.pos += len(s)
    def region(self, anchor):
        """Text an anchor labels: its element's text when that is a real container, else (empty a[name], heading, dt)
        from the anchor to the next heading / a[name] / dt[id] that follows some text of its own."""
        tag, start, end = self.anchors[anchor]
        if tag not in ("a", "dt") and not HEAD.match(tag) and end - start > 200:
            return self.text[start:end]
        stop = len(self.text)
        for b in self.breaks:
            if b > start and self.text[start:b].strip() and len(self.text[start:b].strip()) > 60:
                stop = b; break
        return self.text[start:stop]
    def anchor_at(self, pos):
        """The anchor Sift's reader would most likely give text at `pos`: the latest-starting of the enclosing elements
        with an id and the sticky anchors (a[name], dt[id], h*[id]) whose parent element still encloses `pos`."""
        best = None
        for n, (tag, start, end) in self.anchors.items():
            if start > pos: continue
            if start <= pos < end: ok = True
            elif tag in ("a", "dt") or HEAD.match(tag):
                par = self.parent.get(n)
                ok = par is None or (par[2] <= pos < (par[3] if par[3] is not None else 1 << 60))
            else: ok = False
            if ok and (best is None or start > best[1] or (start == best[1] and end <= best[2])):
                best = (n, start, end)
        return best and best[0]

def norm(s): return " ".join(s.split()).lower()


def yaml_list(text, key):
    """The flow list after `key:` in a pipeline YAML file (may span lines)."""
    m = re.search(r"^\s*" + key + r":\s*\[(.*?)\]", text, re.S | re.M)
    return re.findall(r'"([^"]*)"', m.group(1)) if m else []


def glob_regex(pattern):
    """Glob over relative paths: `*` and `?` stay within a path component, `**/` spans zero or more folders,
    a trailing `/**` anything below."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i): out += "(?:.*/)?"; i += 3
        elif pattern.startswith("**", i): out += ".*"; i += 2
        elif pattern[i] == "*": out += "[^/]*"; i += 1
        elif pattern[i] == "?": out += "[^/]"; i += 1
        else: out += re.escape(pattern[i]); i += 1
    rx = re.compile(out + r"\Z")
    if "/" in pattern:
        return rx
    # As in Sift (SiftReader's Glob): a glob without "/" matches the file name at any depth.
    class Basename:
        def match(self, path): return rx.match(path.rsplit("/", 1)[-1])
    return Basename()


def pipeline_source(name):
    text = (PIPELINES / f"{name}.yaml").read_text()
    root = re.search(r"^\s*root:\s*(\S+)", text, re.M).group(1)
    return root, [glob_regex(p) for p in yaml_list(text, "include")], [glob_regex(p) for p in yaml_list(text, "exclude")]



# (question, targets, check phrase per target, note). targets: a list (all grade 1) or {target: grade}.
POSTGRESQL = [
("how do I make a column auto increment in postgres", {"datatype-numeric.html#DATATYPE-SERIAL": 2, "sql-createtable.html": 1}, ("serial", "GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY"), "serial pseudo-types; identity columns are on CREATE TABLE"),
("what's the difference between varchar and text", ["datatype-character.html"], "no performance difference", ""),
("I dropped a table by accident, can I get the data back from before that", ["continuous-archiving.html#BACKUP-PITR-RECOVERY"], "recovery target", "point-in-time recovery; no undo for committed DDL"),
("how to see running queries", {"monitoring-stats.html#PG-STAT-ACTIVITY-VIEW": 2, "monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW": 1}, ("query_start", "pg_stat_activity"), ""),
("kill a query that has been running forever", ["functions-admin.html#FUNCTIONS-ADMIN-SIGNAL-TABLE", "functions-admin.html#FUNCTIONS-ADMIN-SIGNAL"], ("pg_terminate_backend", "control signals"), ""),
("how big is my table on disk including indexes", {"functions-admin.html#FUNCTIONS-ADMIN-DBSIZE": 2, "disk-usage.html": 1}, ("pg_total_relation_size", "SQL functions"), ""),
("can I index only some of the rows", ["indexes-partial.html"], "partial index", ""),
("add an index without blocking writes to the table", ["sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY"], "lock out writers", ""),
("which index should I use to speed up full text search", ["textsearch-indexes.html"], "GIN", ""),
("how much memory does a sort get before it spills to temp files", ["runtime-config-resource.html#GUC-WORK-MEM"], "temporary disk files", ""),
("postgres only accepts connections from localhost, how to allow other machines", {"runtime-config-connection.html#GUC-LISTEN-ADDRESSES": 2, "auth-pg-hba-conf.html": 1}, ("listen_addresses", "hostssl"), ""),
("FATAL: password authentication failed for user", ["client-authentication-problems.html"], "password authentication failed", ""),
("backup one database to a file", {"app-pgdump.html": 2, "backup-dump.html": 1}, ("pg_dump", "pg_dump"), ""),
("how to restore a dump made with pg_dump -Fc", ["app-pgrestore.html"], "custom", ""),
("dump every database on the server plus the users", ["app-pg-dumpall.html"], "roles", ""),
("how do I set up a streaming replica", {"warm-standby.html#STREAMING-REPLICATION": 2, "warm-standby.html#STANDBY-SERVER-SETUP": 1}, ("primary_conninfo", "standby.signal"), ""),
("can I run select queries on the standby server", ["hot-standby.html"], "read-only queries", ""),
("replicate only a couple of tables to another database", {"logical-replication.html": 2, "sql-createpublication.html": 1}, ("publication", "publication"), ""),
("psql command to list tables", ["app-psql.html"], "\\dt", "meta-commands have no per-command ids"),
("how do I read the output of explain", ["using-explain.html"], "cost", ""),
("see the actual time each step of a query took", ["sql-explain.html"], "ANALYZE", ""),
("get a field out of a jsonb column", ["functions-json.html#FUNCTIONS-JSON-OP-TABLE"], "->>", ""),
("should I use json or jsonb", ["datatype-json.html"], "jsonb", ""),
("get the current date and time in a query", ["functions-datetime.html#FUNCTIONS-DATETIME-CURRENT"], "current_timestamp", ""),
("timestamp vs timestamptz, which should I store", ["datatype-datetime.html"], "timestamp with time zone", ""),
("split a huge table into monthly pieces", ["ddl-partitioning.html#DDL-PARTITIONING-DECLARATIVE-EXAMPLE", "ddl-partitioning.html#DDL-PARTITIONING-DECLARATIVE"], ("PARTITION BY RANGE", "partition"), ""),
("import a csv file into a table", {"sql-copy.html": 2, "app-psql.html#APP-PSQL-META-COMMANDS-COPY": 1}, ("CSV", "\\copy"), ""),
("insert a row or update it if it already exists", ["sql-insert.html#SQL-ON-CONFLICT"], "ON CONFLICT DO UPDATE", "upsert"),
("running total of a column ordered by date", {"tutorial-window.html": 2, "functions-window.html": 1}, ("OVER", "window"), ""),
("query a parent/child tree of unknown depth", ["queries-with.html#QUERIES-WITH-RECURSIVE"], "RECURSIVE", ""),
("make a pair of columns unique together", ["ddl-constraints.html#DDL-CONSTRAINTS-UNIQUE-CONSTRAINTS"], "group of columns", ""),
("give a user read only access to all tables", {"sql-grant.html": 2, "ddl-priv.html": 1}, ("SELECT", "SELECT"), ""),
("each user should only see their own rows in a table", ["ddl-rowsecurity.html"], "row security polic", ""),
("case insensitive LIKE", ["functions-matching.html#FUNCTIONS-LIKE"], "ILIKE", ""),
("replace text using a regex", ["functions-matching.html#FUNCTIONS-POSIX-REGEXP"], "regexp_replace", ""),
("how to generate a random uuid", ["functions-uuid.html"], "gen_random_uuid", ""),
("set the next value of a sequence", ["functions-sequence.html"], "setval", ""),
("what isolation level do transactions use by default", ["transaction-iso.html"], "Read Committed is the default", ""),
("ERROR: deadlock detected, why", ["explicit-locking.html#LOCKING-DEADLOCKS"], "deadlock", ""),
("find out which session is blocking mine", ["view-pg-locks.html"], "pg_blocking_pids", ""),
("deleted millions of rows but the table file didn't shrink", ["routine-vacuuming.html#VACUUM-FOR-SPACE-RECOVERY"], "VACUUM FULL", ""),
("fastest way to empty a table", ["sql-truncate.html"], "quickly removes all rows", ""),
("upgrade from postgres 14 to 15", {"pgupgrade.html": 2, "upgrading.html": 1}, ("pg_upgrade", "pg_upgrade"), ""),
("how do I install an extension like hstore in my database", ["sql-createextension.html"], "CREATE EXTENSION", ""),
("write a sql function that returns a set of rows", ["xfunc-sql.html"], "RETURNS TABLE", ""),
("trigger to set an updated_at column on every update", ["plpgsql-trigger.html"], "current_timestamp", ""),
("column that can only be one of a few fixed strings", ["datatype-enum.html"], "CREATE TYPE", "enum types"),
("store a list of values in a single column", ["arrays.html"], "array", ""),
("join strings from many rows into one comma separated value", ["functions-aggregate.html"], "string_agg", ""),
("keep the rows that have no match in the other table when joining", {"tutorial-join.html": 1, "queries-table-expressions.html": 1}, ("left outer join", "LEFT OUTER JOIN"), ""),
("paginate results, skip first 20 rows", ["queries-limit.html"], "OFFSET", ""),
("put nulls at the end when ordering", ["queries-order.html"], "NULLS LAST", ""),
("log queries that take longer than a second", ["runtime-config-logging.html#GUC-LOG-MIN-DURATION-STATEMENT"], "log_min_duration_statement", ""),
("which queries take the most total time on my server", ["pgstatstatements.html"], "total_exec_time", ""),
("create a database with UTF8 encoding", {"sql-createdatabase.html": 2, "multibyte.html": 1}, ("ENCODING", "UTF8"), ""),
("change a server setting from SQL without editing postgresql.conf", {"sql-altersystem.html": 2, "config-setting.html": 1}, ("postgresql.auto.conf", "ALTER SYSTEM"), ""),
("start and stop the database server from the command line", {"app-pg-ctl.html": 2, "server-start.html": 1}, ("pg_ctl", "pg_ctl"), ""),
("how does postgres store really long text values", ["storage-toast.html"], "TOAST", ""),
("max number of columns a table can have", ["limits.html"], "columns per table", ""),
("send a message to other connected clients", {"sql-notify.html": 2, "sql-listen.html": 1}, ("NOTIFY", "LISTEN"), ""),
("refresh a materialized view while people keep reading it", ["sql-refreshmaterializedview.html"], "CONCURRENTLY", ""),
("query tables that live on a different postgres server", {"postgres-fdw.html": 2, "dblink.html": 1}, ("foreign", "dblink"), ""),
("column whose value is computed from other columns", ["ddl-generated-columns.html"], "generated column", ""),
("my index is bloated, how do I rebuild it", {"sql-reindex.html": 2, "routine-reindex.html": 1}, ("REINDEX", "REINDEX"), ""),
("replace null with a default value in a select", ["functions-conditional.html#FUNCTIONS-COALESCE-NVL-IFNULL"], "COALESCE", ""),
("format a date as dd/mm/yyyy", ["functions-formatting.html"], "to_char", ""),
("store IP addresses and subnets", ["datatype-net-types.html"], "cidr", ""),
("add a column to an existing table", {"ddl-alter.html#DDL-ALTER-ADDING-A-COLUMN": 2, "sql-altertable.html": 1}, ("ADD COLUMN", "ADD [ COLUMN ]"), ""),
("rename a column", {"ddl-alter.html#id-1.5.4.8.11": 2, "sql-altertable.html": 1}, ("RENAME COLUMN", "RENAME"), "section id is generated (no named id in PG 15)"),
("change the type of a column from int to bigint", {"ddl-alter.html#id-1.5.4.8.10": 2, "sql-altertable.html": 1}, ("ALTER COLUMN price TYPE", "SET DATA TYPE"), "section id is generated (no named id in PG 15)"),
("stop psql from asking for my password every time", ["libpq-pgpass.html"], ".pgpass", ""),
("what does a postgres connection URI look like", ["libpq-connect.html#id-1.7.3.8.3.6", "libpq-connect.html#LIBPQ-CONNSTRING"], ("postgresql://", "connection string"), ""),
("sorry, too many clients already", ["runtime-config-connection.html#GUC-MAX-CONNECTIONS"], "max_connections", ""),
("encrypt client connections with TLS", ["ssl-tcp.html"], "ssl", ""),
("how big should shared_buffers be", ["runtime-config-resource.html#GUC-SHARED-BUFFERS"], "25%", ""),
("why does the planner choose a bad plan after I load a lot of data", {"planner-stats.html": 1, "sql-analyze.html": 1}, ("ANALYZE", "statistics"), ""),
("sort strings ignoring accents or in a specific language order", ["collation.html"], "collation", ""),
("find strings that are similar to a search word (typos)", ["pgtrgm.html"], "similarity", ""),
("hash passwords with bcrypt inside the database", ["pgcrypto.html"], "crypt", ""),
("detect corrupted data pages", {"checksums.html": 1, "amcheck.html": 1}, ("checksum", "corruption"), ""),
("how do readers not block writers in postgres", ["mvcc-intro.html"], "reading never blocks writing", ""),
("what is the write ahead log for", ["wal-intro.html"], "Write-Ahead Logging", ""),
("put a table on a different disk", ["manage-ag-tablespaces.html"], "tablespace", ""),
("roll back only part of a transaction", {"sql-savepoint.html": 2, "tutorial-transactions.html": 1}, ("savepoint", "savepoint"), ""),
("what does error 23505 mean", ["errcodes-appendix.html"], "unique_violation", ""),
("tables in another schema are not found unless I prefix the schema name", ["ddl-schemas.html#DDL-SCHEMAS-PATH"], "search_path", ""),
("delete child rows automatically when the parent is deleted", ["ddl-constraints.html#DDL-CONSTRAINTS-FK"], "ON DELETE CASCADE", ""),
("generate a list of dates between two days", ["functions-srf.html"], "generate_series", ""),
("pivot rows into columns", ["tablefunc.html"], "crosstab", ""),
("autovacuum doesn't run often enough on a big table", {"routine-vacuuming.html#AUTOVACUUM": 2, "runtime-config-autovacuum.html": 1}, ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_scale_factor"), ""),
("what is transaction ID wraparound and how to prevent it", ["routine-vacuuming.html#VACUUM-FOR-WRAPAROUND"], "wraparound", ""),
("sync one table from another: insert new rows, update changed, delete missing", ["sql-merge.html"], "MERGE", ""),
("create a new data directory for a fresh cluster", {"app-initdb.html": 2, "creating-cluster.html": 1}, ("initdb", "initdb"), ""),
]

SQLITE = [
("why does sqlite say database is locked", {"rescode.html#busy": 2, "lockingv3.html": 1}, ("SQLITE_BUSY", "SHARED"), ""),
("how do I make an auto increment id in sqlite", {"autoinc.html": 2, "lang_createtable.html#rowids_and_the_integer_primary_key": 1}, ("AUTOINCREMENT", "INTEGER PRIMARY KEY"), ""),
("why can I put a string into an INTEGER column", {"datatype3.html#type_affinity": 2, "quirks.html#flexible_typing": 1}, ("affinity", "flexible"), ""),
("foreign keys are not enforced, how to turn them on", {"foreignkeys.html#fk_enable": 2, "pragma.html#pragma_foreign_keys": 1}, ("PRAGMA foreign_keys = ON", "foreign_keys"), ""),
("add a new column to an existing table", ["lang_altertable.html#alter_table_add_column"], "ADD COLUMN", ""),
("how do I remove a column from a table", ["lang_altertable.html#alter_table_drop_column"], "DROP COLUMN", ""),
("rename a table in sqlite", ["lang_altertable.html#alter_table_rename"], "RENAME TO", ""),
("change a column's type, sqlite alter table doesn't support it", {"lang_altertable.html#making_other_kinds_of_table_schema_changes": 2, "omitted.html": 1}, ("new_X", "ALTER COLUMN"), "12-step procedure"),
("insert a row, or update it if the key already exists", ["lang_upsert.html"], "ON CONFLICT", ""),
("what does INSERT OR REPLACE do exactly", {"lang_conflict.html": 2, "lang_replace.html": 1}, ("REPLACE", "REPLACE"), ""),
("get the id of the row I just inserted", {"c3ref/last_insert_rowid.html": 1, "lang_corefunc.html#last_insert_rowid": 1, "lang_returning.html": 1}, ("rowid", "last_insert_rowid", "RETURNING"), ""),
("how do I switch the journal to wal mode", {"wal.html#activating_and_configuring_wal_mode": 2, "pragma.html#pragma_journal_mode": 1}, ("journal_mode=WAL", "WAL"), ""),
("my -wal file keeps getting bigger and bigger", ["wal.html#avoiding_excessively_large_wal_files"], "checkpoint", ""),
("how large can a sqlite database get", ["limits.html#max_page_count"], "281 terabytes", ""),
("maximum number of columns in a table", ["limits.html#max_column"], "2000", ""),
("full text search in sqlite", ["fts5.html"], "MATCH", ""),
("search for words starting with a prefix in a full-text index", ["fts5.html#fts5_prefix_queries"], "*", ""),
("extract a value from a json string column", ["json1.html#the_json_extract_function"], "json_extract", ""),
("loop over the elements of a json array in a query", ["json1.html#the_json_each_and_json_tree_table_valued_functions"], "json_each", ""),
("get current date and time in sqlite", ["lang_datefunc.html"], "now", ""),
("add 7 days to a date", ["lang_datefunc.html#modifiers"], "days", ""),
("database file is still big after deleting most rows", ["lang_vacuum.html"], "free", ""),
("make a backup copy of a database while it is in use", {"backup.html": 2, "lang_vacuum.html#vacuum_with_an_into_clause": 1}, ("sqlite3_backup", "VACUUM INTO"), ""),
("see if my query uses an index", ["eqp.html"], "EXPLAIN QUERY PLAN", ""),
("can I use the same connection from several threads", {"threadsafe.html": 2, "faq.html#q6": 1}, ("Serialized", "thread"), ""),
("database that only lives in RAM", ["inmemorydb.html"], ":memory:", ""),
("query two database files together in one statement", ["lang_attach.html"], "ATTACH", ""),
("export query results to a csv file from the sqlite3 shell", ["cli.html#export_to_csv"], ".mode csv", ""),
("load a csv file into a table using the command line tool", ["cli.html#importing_files_as_csv_or_other_formats"], ".import", ""),
("list the tables in the sqlite3 shell", ["cli.html#dtables"], ".tables", ""),
("dump the whole database as sql text", ["cli.html#converting_an_entire_database_to_a_text_file"], ".dump", ""),
("wait instead of failing when another process has the database locked", {"c3ref/busy_timeout.html": 2, "pragma.html#pragma_busy_timeout": 1}, ("sleep", "busy"), ""),
("case insensitive string comparison", ["datatype3.html#collating_sequences"], "NOCASE", ""),
("is LIKE case sensitive in sqlite", {"lang_expr.html#the_like_glob_regexp_match_and_extract_operators": 2, "pragma.html#pragma_case_sensitive_like": 1}, ("case", "case_sensitive_like"), ""),
("number rows within each group, like row_number over partition", ["windowfunctions.html#the_partition_by_clause"], "PARTITION BY", ""),
("running sum in sqlite", ["windowfunctions.html"], "OVER", ""),
("query a tree / org chart hierarchy", {"lang_with.html#recursive_common_table_expressions": 1, "lang_with.html#hierarchical_query_examples": 1}, ("RECURSIVE", "org"), ""),
("make sqlite reject wrong data types in columns", ["stricttables.html"], "STRICT", ""),
("when should I use WITHOUT ROWID", ["withoutrowid.html#when_to_use_without_rowid"], "WITHOUT ROWID", ""),
("computed columns in sqlite", ["gencol.html"], "GENERATED ALWAYS", ""),
("index just the rows where a column is not null", ["partialindex.html"], "WHERE", ""),
("index on lower(name) so case-insensitive lookups are fast", {"expridx.html": 2, "lang_createindex.html#indexes_on_expressions": 1}, ("expression", "expression"), ""),
("how does sqlite decide which index to use", {"optoverview.html": 2, "queryplanner.html": 1}, ("index", "index"), ""),
("queries got slow, should I run ANALYZE", ["lang_analyze.html"], "sqlite_stat1", ""),
("run some SQL automatically when a row is deleted", ["lang_createtrigger.html"], "DELETE", ""),
("can I insert into a view", {"lang_createtrigger.html#instead_of_triggers": 2, "omitted.html": 1}, ("INSTEAD OF", "VIEWs in SQLite are read-only"), ""),
("what's the difference between BEGIN IMMEDIATE and BEGIN DEFERRED", ["lang_transaction.html#deferred_immediate_and_exclusive_transactions"], "IMMEDIATE", ""),
("nested transactions in sqlite", ["lang_savepoint.html"], "SAVEPOINT", ""),
("get the values of the inserted rows back from an insert", ["lang_returning.html"], "RETURNING", ""),
("use ? placeholders instead of building the SQL string", ["c3ref/bind_blob.html"], "sqlite3_bind", ""),
("what do sqlite result codes mean", ["rescode.html"], "SQLITE_OK", ""),
("open a database read-only from C", ["c3ref/open.html"], "SQLITE_OPEN_READONLY", ""),
("open the database read only by putting an option in the file name", ["uri.html#urimode", "uri.html#uri_filenames_in_sqlite"], ("mode=ro", "mode=ro"), ""),
("load an extension library at runtime", ["loadext.html#loading_an_extension"], "load_extension", ""),
("which build flags should I set when compiling sqlite myself", ["compile.html#recommended_compile_time_options"], "SQLITE_", ""),
("what happens to my data if the power goes out during a write", ["atomiccommit.html"], "power", ""),
("things that can corrupt a sqlite database file", ["howtocorrupt.html"], "corrupt", ""),
("what temp files does sqlite create", ["tempfiles.html"], "temporary", ""),
("is sqlite ok as the database for a web site", ["whentouse.html#website"], "website", ""),
("how should I store dates, sqlite has no date type", ["datatype3.html#date_and_time_datatype"], "ISO8601", ""),
("is there a boolean type", ["datatype3.html#boolean_datatype"], "0 (false)", ""),
("why does 0.1 + 0.2 not give exactly 0.3", ["floatingpoint.html"], "floating point", ""),
("how do NULLs behave in unique columns and distinct", ["nulls.html"], "NULL", ""),
("surprising sqlite behaviors compared to other databases", ["quirks.html"], "quirks", ""),
("find all points inside a bounding box fast", ["rtree.html"], "R*Tree", ""),
("how are tables and pages laid out inside a .db file", ["fileformat2.html"], "page", ""),
("check a database file for corruption", {"pragma.html#pragma_integrity_check": 2, "pragma.html#pragma_quick_check": 1}, ("integrity_check", "quick_check"), ""),
("how much memory does sqlite use for caching pages", ["pragma.html#pragma_cache_size"], "cache_size", ""),
("keep track of the schema version of my app for migrations", ["pragma.html#pragma_user_version"], "user_version", ""),
("use memory mapped I/O for speed", ["mmap.html"], "mmap_size", ""),
("query the list of tables from SQL", ["schematab.html"], "sqlite_schema", ""),
("concatenate values from several rows into one string", ["lang_aggfunc.html#group_concat"], "group_concat", ""),
("square root and other math functions in sqlite", ["lang_mathfunc.html"], "sqrt", ""),
("get part of a string", ["lang_corefunc.html#substr"], "substr", ""),
("show null as some default value in a select", {"lang_corefunc.html#ifnull": 1, "lang_corefunc.html#coalesce": 1}, ("ifnull", "coalesce"), ""),
("my column is named order, how do I quote it", ["lang_keywords.html"], "double-quotes", ""),
("write my own SQL function in C", {"c3ref/create_function.html": 2, "appfunc.html": 1}, ("sqlite3_create_function", "function"), ""),
("can a reader see uncommitted changes from another connection", ["isolation.html"], "isolation", ""),
("my db file is damaged, can I salvage what's left", {"recovery.html": 2, "cli.html#recover_data_from_a_corrupted_database": 1}, ("recover", ".recover"), ""),
("compare two sqlite databases and show the differences", ["sqldiff.html"], "sqldiff", ""),
("query a csv file directly as a table without importing", ["csv.html"], "CREATE VIRTUAL TABLE", ""),
("record changes to a database and apply them somewhere else", ["sessionintro.html"], "changeset", ""),
("delete only the first 10 matching rows", ["lang_delete.html#optional_limit_and_order_by_clauses"], "SQLITE_ENABLE_UPDATE_DELETE_LIMIT", ""),
("update a table using values from another table", ["lang_update.html#update_from"], "FROM", ""),
("what SQL features does sqlite not support", ["omitted.html"], "FOR EACH STATEMENT", ""),
("how many rows did my UPDATE change", ["lang_corefunc.html#changes"], "changes", "c3ref/changes.html would answer too, but the pipeline's exclude of changes.html (the release log) drops it"),
("free a prepared statement when done", ["c3ref/finalize.html"], "sqlite3_finalize", ""),
("fetch rows one by one from a prepared statement in C", ["c3ref/step.html"], "SQLITE_ROW", ""),
]

COLLECTIONS = [
    # (prefix, pipeline name, questions)
    ("pg", "postgresql-docs", POSTGRESQL),
    ("sq", "sqlite-docs", SQLITE),
]


def validate(prefix, pipeline, questions, root):
    _, include, exclude = pipeline_source(pipeline)
    pages, errors, warnings, seen = {}, [], [], set()
    for number, (question, targets, checks, _note) in enumerate(questions, 1):
        qid = f"{prefix}-{number:03d}"
        if question.lower() in seen: errors.append(f"{qid}: duplicate question")
        seen.add(question.lower())
        if not 1 <= len(targets) <= 3: errors.append(f"{qid}: {len(targets)} targets (want 1-3)")
        checks = (checks,) if isinstance(checks, str) or checks is None else checks
        for position, target in enumerate(targets):
            path, _, anchor = target.partition("#")
            file = os.path.join(root, path)
            if not os.path.isfile(file): errors.append(f"{qid}: no file {path}"); continue
            if not any(p.match(path) for p in include) or any(p.match(path) for p in exclude):
                errors.append(f"{qid}: {path} is not indexed by {pipeline}.yaml's include/exclude globs"); continue
            if path not in pages:
                with open(file, encoding="utf-8", errors="replace") as f: pages[path] = Page(f.read())
            page = pages[path]
            if anchor and anchor not in page.anchors: errors.append(f"{qid}: no id/name {anchor!r} in {path}"); continue
            phrase = checks[position] if position < len(checks) else None
            if not phrase: continue
            text = page.region(anchor) if anchor else page.text
            if norm(phrase) not in norm(text):
                errors.append(f"{qid}: check phrase {phrase!r} not in {target}"); continue
            if anchor:
                start = page.anchors[anchor][1]
                found = re.search(r"\s+".join(map(re.escape, phrase.split())), page.text[start:], re.I)
                at = page.anchor_at(start + found.start()) if found else anchor
                if at != anchor: warnings.append(f"{qid}: {phrase!r} in {target} sits under anchor {at!r}")
    return errors, warnings


def split_of(qid):
    return "dev" if int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 5 < 2 else "test"


def records(prefix, questions):
    for number, (question, targets, _checks, _note) in enumerate(questions, 1):
        qid = f"{prefix}-{number:03d}"
        if isinstance(targets, dict) and len(set(targets.values())) > 1:
            relevant = dict(targets)
        else:
            relevant = list(targets)
        yield qid, {"id": qid, "question": question, "relevant": relevant}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="validate only, write nothing")
    parser.add_argument("--pg-root"); parser.add_argument("--sqlite-root")
    args = parser.parse_args()
    roots = {"postgresql-docs": args.pg_root, "sqlite-docs": args.sqlite_root}
    failed = False
    for prefix, pipeline, questions in COLLECTIONS:
        root = roots[pipeline] or pipeline_source(pipeline)[0]
        errors, warnings = validate(prefix, pipeline, questions, root)
        for w in warnings: print(f"warning: {pipeline}: {w}", file=sys.stderr)
        for e in errors: print(f"error: {pipeline}: {e}", file=sys.stderr)
        failed |= bool(errors)
        anchored = sum("#" in target for _, targets, _, _ in questions for target in targets)
        total = sum(len(targets) for _, targets, _, _ in questions)
        splits = {"dev": [], "test": []}
        for qid, record in records(prefix, questions): splits[split_of(qid)].append(record)
        print(f"{pipeline}: {len(questions)} questions (dev {len(splits['dev'])}, test {len(splits['test'])}), "
              f"{total} targets ({anchored} section anchors, {total - anchored} pages), "
              f"{len(errors)} errors, {len(warnings)} warnings")
        if errors or args.check: continue
        for split, rows in splits.items():
            out = PIPELINES / f"{pipeline}-eval.{split}.jsonl"
            out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            print(f"  wrote {out.relative_to(PIPELINES.parent)} ({len(rows)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
