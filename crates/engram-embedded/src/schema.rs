//! The embedded store's schema, versioned by `PRAGMA user_version`.
//!
//! Each migration runs once, in its own transaction, in order; a database
//! newer than this binary is refused rather than misread.

use std::path::Path;

use rusqlite::Connection;

use engram_core::{Error, Result};

use crate::indexes::highest_seq_on_disk;
use crate::rows::sql_err;

enum Migration {
    Sql(&'static str),
    /// Given the data directory, for a migration that must see its files.
    Code(fn(&Connection, &Path) -> Result<()>),
}

const MIGRATIONS: &[Migration] = &[
    // 1: tenants, keys, memories, idempotency, the vector index log.
    Migration::Sql(
        "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE tenants (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX api_keys_tenant ON api_keys(tenant_id);
    CREATE TABLE memories (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        content TEXT NOT NULL,
        kind TEXT NOT NULL,
        user_id TEXT,
        agent_id TEXT,
        session_id TEXT,
        role TEXT,
        labels TEXT NOT NULL,
        metadata TEXT NOT NULL,
        importance REAL NOT NULL,
        occurred_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        embedding BLOB NOT NULL
    );
    CREATE INDEX memories_time ON memories(tenant_id, occurred_at DESC, id DESC);
    CREATE INDEX memories_user ON memories(tenant_id, user_id, occurred_at DESC, id DESC);
    CREATE INDEX memories_agent ON memories(tenant_id, agent_id, occurred_at DESC, id DESC);
    CREATE INDEX memories_session ON memories(tenant_id, session_id, occurred_at DESC, id DESC);
    CREATE TABLE idempotency (
        tenant_id TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        ids TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, key)
    );
    -- Every change to a memory's vector, so that vector index files saved
    -- earlier can be brought up to date after a crash.
    CREATE TABLE index_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_seq INTEGER NOT NULL,
        mem_rowid INTEGER NOT NULL
    );
    ",
    ),
    // 2: BM25 moves from per-tenant FTS5 tables to the in-memory text
    // indexes (rebuilt from the rows on first open), so the tables go.
    Migration::Code(drop_fts_tables),
    // 3: tenant seqs are never handed out twice.
    Migration::Code(never_reuse_tenant_seqs),
    // 4: the durable job queue (jobs.rs). Times in µs like every table.
    Migration::Sql(
        "
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        dedupe_key TEXT,
        attempts INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        last_error TEXT,
        result TEXT,
        run_after INTEGER NOT NULL,
        lease_until INTEGER,
        claim TEXT,
        worker TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    -- What a claim scans: due work by time.
    CREATE INDEX jobs_due ON jobs(status, run_after);
    CREATE INDEX jobs_tenant ON jobs(tenant_id, kind, dedupe_key);
    ",
    ),
    // 5: usage metering and budgets (metering.rs). A budget's project is
    // '' for the whole tenant, so the key needs no NULL.
    Migration::Sql(
        "
    CREATE TABLE usage (
        rowid INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        project TEXT,
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        calls INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost REAL NOT NULL,
        duration_ms INTEGER NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX usage_tenant_time ON usage(tenant_id, at);
    CREATE TABLE budgets (
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        project TEXT NOT NULL,
        metric TEXT NOT NULL,
        period TEXT NOT NULL,
        limit_value REAL NOT NULL,
        hard INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, project, metric, period)
    );
    ",
    ),
    // 6 (facts): validity, sources and versions; rows written before read
    // as always valid, uncited, version 1.
    Migration::Sql(
        "
    ALTER TABLE memories ADD COLUMN valid_from INTEGER;
    ALTER TABLE memories ADD COLUMN valid_to INTEGER;
    ALTER TABLE memories ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE memories ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE memories ADD COLUMN version_of TEXT;
    CREATE INDEX memories_version_of ON memories(tenant_id, version_of) WHERE version_of IS NOT NULL;
    ",
    ),
    // 7: conversations (their messages are memories) and import jobs.
    Migration::Sql(
        "
    CREATE TABLE conversations (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        title TEXT NOT NULL,
        user_id TEXT,
        agent_id TEXT,
        label TEXT,
        folder TEXT,
        importance INTEGER NOT NULL,
        pinned INTEGER NOT NULL,
        archived INTEGER NOT NULL,
        metadata TEXT NOT NULL,
        source TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX conversations_time ON conversations(tenant_id, created_at DESC, id DESC);
    CREATE TABLE imports (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        job TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    ",
    ),
    // 8 (lifecycle): maintenance leases and run records (the
    // installation's, no tenant), and each tenant's retention policies.
    Migration::Sql(
        "
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until INTEGER NOT NULL
    );
    CREATE TABLE maintenance_runs (
        rowid INTEGER PRIMARY KEY,
        task TEXT NOT NULL,
        holder TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        error TEXT,
        counts TEXT NOT NULL
    );
    CREATE INDEX maintenance_runs_task ON maintenance_runs(task, finished_at DESC);
    CREATE TABLE retention_policies (
        tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        policies TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    ",
    ),
    // documents: uploads (bytes in uploads/<seq>/<id>.part) and the
    // documents they become (their chunks are memories).
    Migration::Sql(
        "
    CREATE TABLE documents (
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        filename TEXT,
        title TEXT NOT NULL,
        content_type TEXT NOT NULL,
        user_id TEXT,
        length INTEGER NOT NULL,
        upload_offset INTEGER NOT NULL,
        status TEXT NOT NULL,
        chunks INTEGER NOT NULL,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX documents_time ON documents(tenant_id, created_at DESC, id DESC);
    CREATE INDEX documents_user ON documents(tenant_id, user_id) WHERE user_id IS NOT NULL;
    ",
    ),
    // the knowledge graph (docs/GRAPH.md): entities (a merged one kept,
    // pointing at its canonical entity, so a merge can be undone), the
    // name keys they are found by, the memories mentioning them, and
    // relations over time.
    Migration::Sql(
        "
    CREATE TABLE entities (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        aliases TEXT NOT NULL,
        summary TEXT,
        user_id TEXT,
        merged_into TEXT,
        merge_reason TEXT,
        embedding BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX entities_merged ON entities(tenant_id, merged_into) WHERE merged_into IS NOT NULL;
    CREATE INDEX entities_user ON entities(tenant_id, user_id, kind);
    CREATE TABLE entity_keys (
        tenant_id TEXT NOT NULL,
        key TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        PRIMARY KEY (tenant_id, key, entity_id)
    );
    CREATE INDEX entity_keys_entity ON entity_keys(tenant_id, entity_id);
    CREATE TABLE entity_mentions (
        tenant_id TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        memory_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, entity_id, memory_id)
    );
    CREATE TABLE relations (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        predicate TEXT NOT NULL,
        object_id TEXT NOT NULL,
        valid_from INTEGER,
        valid_to INTEGER,
        sources TEXT NOT NULL,
        user_id TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX relations_subject ON relations(tenant_id, subject_id, predicate);
    CREATE INDEX relations_object ON relations(tenant_id, object_id);
    ",
    ),
];

fn drop_fts_tables(conn: &Connection, _dir: &Path) -> Result<()> {
    let seqs: Vec<i64> = conn
        .prepare("SELECT seq FROM tenants")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(sql_err)?;
    for seq in seqs {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS fts_{seq}"))
            .map_err(sql_err)?;
    }
    Ok(())
}

/// Rebuilds `tenants` with `AUTOINCREMENT`, which SQLite cannot add to a
/// table. Without it SQLite may give a deleted tenant's seq to the next
/// tenant, and a seq names index files and log entries the deleted tenant
/// may have left (a crash after the delete committed, a failed removal).
/// The sequence starts past every seq still named anywhere: by a tenant,
/// by the log or by a file in an index directory.
fn never_reuse_tenant_seqs(conn: &Connection, dir: &Path) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE tenants_autoincrement (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL
        );
        INSERT INTO tenants_autoincrement(seq, id, name, created_at)
            SELECT seq, id, name, created_at FROM tenants;
        DROP TABLE tenants;
        ALTER TABLE tenants_autoincrement RENAME TO tenants;
        DELETE FROM sqlite_sequence WHERE name = 'tenants';",
    )
    .map_err(sql_err)?;
    conn.execute(
        "INSERT INTO sqlite_sequence(name, seq) SELECT 'tenants', max( \
         coalesce((SELECT max(seq) FROM tenants), 0), \
         coalesce((SELECT max(tenant_seq) FROM index_log), 0), ?)",
        [highest_seq_on_disk(dir)?],
    )
    .map_err(sql_err)?;
    Ok(())
}

pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Applies pending migrations to the database of the data directory
/// `dir`; returns how many ran.
pub fn migrate(conn: &mut Connection, dir: &Path) -> Result<usize> {
    migrate_to(conn, dir, MIGRATIONS.len())
}

fn migrate_to(conn: &mut Connection, dir: &Path, target: usize) -> Result<usize> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(Error::internal)?;
    if current > latest_version() {
        return Err(Error::internal(format!(
            "the data directory has schema version {current}, newer than this engram ({}): upgrade engram",
            latest_version()
        )));
    }
    let pending = &MIGRATIONS[(current as usize).min(target)..target];
    if pending.is_empty() {
        return Ok(0);
    }
    // A table rebuilt by a migration is dropped and renamed, and dropping
    // it with foreign keys enforced would cascade into the tables that
    // reference it (api_keys). SQLite changes the setting only outside a
    // transaction; each migration checks the references before it commits.
    let enforced: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(Error::internal)?;
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(Error::internal)?;
    let ran = apply(conn, dir, current as usize, pending);
    conn.pragma_update(None, "foreign_keys", enforced)
        .map_err(Error::internal)?;
    ran
}

