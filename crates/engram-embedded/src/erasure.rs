//! Exact erasure on the embedded store. The steps, in one transaction:
//! the user's memories and the memories derived only from them, the user's
//! conversations, idempotency records answering with an erased memory, and
//! jobs about the user. Then nothing of the bytes is left in the data
//! directory: SQLite zeroes what it deletes (`secure_delete`, set on every
//! connection), the text index and catalog drop the rows' words and keys and
//! are saved (each file rewritten whole, the old one replaced), and the WAL
//! is checkpointed into the database and truncated to zero bytes.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, params};
use serde::de::DeserializeOwned;

use engram_core::erasure::Erased;
use engram_core::{Error, Result};
use engram_store::erasure::{ErasureStore, Scope};

use crate::memories::delete_rows;
use crate::rows::sql_err;
use crate::{EmbeddedStore, require_tenant};

/// How often a checkpoint blocked by a reader is retried, and how long apart.
const CHECKPOINT_TRIES: u32 = 50;
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(20);

#[async_trait]
impl ErasureStore for EmbeddedStore {
    async fn erase_user(&self, tenant_id: &str, user_id: &str) -> Result<Erased> {
        let (tenant_id, user_id) = (tenant_id.to_string(), user_id.to_string());
        self.run(move |db| {
            let indexes = db.indexes()?;
            db.write(|conn| {
                let seq = require_tenant(conn, &tenant_id)?;
                let tx = conn.transaction().map_err(sql_err)?;
                let (erased, rows) = erase_rows(&tx, seq, &tenant_id, &user_id)?;
                tx.commit().map_err(sql_err)?;
                indexes.purge(seq, &rows)?;
                indexes.save(conn)?;
                truncate_wal(conn)?;
                Ok(erased)
            })
        })
        .await
    }
}

/// Deletes the rows; returns the counts and the memories' rowids.
fn erase_rows(tx: &Connection, seq: i64, tenant: &str, user: &str) -> Result<(Erased, Vec<i64>)> {
    let own: Vec<(i64, String, Option<String>)> = query(
        tx,
        "SELECT rowid, id, session_id FROM memories WHERE tenant_id = ? AND user_id = ?",
        params![tenant, user],
    )?;
    let mut scope = Scope {
        user_id: user,
        ids: own.iter().map(|(_, id, _)| id.clone()).collect(),
        sessions: own.iter().filter_map(|(_, _, s)| s.clone()).collect(),
    };
    let cited: Vec<(i64, String, String)> = query(
        tx,
        "SELECT rowid, id, sources FROM memories WHERE tenant_id = ? AND sources != '[]' \
         AND (user_id IS NULL OR user_id != ?)",
        params![tenant, user],
    )?;
    let mut derived = Vec::new();
    for (rowid, id, sources) in cited {
        if scope.derived_only(&parse::<Vec<String>>(&sources, "memories.sources")?) {
            derived.push((rowid, id));
        }
    }
    let mut rows: Vec<i64> = own.iter().map(|(r, _, _)| *r).collect();
    rows.extend(derived.iter().map(|(r, _)| *r));
    scope.ids.extend(derived.iter().map(|(_, id)| id.clone()));
    delete_rows(tx, seq, &rows)?;

    let conversations = tx
        .execute(
            "DELETE FROM conversations WHERE tenant_id = ? AND user_id = ?",
            params![tenant, user],
        )
        .map_err(sql_err)?;
    let idempotency_records = delete_picked(
        tx,
        tenant,
        "idempotency",
        "key",
        "ids",
        |ids: &Vec<String>| scope.answered_with(ids),
    )?;
    let jobs = delete_picked(tx, tenant, "jobs", "id", "payload", |payload| {
        scope.job_concerns(payload)
    })?;
    let erased = Erased {
        memories: own.len() as u64,
        derived: derived.len() as u64,
        conversations: conversations as u64,
        idempotency_records,
        jobs,
        ..Erased::default()
    };
    Ok((erased, rows))
}

/// Deletes the tenant's rows of `table` whose JSON `column` `pick` chooses
/// (rows named by `key`); returns how many.
fn delete_picked<T: DeserializeOwned>(
    tx: &Connection,
    tenant: &str,
    table: &str,
    key: &str,
    column: &str,
    pick: impl Fn(&T) -> bool,
) -> Result<u64> {
    let rows: Vec<(String, String)> = query(
        tx,
        &format!("SELECT {key}, {column} FROM {table} WHERE tenant_id = ?"),
        [tenant],
    )?;
    let delete = format!("DELETE FROM {table} WHERE tenant_id = ? AND {key} = ?");
    let mut n = 0;
    for (k, json) in rows {
        if pick(&parse(&json, &format!("{table}.{column}"))?) {
            n += tx.execute(&delete, params![tenant, k]).map_err(sql_err)? as u64;
        }
    }
    Ok(n)
}

/// Copies the WAL into the database and truncates it, so the frames that
/// held the erased rows are gone; retried while a reader still needs them.
fn truncate_wal(conn: &Connection) -> Result<()> {
    for _ in 0..CHECKPOINT_TRIES {
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(sql_err)?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
    Err(Error::unavailable(
        "the erasure is committed but the write-ahead log could not be truncated while \
         readers were busy; repeat the erasure (it is idempotent) to finish",
    ))
}

fn query<T: FromRow>(tx: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<T>> {
    let mut stmt = tx.prepare(sql).map_err(sql_err)?;
    stmt.query_map(p, T::from_row)
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)
}

fn parse<T: DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| {
        Error::inconsistent(
            what.to_string(),
            format!("not the JSON engram writes ({e})"),
        )
    })
}

trait FromRow: Sized {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

impl<A: rusqlite::types::FromSql, B: rusqlite::types::FromSql> FromRow for (A, B) {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((r.get(0)?, r.get(1)?))
    }
}

impl<A: rusqlite::types::FromSql, B: rusqlite::types::FromSql, C: rusqlite::types::FromSql> FromRow
    for (A, B, C)
{
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    }
}
