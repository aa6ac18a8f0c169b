//! The embedded single-node store: SQLite (WAL, synchronous commits) for
//! rows, with per-tenant in-memory BM25 text indexes and partitioned vector
//! indexes derived from them (see [`indexes`]).
//!
//! All writes go through one connection under a mutex, which is also what
//! keeps the vector indexes in step with the rows; reads use a small pool of
//! their own connections, which WAL lets run beside the writer.

mod binary;
mod catalog;
mod conversations;
mod documents;
mod erasure;
mod facts;
mod graph;
mod indexes;
mod jobs;
mod lifecycle;
mod memories;
mod metering;
mod per_tenant;
mod rows;
mod schema;
mod search;
mod space;
mod tenants;
mod threads;

// The index types are the store's own; the criterion benches and the fuzz
// targets reach them through the `testing` feature.
#[cfg(feature = "testing")]
pub mod fuzzing;
#[cfg(feature = "testing")]
pub mod text;
#[cfg(not(feature = "testing"))]
mod text;
#[cfg(feature = "testing")]
pub mod vectors;
#[cfg(not(feature = "testing"))]
mod vectors;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use engram_core::tenant::{ApiKey, Tenant};
use engram_core::{Error, Filter, Memory, Result};

use engram_store::{
    Hit, Idempotency, IdempotentResult, InsertOutcome, Listing, Record, Retrieval, Retrieved, Store,
};
use indexes::Indexes;
use rows::sql_err;
use search::Query;

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
    .map_err(|e| Error::internal(format!("opening {}: {e}", path.display())))?;
    // WAL lets readers run beside the writer; FULL makes every commit durable
    // before it is acknowledged, so a crash loses nothing that was answered.
    // secure_delete zeroes what a delete frees, so erased text (a user's
    // memories and documents) is not left readable in free pages or slack
    // (exact erasure, see erasure.rs).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536; PRAGMA secure_delete = ON;",
    )
    .map_err(sql_err)?;
    Ok(conn)
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir` and applies migrations.
    pub fn open(dir: &Path) -> Result<EmbeddedStore> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::internal(format!(
                "cannot create data directory {}: {e}; set ENGRAM_DATA_DIR to a writable path",
                dir.display()
            ))
        })?;
        let path = dir.join("engram.db");
        let mut writer = open_connection(&path)?;
        schema::migrate(&mut writer, dir)?;
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
            .map_err(|e| Error::internal(format!("store task failed: {e}")))?
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
            Error::internal("the embedding space is not bound yet (bind_embedding_space)")
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
    tenant_seq(conn, tenant_id)?.ok_or_else(|| Error::not_found(format!("tenant {tenant_id}")))
}

#[async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn bind_embedding_space(&self, model_id: &str, dimension: usize) -> Result<()> {
        let model_id = model_id.to_string();
        self.run(move |db| db.bind_embedding_space(&model_id, dimension))
            .await
    }

    async fn embedding_space(&self) -> Result<Option<(String, usize)>> {
        self.run(|db| db.embedding_space()).await
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
        self.run(move |db| db.create_tenant(&t)).await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.run(|db| db.list_tenants()).await
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        let id = id.to_string();
        self.run(move |db| db.get_tenant(&id)).await
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.run(move |db| db.delete_tenant(&id)).await
    }

    async fn create_key(&self, key: &ApiKey) -> Result<()> {
        let key = key.clone();
        self.run(move |db| db.create_key(&key)).await
    }

    async fn list_keys(&self, tenant_id: &str) -> Result<Vec<ApiKey>> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| db.list_keys(&tenant_id)).await
    }

    async fn delete_key(&self, tenant_id: &str, key_id: &str) -> Result<bool> {
        let (tenant_id, key_id) = (tenant_id.to_string(), key_id.to_string());
        self.run(move |db| db.delete_key(&tenant_id, &key_id)).await
    }

    async fn find_key(&self, hash: &str) -> Result<Option<ApiKey>> {
        let hash = hash.to_string();
        self.run(move |db| db.find_key(&hash)).await
    }

    async fn insert(
        &self,
        tenant_id: &str,
        records: Vec<Record>,
        idem: Option<Idempotency>,
    ) -> Result<InsertOutcome> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| db.insert(&tenant_id, records, idem))
            .await
    }

    async fn idempotent_result(
        &self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<IdempotentResult>> {
        let (tenant_id, key) = (tenant_id.to_string(), key.to_string());
        self.run(move |db| db.idempotent_result(&tenant_id, &key))
            .await
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<Memory>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.get(&tenant_id, &id)).await
    }

    async fn get_records(&self, tenant_id: &str, ids: &[String]) -> Result<Vec<Record>> {
        let tenant_id = tenant_id.to_string();
        let ids = ids.to_vec();
        self.run(move |db| db.get_records(&tenant_id, &ids)).await
    }

    async fn update(
        &self,
        tenant_id: &str,
        m: &Memory,
        embedding: Option<Vec<f32>>,
    ) -> Result<bool> {
        let (tenant_id, m) = (tenant_id.to_string(), m.clone());
        self.run(move |db| db.update(&tenant_id, &m, embedding))
            .await
    }

    async fn delete(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.delete(&tenant_id, &id)).await
    }

    async fn list(&self, tenant_id: &str, listing: &Listing<'_>) -> Result<Vec<Memory>> {
        let tenant_id = tenant_id.to_string();
        let (filter, limit, after) = (
            listing.filter.clone(),
            listing.limit,
            listing.after.cloned(),
        );
        self.run(move |db| {
            let listing = Listing {
                filter: &filter,
                limit,
                after: after.as_ref(),
            };
            db.list(&tenant_id, &listing)
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
        self.run(move |db| db.export_page(&tenant_id, &after, limit))
            .await
    }

    async fn delete_where(&self, tenant_id: &str, filter: &Filter) -> Result<u64> {
        let (tenant_id, filter) = (tenant_id.to_string(), filter.clone());
        self.run(move |db| db.delete_where(&tenant_id, &filter))
            .await
    }

    async fn count_memories(&self) -> Result<u64> {
        self.run(|db| db.count_memories()).await
    }

    async fn lexical_search(&self, tenant_id: &str, q: &Retrieval<'_>) -> Result<Vec<Hit>> {
        if q.terms.is_empty() {
            return Ok(Vec::new());
        }
        let query = Query::new(tenant_id, q);
        self.run(move |db| db.lexical_search(&query)).await
    }

    async fn vector_search(&self, tenant_id: &str, q: &Retrieval<'_>) -> Result<Vec<Hit>> {
        if q.vector.is_none() {
            return Ok(Vec::new());
        }
        let query = Query::new(tenant_id, q);
        self.run(move |db| db.vector_search(&query)).await
    }

    /// Everything from memory: the filter's rows and the candidates'
    /// features and records come from the catalog and the vector index, so a
    /// search reads no row from SQLite, whose pages a large store cannot
    /// keep cached (docs/BENCHMARKS.md, *Speed at scale*).
    async fn retrieve(&self, tenant_id: &str, q: &Retrieval<'_>) -> Result<Retrieved> {
        if q.asks_nothing() {
            return Ok(Retrieved::default());
        }
        let query = Query::new(tenant_id, q);
        self.run(move |db| db.retrieve(&query)).await
    }
}
