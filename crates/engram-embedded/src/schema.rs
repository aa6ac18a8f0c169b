//! The embedded store's schema, versioned by `PRAGMA user_version`.
//!
//! Each migration runs once, in its own transaction, in order; a database
//! newer than this binary is refused rather than misread.

use rusqlite::Connection;

use engram_core::{Error, Result};

enum Migration {
    Sql(&'static str),
    Code(fn(&Connection) -> rusqlite::Result<()>),
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
];

fn drop_fts_tables(conn: &Connection) -> rusqlite::Result<()> {
    let seqs: Vec<i64> = conn
        .prepare("SELECT seq FROM tenants")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for seq in seqs {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS fts_{seq}"))?;
    }
    Ok(())
}

pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Applies pending migrations; returns how many ran.
pub fn migrate(conn: &mut Connection) -> Result<usize> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(Error::internal)?;
    if current > latest_version() {
        return Err(Error::Internal(format!(
            "the data directory has schema version {current}, newer than this engram ({}): upgrade engram",
            latest_version()
        )));
    }
    let mut ran = 0;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction().map_err(Error::internal)?;
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql),
            Migration::Code(f) => f(&tx),
        }
        .map_err(Error::internal)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(Error::internal)?;
        tx.commit().map_err(Error::internal)?;
        ran += 1;
    }
    Ok(ran)
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
        assert_eq!(migrate(&mut conn).unwrap(), 1);
        assert!(!tables(&conn).iter().any(|t| t.starts_with("fts_")));
        assert_eq!(migrate(&mut conn).unwrap(), 0, "migrations run once");
    }
}