/// Runs `pending`, the migrations after version `current`, each in its
/// own transaction.
fn apply(
    conn: &mut Connection,
    dir: &Path,
    current: usize,
    pending: &[Migration],
) -> Result<usize> {
    for (i, step) in pending.iter().enumerate() {
        let version = current + i + 1;
        let tx = conn.transaction().map_err(Error::internal)?;
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql).map_err(Error::internal),
            Migration::Code(f) => f(&tx, dir),
        }?;
        let broken: i64 = tx
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(Error::internal)?;
        if broken > 0 {
            return Err(Error::internal(format!(
                "schema migration {version} would leave {broken} rows referring to no row; \
                 nothing was changed: report this with the engram version"
            )));
        }
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(Error::internal)?;
        tx.commit().map_err(Error::internal)?;
    }
    Ok(pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn upgrading_a_version_1_store_drops_its_full_text_tables() {
        let mut conn = Connection::open_in_memory().unwrap();
        let Migration::Sql(v1) = MIGRATIONS[0] else {
            panic!("migration 1 is SQL")
        };
        conn.execute_batch(v1).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO tenants(seq, id, name, created_at) VALUES (4, 't', 'n', 0);
             CREATE VIRTUAL TABLE fts_4 USING fts5(content, content='memories', content_rowid='rowid');",
        )
        .unwrap();
        assert!(tables(&conn).iter().any(|t| t == "fts_4"));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(migrate_to(&mut conn, dir.path(), 2).unwrap(), 1);
        assert!(!tables(&conn).iter().any(|t| t.starts_with("fts_")));
        assert_eq!(
            migrate_to(&mut conn, dir.path(), 2).unwrap(),
            0,
            "migrations run once"
        );
    }

    /// A version-2 store whose last tenant (seq 7) was deleted, with a log
    /// entry of tenant seq `logged` and an index file of seq `on_disk`
    /// (of tenants deleted earlier) left behind; returns the seq the next
    /// tenant gets once migrated.
    fn next_seq_after_upgrading(logged: i64, on_disk: Option<i64>) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        if let Some(seq) = on_disk {
            std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
            std::fs::write(dir.path().join(format!("catalog/{seq}.facts")), b"").unwrap();
        }
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        migrate_to(&mut conn, dir.path(), 2).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO tenants(seq, id, name, created_at) VALUES (1, 'a', 'A', 0), (2, 'b', 'B', 0), (7, 'c', 'C', 0);
             INSERT INTO api_keys(id, tenant_id, name, scopes, hash, created_at) VALUES ('k', 'a', 'key', 'read', 'h', 0);
             INSERT INTO index_log(tenant_seq, mem_rowid) VALUES ({logged}, 1);
             DELETE FROM tenants WHERE id = 'c';"
        ))
        .unwrap();
        assert_eq!(migrate_to(&mut conn, dir.path(), 3).unwrap(), 1);

        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'tenants'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.contains("AUTOINCREMENT"), "{sql}");
        let tenants: Vec<(i64, String)> = conn
            .prepare("SELECT seq, id FROM tenants ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(tenants, [(1, "a".into()), (2, "b".into())]);
        let keys = |conn: &Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM api_keys", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(keys(&conn), 1, "the rebuild cascaded into the keys");
        let enforced: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(enforced, "foreign keys are enforced again");
        conn.execute("DELETE FROM tenants WHERE id = 'a'", [])
            .unwrap();
        assert_eq!(keys(&conn), 0, "keys still refer to the tenants");
        assert!(
            conn.execute(
                "INSERT INTO api_keys(id, tenant_id, name, scopes, hash, created_at) \
                          VALUES ('k2', 'nobody', 'key', 'read', 'h2', 0)",
                []
            )
            .is_err()
        );

        conn.execute(
            "INSERT INTO tenants(id, name, created_at) VALUES ('d', 'D', 0)",
            [],
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    #[test]
    fn upgrading_a_version_2_store_never_reuses_a_tenant_seq() {
        // Seq 7 left nothing behind, so it can name nothing of tenant c.
        assert_eq!(next_seq_after_upgrading(1, None), 3, "past the tenants");
        assert_eq!(next_seq_after_upgrading(11, None), 12, "past the log");
        assert_eq!(next_seq_after_upgrading(11, Some(14)), 15, "past the files");
    }

    #[test]
    fn rows_written_before_facts_read_back_always_valid_uncited_version_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, dir.path(), 3).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants(id, name, created_at) VALUES ('t', 'T', 0);
             INSERT INTO memories(id, tenant_id, content, kind, labels, metadata, importance, \
             occurred_at, created_at, updated_at, embedding) \
             VALUES ('m', 't', 'old', 'semantic', '[]', '{}', 0.5, 1, 1, 1, x'0000803f');",
        )
        .unwrap();
        assert!(migrate(&mut conn, dir.path()).unwrap() >= 1);
        let m = conn
            .query_row(
                &format!("SELECT {} FROM memories m", crate::rows::COLUMNS),
                [],
                crate::rows::memory_from_row,
            )
            .unwrap();
        assert_eq!(m.temporal, engram_core::temporal::Temporal::default());
    }
}
