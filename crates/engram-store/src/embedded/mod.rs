//! The embedded single-node store: SQLite (WAL, synchronous commits) for
//! rows, with per-tenant in-memory BM25 text indexes and partitioned vector
//! indexes derived from them (see [`indexes`]).
//!
//! All writes go through one connection under a mutex, which is also what
//! keeps the vector indexes in step with the rows; reads use a small pool of
//! their own connections, which WAL lets run beside the writer.

mod binary;
mod catalog;
mod indexes;
mod per_tenant;
mod rows;
mod schema;
pub mod text;
mod threads;
pub mod vectors;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};

use engram_core::query::Cursor;
use engram_core::ranking::{Features, Ranking};
use engram_core::tenant::{ApiKey, Scope, Tenant};
use engram_core::{Error, Filter, Memory, Result};

use crate::{
    Hit, Idempotency, IdempotentResult, InsertOutcome, Ranked, Record, Retrieval, Retrieved, Store,
};
use indexes::Indexes;
use rows::{
    COLUMNS, filter_sql, memory_from_row, memory_values, micros, record_from_row, sql_err, time,
    vector_to_blob,
};
use text::Within;

const READERS: usize = 4;

pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    indexes: OnceLock<Indexes>,
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::Internal(format!("opening {}: {e}", path.display())))?;
    // WAL lets readers run beside the writer; FULL makes every commit durable
    // before it is acknowledged, so a crash loses nothing that was answered.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536;",
    )
    .map_err(sql_err)?;
    Ok(conn)
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir` and applies migrations.
    pub fn open(dir: &Path) -> Result<EmbeddedStore> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Internal(format!(
                "cannot create data directory {}: {e}; set ENGRAM_DATA_DIR to a writable path",
                dir.display()
            ))
        })?;
        let path = dir.join("engram.db");
        let mut writer = open_connection(&path)?;
        schema::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| open_connection(&path).map(Mutex::new))
            .collect::<Result<_>>()?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                indexes: OnceLock::new(),
            }),
        })
    }

    /// Runs blocking SQLite work off the async executor.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| Error::Internal(format!("store task failed: {e}")))?
    }
}

impl Inner {
    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return f(&conn);
            }
        }
        let conn = self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        f(&conn)
    }

    fn indexes(&self) -> Result<&Indexes> {
        self.indexes.get().ok_or_else(|| {
            Error::Internal("the embedding space is not bound yet (bind_embedding_space)".into())
        })
    }

    /// Runs `search` on a reader with the tenant's indexes and the rows its
    /// filter allows (`None`: all of them); `None` for an unknown tenant.
    fn search_tenant<T>(
        &self,
        tenant_id: &str,
        filter: &Filter,
        search: impl FnOnce(&Connection, &Indexes, i64, Option<&[i64]>) -> Result<T>,
    ) -> Result<Option<T>> {
        let indexes = self.indexes()?;
        self.read(|c| {
            let Some(seq) = tenant_seq(c, tenant_id)? else {
                return Ok(None);
            };
            let allowed = allowed_rows(c, tenant_id, filter)?;
            search(c, indexes, seq, allowed.as_deref()).map(Some)
        })
    }
}

fn tenant_seq(conn: &Connection, tenant_id: &str) -> Result<Option<i64>> {
    conn.query_row("SELECT seq FROM tenants WHERE id = ?", [tenant_id], |r| {
        r.get(0)
    })
    .optional()
    .map_err(sql_err)
}

fn require_tenant(conn: &Connection, tenant_id: &str) -> Result<i64> {
    tenant_seq(conn, tenant_id)?.ok_or_else(|| Error::NotFound(format!("tenant {tenant_id}")))
}

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKey> {
    let scopes: String = r.get(3)?;
    Ok(ApiKey {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        scopes: scopes.split(',').filter_map(Scope::parse).collect(),
        hash: r.get(4)?,
        created_at: time(r.get(5)?),
    })
}

const KEY_COLUMNS: &str = "id, tenant_id, name, scopes, hash, created_at";

/// Removes rows and logs the removals for the indexes, inside the caller's
/// transaction.
fn delete_rows(tx: &Connection, seq: i64, rows: &[i64]) -> Result<()> {
    for rowid in rows {
        tx.execute("DELETE FROM memories WHERE rowid = ?", [rowid])
            .map_err(sql_err)?;
        tx.execute(
            "INSERT INTO index_log(tenant_seq, mem_rowid) VALUES (?, ?)",
            params![seq, rowid],
        )
        .map_err(sql_err)?;
    }
    Ok(())
}

#[async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn bind_embedding_space(&self, model_id: &str, dimension: usize) -> Result<()> {
        let model_id = model_id.to_string();
        self.run(move |db| {
            db.write(|conn| {
                let stored: Option<(String, String)> = conn
                    .query_row(
                        "SELECT (SELECT value FROM meta WHERE key = 'embedding_model'), \
                                (SELECT value FROM meta WHERE key = 'embedding_dimension') \
                         WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'embedding_model')",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(sql_err)?;
                match stored {
                    Some((m, d)) if m != model_id || d != dimension.to_string() => {
                        return Err(Error::Internal(format!(
                            "the data directory {} holds embeddings of model '{m}' ({d} dimensions), \
                             but the configured embedder is '{model_id}' ({dimension} dimensions). \
                             Configure the original model, or back up with `engram backup`, \
                             and restore into a new data directory",
                            db.dir.display()
                        )));
                    }
                    Some(_) => {}
                    None => {
                        conn.execute(
                            "INSERT INTO meta(key, value) VALUES ('embedding_model', ?), ('embedding_dimension', ?)",
                            params![model_id, dimension.to_string()],
                        )
                        .map_err(sql_err)?;
                    }
                }
                if db.indexes.get().is_none() {
                    let v = Indexes::open(&db.dir, dimension, conn)?;
                    let _ = db.indexes.set(v);
                }
                Ok(())
            })
        })
        .await
    }

    async fn embedding_space(&self) -> Result<Option<(String, usize)>> {
        self.run(|db| {
            db.read(|c| {
                let row: Option<(String, String)> = c
                    .query_row(
                        "SELECT m.value, d.value FROM meta m, meta d \
                         WHERE m.key = 'embedding_model' AND d.key = 'embedding_dimension'",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(sql_err)?;
                Ok(row.and_then(|(m, d)| Some((m, d.parse().ok()?))))
            })
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.run(|db| {
            db.read(|c| {
                c.query_row("SELECT count(*) FROM tenants", [], |r| r.get::<_, i64>(0))
                    .map_err(sql_err)
            })?;
            db.indexes()?;
            Ok(())
        })
        .await
    }

    async fn flush(&self) -> Result<()> {
        self.run(|db| {
            let Some(v) = db.indexes.get() else {
                return Ok(());
            };
            db.write(|conn| v.save(conn))?;
            db.write(|conn| {
                conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
                    .map_err(sql_err)
            })
        })
        .await
    }

    async fn create_tenant(&self, t: &Tenant) -> Result<()> {
        let t = t.clone();
        self.run(move |db| {
            db.write(|conn| {
                let tx = conn.transaction().map_err(sql_err)?;
                let exists: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM tenants WHERE name = ?)",
                        [&t.name],
                        |r| r.get(0),
                    )
                    .map_err(sql_err)?;
                if exists {
                    return Err(Error::Conflict(format!(
                        "a tenant named '{}' already exists",
                        t.name
                    )));
                }
                tx.execute(
                    "INSERT INTO tenants(id, name, created_at) VALUES (?, ?, ?)",
                    params![t.id, t.name, micros(t.created_at)],
                )
                .map_err(sql_err)?;
                tx.commit().map_err(sql_err)
            })
        })
        .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.run(|db| {
            db.read(|c| {
                let mut stmt = c
                    .prepare("SELECT id, name, created_at FROM tenants ORDER BY seq")
                    .map_err(sql_err)?;
                stmt.query_map([], |r| {
                    Ok(Tenant {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: time(r.get(2)?),
                    })
                })
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
            })
        })
        .await
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        let id = id.to_string();
        self.run(move |db| {
            db.read(|c| {
                c.query_row(
                    "SELECT id, name, created_at FROM tenants WHERE id = ?",
                    [&id],
                    |r| {
                        Ok(Tenant {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            created_at: time(r.get(2)?),
                        })
                    },
                )
                .optional()
                .map_err(sql_err)
            })
        })
        .await
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.run(move |db| {
            db.write(|conn| {
                let Some(seq) = tenant_seq(conn, &id)? else {
                    return Ok(false);
                };
                let tx = conn.transaction().map_err(sql_err)?;
                tx.execute("DELETE FROM memories WHERE tenant_id = ?", [&id])
                    .map_err(sql_err)?;
                tx.execute("DELETE FROM idempotency WHERE tenant_id = ?", [&id])
                    .map_err(sql_err)?;
                tx.execute("DELETE FROM api_keys WHERE tenant_id = ?", [&id])
                    .map_err(sql_err)?;
                tx.execute("DELETE FROM index_log WHERE tenant_seq = ?", [seq])
                    .map_err(sql_err)?;
                tx.execute("DELETE FROM tenants WHERE id = ?", [&id])
                    .map_err(sql_err)?;
                tx.commit().map_err(sql_err)?;
                if let Some(v) = db.indexes.get() {
                    v.drop_tenant(seq);
                }
                Ok(true)
            })
        })
        .await
    }

    async fn create_key(&self, key: &ApiKey) -> Result<()> {
        let key = key.clone();
        self.run(move |db| {
            db.write(|conn| {
                require_tenant(conn, &key.tenant_id)?;
                let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                conn.execute(
                    &format!("INSERT INTO api_keys({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"),
                    params![
                        key.id,
                        key.tenant_id,
                        key.name,
                        scopes.join(","),
                        key.hash,
                        micros(key.created_at)
                    ],
                )
                .map_err(sql_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn list_keys(&self, tenant_id: &str) -> Result<Vec<ApiKey>> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| {
            db.read(|c| {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at"
                    ))
                    .map_err(sql_err)?;
                stmt.query_map([&tenant_id], key_from_row)
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(sql_err)
            })
        })
        .await
    }

    async fn delete_key(&self, tenant_id: &str, key_id: &str) -> Result<bool> {
        let (tenant_id, key_id) = (tenant_id.to_string(), key_id.to_string());
        self.run(move |db| {
            db.write(|conn| {
                let n = conn
                    .execute(
                        "DELETE FROM api_keys WHERE tenant_id = ? AND id = ?",
                        params![tenant_id, key_id],
                    )
                    .map_err(sql_err)?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn find_key(&self, hash: &str) -> Result<Option<ApiKey>> {
        let hash = hash.to_string();
        self.run(move |db| {
            db.read(|c| {
                c.query_row(
                    &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?"),
                    [&hash],
                    key_from_row,
                )
                .optional()
                .map_err(sql_err)
            })
        })
        .await
    }

    async fn insert(
        &self,
        tenant_id: &str,
        records: Vec<Record>,
        idem: Option<Idempotency>,
    ) -> Result<InsertOutcome> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| {
            let indexes = db.indexes()?;
            for r in &records {
                indexes.vectors.fits(&r.embedding)?;
            }
            db.write(|conn| {
                let seq = require_tenant(conn, &tenant_id)?;
                let tx = conn.transaction().map_err(sql_err)?;
                if let Some(i) = &idem {
                    let ids: Vec<&str> = records.iter().map(|r| r.memory.id.as_str()).collect();
                    let n = tx
                        .execute(
                            "INSERT INTO idempotency(tenant_id, key, fingerprint, ids, created_at) \
                             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            params![
                                tenant_id,
                                i.key,
                                i.fingerprint,
                                serde_json::to_string(&ids).map_err(Error::internal)?,
                                micros(Utc::now())
                            ],
                        )
                        .map_err(sql_err)?;
                    if n == 0 {
                        return Ok(InsertOutcome::KeyTaken);
                    }
                }
                let mut added = Vec::with_capacity(records.len());
                {
                    let mut ins = tx
                        .prepare_cached(
                            "INSERT INTO memories(id, tenant_id, content, kind, user_id, agent_id, session_id, role, \
                             labels, metadata, importance, occurred_at, created_at, updated_at, embedding) \
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        )
                        .map_err(sql_err)?;
                    let mut log = tx
                        .prepare_cached("INSERT INTO index_log(tenant_seq, mem_rowid) VALUES (?, ?)")
                        .map_err(sql_err)?;
                    for r in &records {
                        let mut values = vec![Value::Text(r.memory.id.clone()), Value::Text(tenant_id.clone())];
                        values.extend(memory_values(&r.memory)?);
                        values.push(Value::Blob(vector_to_blob(&r.embedding)));
                        ins.execute(params_from_iter(values)).map_err(|e| match e {
                            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                                Error::Conflict(format!("a memory with id {} already exists", r.memory.id))
                            }
                            e => sql_err(e),
                        })?;
                        let rowid = tx.last_insert_rowid();
                        log.execute(params![seq, rowid]).map_err(sql_err)?;
                        added.push(rowid);
                    }
                }
                tx.commit().map_err(sql_err)?;
                let rows: Vec<(i64, &Record)> = added.iter().copied().zip(&records).collect();
                indexes.upsert(seq, &rows)?;
                Ok(InsertOutcome::Inserted)
            })
        })
        .await
    }

    async fn idempotent_result(
        &self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<IdempotentResult>> {
        let (tenant_id, key) = (tenant_id.to_string(), key.to_string());
        self.run(move |db| {
            db.read(|c| {
                let row: Option<(String, String)> = c
                    .query_row(
                        "SELECT fingerprint, ids FROM idempotency WHERE tenant_id = ? AND key = ?",
                        params![tenant_id, key],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(sql_err)?;
                Ok(row.map(|(fingerprint, ids)| IdempotentResult {
                    fingerprint,
                    ids: serde_json::from_str(&ids).unwrap_or_default(),
                }))
            })
        })
        .await
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<Memory>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| {
            db.read(|c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = ? AND m.id = ?"),
                    params![tenant_id, id],
                    memory_from_row,
                )
                .optional()
                .map_err(sql_err)
            })
        })
        .await
    }

    async fn get_records(&self, tenant_id: &str, ids: &[String]) -> Result<Vec<Record>> {
        let tenant_id = tenant_id.to_string();
        let ids = ids.to_vec();
        self.run(move |db| {
            db.read(|c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS}, m.embedding FROM memories m WHERE m.tenant_id = ? AND m.id = ?"
                    ))
                    .map_err(sql_err)?;
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    if let Some(r) = stmt
                        .query_row(params![tenant_id, id], record_from_row)
                        .optional()
                        .map_err(sql_err)?
                    {
                        out.push(r);
                    }
                }
                Ok(out)
            })
        })
        .await
    }

    async fn update(
        &self,
        tenant_id: &str,
        m: &Memory,
        embedding: Option<Vec<f32>>,
    ) -> Result<bool> {
        let (tenant_id, m) = (tenant_id.to_string(), m.clone());
        self.run(move |db| {
            let indexes = db.indexes()?;
            if let Some(v) = &embedding {
                indexes.vectors.fits(v)?;
            }
            db.write(|conn| {
                let seq = require_tenant(conn, &tenant_id)?;
                let tx = conn.transaction().map_err(sql_err)?;
                let old: Option<i64> = tx
                    .query_row(
                        "SELECT rowid FROM memories WHERE tenant_id = ? AND id = ?",
                        params![tenant_id, m.id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql_err)?;
                let Some(rowid) = old else { return Ok(false) };
                let mut values = memory_values(&m)?;
                values.push(Value::Integer(rowid));
                tx.execute(
                    "UPDATE memories SET content = ?, kind = ?, user_id = ?, agent_id = ?, session_id = ?, role = ?, \
                     labels = ?, metadata = ?, importance = ?, occurred_at = ?, created_at = ?, updated_at = ? \
                     WHERE rowid = ?",
                    params_from_iter(values),
                )
                .map_err(sql_err)?;
                if let Some(e) = &embedding {
                    tx.execute("UPDATE memories SET embedding = ? WHERE rowid = ?", params![vector_to_blob(e), rowid])
                        .map_err(sql_err)?;
                }
                // Logged even when only the catalogued fields changed, so a
                // crash before the next save replays them too.
                tx.execute("INSERT INTO index_log(tenant_seq, mem_rowid) VALUES (?, ?)", params![seq, rowid])
                    .map_err(sql_err)?;
                tx.commit().map_err(sql_err)?;
                match embedding {
                    Some(embedding) => {
                        let record = Record { memory: m, embedding };
                        indexes.upsert(seq, &[(rowid, &record)])?;
                    }
                    None => indexes.recatalog(seq, rowid, &m)?,
                }
                Ok(true)
            })
        })
        .await
    }

    async fn delete(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| {
            let indexes = db.indexes()?;
            db.write(|conn| {
                let seq = require_tenant(conn, &tenant_id)?;
                let tx = conn.transaction().map_err(sql_err)?;
                let row: Option<i64> = tx
                    .query_row(
                        "SELECT rowid FROM memories WHERE tenant_id = ? AND id = ?",
                        params![tenant_id, id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql_err)?;
                let Some(rowid) = row else { return Ok(false) };
                delete_rows(&tx, seq, &[rowid])?;
                tx.commit().map_err(sql_err)?;
                indexes.delete(seq, rowid)?;
                Ok(true)
            })
        })
        .await
    }

    async fn list(
        &self,
        tenant_id: &str,
        filter: &Filter,
        limit: usize,
        after: Option<&Cursor>,
    ) -> Result<Vec<Memory>> {
        let (tenant_id, filter, after) = (tenant_id.to_string(), filter.clone(), after.cloned());
        self.run(move |db| {
            db.read(|c| {
                let mut params = vec![Value::Text(tenant_id)];
                let mut sql = format!("SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = ?");
                sql.push_str(&filter_sql(&filter, &mut params));
                if let Some(cur) = after {
                    sql.push_str(" AND (m.occurred_at < ? OR (m.occurred_at = ? AND m.id < ?))");
                    params.extend([
                        Value::Integer(cur.occurred_at_us),
                        Value::Integer(cur.occurred_at_us),
                        Value::Text(cur.id),
                    ]);
                }
                sql.push_str(" ORDER BY m.occurred_at DESC, m.id DESC LIMIT ?");
                params.push(Value::Integer(limit as i64));
                let mut stmt = c.prepare(&sql).map_err(sql_err)?;
                stmt.query_map(params_from_iter(params), memory_from_row)
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(sql_err)
            })
        })
        .await
    }

    async fn export_page(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let (tenant_id, after) = (tenant_id.to_string(), after.unwrap_or("").to_string());
        self.run(move |db| {
            db.read(|c| {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT {COLUMNS}, m.embedding FROM memories m WHERE m.tenant_id = ? AND m.id > ? \
                         ORDER BY m.id LIMIT ?"
                    ))
                    .map_err(sql_err)?;
                stmt.query_map(params![tenant_id, after, limit as i64], record_from_row)
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(sql_err)
            })
        })
        .await
    }

    async fn delete_where(&self, tenant_id: &str, filter: &Filter) -> Result<u64> {
        let (tenant_id, filter) = (tenant_id.to_string(), filter.clone());
        self.run(move |db| {
            let indexes = db.indexes()?;
            db.write(|conn| {
                let seq = require_tenant(conn, &tenant_id)?;
                let tx = conn.transaction().map_err(sql_err)?;
                let rows = matching_rows(&tx, &tenant_id, &filter)?;
                delete_rows(&tx, seq, &rows)?;
                tx.commit().map_err(sql_err)?;
                for rowid in &rows {
                    indexes.delete(seq, *rowid)?;
                }
                Ok(rows.len() as u64)
            })
        })
        .await
    }

    async fn count_memories(&self) -> Result<u64> {
        self.run(|db| {
            db.read(|c| {
                c.query_row("SELECT count(*) FROM memories", [], |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(sql_err)
            })
        })
        .await
    }

    async fn lexical_search(
        &self,
        tenant_id: &str,
        terms: &[String],
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let (tenant_id, filter, terms) = (tenant_id.to_string(), filter.clone(), terms.to_vec());
        self.run(move |db| {
            let found = db.search_tenant(&tenant_id, &filter, |c, indexes, seq, allowed| {
                let scored = lexical_rows(indexes, seq, &terms, allowed, limit)?;
                hits(c, &tenant_id, scored)
            })?;
            Ok(found.unwrap_or_default())
        })
        .await
    }

    async fn vector_search(
        &self,
        tenant_id: &str,
        query: &[f32],
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let (tenant_id, filter, query) = (tenant_id.to_string(), filter.clone(), query.to_vec());
        self.run(move |db| {
            let found = db.search_tenant(&tenant_id, &filter, |c, indexes, seq, allowed| {
                let scored = indexes.vectors.search(seq, &query, limit, allowed)?;
                hits(c, &tenant_id, scored)
            })?;
            Ok(found.unwrap_or_default())
        })
        .await
    }

    /// Everything from memory: the filter's rows and the candidates'
    /// features and records come from the catalog and the vector index, so a
    /// search reads no row from SQLite, whose pages a large store cannot
    /// keep cached (docs/BENCHMARKS.md, *Speed at scale*).
    async fn retrieve(&self, tenant_id: &str, q: &Retrieval<'_>) -> Result<Retrieved> {
        if q.asks_nothing() {
            return Ok(Retrieved::default());
        }
        let query = Query {
            tenant_id: tenant_id.to_string(),
            terms: q.terms.to_vec(),
            vector: q.vector.map(<[f32]>::to_vec),
            filter: q.filter.clone(),
            limit: q.limit,
            ranking: *q.ranking,
            keep: q.keep,
        };
        self.run(move |db| db.retrieve(&query)).await
    }
}

/// A [`Retrieval`] owned, to move onto a blocking thread.
struct Query {
    tenant_id: String,
    terms: Vec<String>,
    vector: Option<Vec<f32>>,
    filter: Filter,
    limit: usize,
    ranking: Ranking,
    keep: usize,
}

impl Inner {
    fn retrieve(&self, q: &Query) -> Result<Retrieved> {
        let indexes = self.indexes()?;
        let Some(seq) = self.read(|c| tenant_seq(c, &q.tenant_id))? else {
            return Ok(Retrieved::default());
        };
        let allowed = if q.filter.is_empty() {
            None
        } else {
            Some(indexes.catalog.allowed(seq, &q.filter)?)
        };
        let allowed = allowed.as_deref();
        let lexical = || {
            if q.terms.is_empty() {
                Ok(Vec::new())
            } else {
                lexical_rows(indexes, seq, &q.terms, allowed, q.limit)
            }
        };
        let dense = || match q.vector.as_deref() {
            Some(v) => indexes.vectors.search(seq, v, q.limit, allowed),
            None => Ok(Vec::new()),
        };
        let (lexical, dense) = if q.terms.is_empty() || q.vector.is_none() {
            (lexical()?, dense()?)
        } else {
            std::thread::scope(|s| {
                let worker = s.spawn(dense);
                let lexical = lexical();
                let dense = worker
                    .join()
                    .unwrap_or_else(|_| Err(Error::Internal("vector search panicked".into())));
                Ok::<_, Error>((lexical?, dense?))
            })?
        };
        let (rows, features) = candidates(indexes, seq, q.vector.as_deref(), &lexical, &dense)?;
        let (best, more) = q.ranking.best(&features, q.keep);
        let winners: Vec<(i64, f32)> = best.into_iter().map(|(i, s)| (rows[i], s)).collect();
        let rows: Vec<i64> = winners.iter().map(|(r, _)| *r).collect();
        let memories = indexes.catalog.memories(seq, &rows)?;
        let vectors = indexes.vectors.vectors(seq, &rows)?;
        // A row deleted since it was found is left out.
        let ranked = winners
            .into_iter()
            .zip(memories.into_iter().zip(vectors))
            .filter_map(|((_, score), (memory, embedding))| {
                Some(Ranked {
                    record: Record {
                        memory: memory?,
                        embedding: embedding?,
                    },
                    score,
                })
            })
            .collect();
        Ok(Retrieved { ranked, more })
    }
}

/// The distinct candidates of both retrievers (dense hits first, the order
/// that breaks ranking ties) with their features, from memory. A row no
/// longer catalogued (deleted since it was found) is left out.
fn candidates(
    indexes: &Indexes,
    seq: i64,
    vector: Option<&[f32]>,
    lexical: &[(i64, f32)],
    dense: &[(i64, f32)],
) -> Result<(Vec<i64>, Vec<Features>)> {
    let mut seen = HashSet::new();
    let rows: Vec<i64> = dense
        .iter()
        .chain(lexical)
        .map(|(r, _)| *r)
        .filter(|r| seen.insert(*r))
        .collect();
    let lexical: HashMap<i64, f32> = lexical.iter().copied().collect();
    let similarity = match vector {
        Some(v) => indexes.vectors.similarities(seq, v, &rows)?,
        None => vec![None; rows.len()],
    };
    let facts = indexes.catalog.ranking_facts(seq, &rows)?;
    let mut kept = Vec::with_capacity(rows.len());
    let mut features = Vec::with_capacity(rows.len());
    for ((rowid, dense), facts) in rows.into_iter().zip(similarity).zip(facts) {
        let Some((importance, occurred_at)) = facts else {
            continue;
        };
        kept.push(rowid);
        features.push(Features {
            dense,
            lexical: lexical.get(&rowid).copied(),
            importance,
            occurred_at: time(occurred_at),
        });
    }
    Ok((kept, features))
}

/// The tenant's rows that pass `filter`, or `None` when it passes all.
fn allowed_rows(c: &Connection, tenant_id: &str, filter: &Filter) -> Result<Option<Vec<i64>>> {
    if filter.is_empty() {
        return Ok(None);
    }
    matching_rows(c, tenant_id, filter).map(Some)
}

/// BM25's best rows for `terms` among `allowed` (all when `None`).
fn lexical_rows(
    indexes: &Indexes,
    seq: i64,
    terms: &[String],
    allowed: Option<&[i64]>,
    limit: usize,
) -> Result<Vec<(i64, f32)>> {
    let within = allowed.map_or(Within::All, Within::Rows);
    indexes.text.search(seq, terms, limit, within)
}

/// The tenant's rows that pass `filter`.
fn matching_rows(c: &Connection, tenant_id: &str, filter: &Filter) -> Result<Vec<i64>> {
    let mut params = vec![Value::Text(tenant_id.to_string())];
    let sql = format!(
        "SELECT m.rowid FROM memories m WHERE m.tenant_id = ?{}",
        filter_sql(filter, &mut params)
    );
    let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
    stmt.query_map(params_from_iter(params), |r| r.get(0))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)
}

/// Scored rows as memory ids. The tenant check is the last wall: an index
/// entry that names another tenant's row is never returned.
fn hits(c: &Connection, tenant_id: &str, scored: Vec<(i64, f32)>) -> Result<Vec<Hit>> {
    let mut stmt = c
        .prepare_cached("SELECT id FROM memories WHERE rowid = ? AND tenant_id = ?")
        .map_err(sql_err)?;
    let mut out = Vec::with_capacity(scored.len());
    for (rowid, score) in scored {
        if let Some(id) = stmt
            .query_row(params![rowid, tenant_id], |r| r.get(0))
            .optional()
            .map_err(sql_err)?
        {
            out.push(Hit { id, score });
        }
    }
    Ok(out)
}
