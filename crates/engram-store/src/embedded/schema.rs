//! The embedded store's schema, versioned by `PRAGMA user_version`.
//!
//! Each migration runs once, in its own transaction, in order; a database
//! newer than this binary is refused rather than misread.

use rusqlite::Connection;

use engram_core::{Error, Result};

const MIGRATIONS: &[&str] = &[
    // 1: tenants, keys, memories, idempotency, the vector index log.
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
];

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
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction().map_err(Error::internal)?;
        tx.execute_batch(sql).map_err(Error::internal)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(Error::internal)?;
        tx.commit().map_err(Error::internal)?;
        ran += 1;
    }
    Ok(ran)
}

/// The per-tenant full-text table. One per tenant so BM25 statistics (term
/// rarity, document lengths) come from that tenant's memories alone.
pub fn fts_table(tenant_seq: i64) -> String {
    format!("fts_{tenant_seq}")
}

pub fn create_fts(conn: &Connection, tenant_seq: i64) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS {} USING fts5(content, content='memories', \
         content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
        fts_table(tenant_seq)
    ))
}
