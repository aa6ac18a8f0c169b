//! Per-tenant HNSW indexes (usearch) over the embeddings kept in SQLite.
//!
//! SQLite is the source of truth; an index is a cache that is saved to
//! `DATA_DIR/vectors/<tenant seq>.usearch` from time to time. Every change to
//! a vector is also appended to `index_log` in the same transaction as the
//! row, so after a crash the saved files are brought up to date by
//! replaying the log past the last save: no acknowledged write is lost and
//! no full rebuild is needed. An index file that is missing is rebuilt from
//! the table.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::{Connection, OptionalExtension, params};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use engram_core::{Error, Result};

use super::rows::{sql_err, vector_from_blob};

/// Graph degree and build/search effort: usearch's recommended defaults for
/// sentence embeddings, with more search effort for recall.
const CONNECTIVITY: usize = 16;
const EXPANSION_ADD: usize = 128;
const EXPANSION_SEARCH: usize = 96;

pub struct VectorIndexes {
    dir: PathBuf,
    dimension: usize,
    tenants: RwLock<HashMap<i64, Arc<RwLock<Index>>>>,
    dirty: Mutex<HashSet<i64>>,
}

fn index_err(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("vector index: {e}"))
}

fn new_index(dimension: usize) -> Result<Index> {
    let options = IndexOptions {
        dimensions: dimension,
        // Half precision halves memory with no measurable recall loss on
        // unit-length sentence embeddings; exact scores come from SQLite.
        metric: MetricKind::Cos,
        quantization: ScalarKind::F16,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
        expansion_search: EXPANSION_SEARCH,
        multi: false,
    };
    Index::new(&options).map_err(index_err)
}

impl VectorIndexes {
    /// Loads every tenant's index and replays the log past the last save.
    pub fn open(dir: &Path, dimension: usize, conn: &Connection) -> Result<VectorIndexes> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Internal(format!("creating {}: {e}", dir.display())))?;
        let idx = VectorIndexes {
            dir: dir.to_path_buf(),
            dimension,
            tenants: RwLock::new(HashMap::new()),
            dirty: Mutex::new(HashSet::new()),
        };
        let seqs: Vec<i64> = {
            let mut stmt = conn.prepare("SELECT seq FROM tenants").map_err(sql_err)?;
            stmt.query_map([], |r| r.get(0))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)?
        };
        // Tenants whose index is rebuilt from the table already hold every
        // logged change.
        let mut rebuilt = HashSet::new();
        for seq in seqs {
            let path = idx.path(seq);
            let index = new_index(dimension)?;
            if path.exists() {
                index
                    .load(&path.to_string_lossy())
                    .map_err(|e| index_err(format!("{}: {e}", path.display())))?;
                if index.dimensions() != dimension {
                    return Err(index_err(format!(
                        "{} holds {}-dimensional vectors, the store {dimension}",
                        path.display(),
                        index.dimensions()
                    )));
                }
                idx.insert_tenant(seq, index);
            } else {
                idx.insert_tenant(seq, index);
                idx.rebuild(conn, seq)?;
                rebuilt.insert(seq);
            }
        }
        idx.replay(conn, &rebuilt)?;
        Ok(idx)
    }

    fn path(&self, seq: i64) -> PathBuf {
        self.dir.join(format!("{seq}.usearch"))
    }

    fn insert_tenant(&self, seq: i64, index: Index) {
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(seq, Arc::new(RwLock::new(index)));
    }

    fn tenant(&self, seq: i64) -> Result<Arc<RwLock<Index>>> {
        if let Some(i) = self
            .tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&seq)
        {
            return Ok(i.clone());
        }
        let index = new_index(self.dimension)?;
        let mut map = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        Ok(map
            .entry(seq)
            .or_insert_with(|| Arc::new(RwLock::new(index)))
            .clone())
    }

    fn rebuild(&self, conn: &Connection, seq: i64) -> Result<()> {
        let mut stmt = conn
            .prepare(
                "SELECT m.rowid, m.embedding FROM memories m JOIN tenants t ON t.id = m.tenant_id \
                 WHERE t.seq = ?",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map([seq], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(sql_err)?;
        for row in rows {
            let (rowid, blob) = row.map_err(sql_err)?;
            self.upsert(seq, rowid, &vector_from_blob(&blob))?;
        }
        Ok(())
    }

    /// Applies every logged change after the saved watermark. Idempotent:
    /// each logged memory is re-read and either (re)inserted or removed.
    /// Tenants in `rebuilt` are skipped: re-applying their log would remove
    /// and re-add every vector just inserted by the rebuild, leaving a graph
    /// of tombstones in which searches miss live vectors.
    fn replay(&self, conn: &Connection, rebuilt: &HashSet<i64>) -> Result<()> {
        let mark = watermark(conn)?;
        let mut stmt = conn
            .prepare(
                "SELECT l.tenant_seq, l.mem_rowid, m.embedding FROM \
                 (SELECT tenant_seq, mem_rowid, max(seq) AS seq FROM index_log WHERE seq > ? \
                  GROUP BY tenant_seq, mem_rowid) l \
                 LEFT JOIN memories m ON m.rowid = l.mem_rowid ORDER BY l.seq",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map([mark], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                ))
            })
            .map_err(sql_err)?;
        let mut replayed = 0usize;
        for row in rows {
            let (seq, rowid, blob) = row.map_err(sql_err)?;
            if rebuilt.contains(&seq) {
                continue;
            }
            match blob {
                Some(b) => self.upsert(seq, rowid, &vector_from_blob(&b))?,
                None => self.remove(seq, rowid)?,
            }
            replayed += 1;
        }
        if replayed > 0 {
            tracing::info!(replayed, "vector index brought up to date from the log");
        }
        Ok(())
    }

    pub fn upsert(&self, seq: i64, rowid: i64, v: &[f32]) -> Result<()> {
        let index = self.tenant(seq)?;
        let index = index.write().unwrap_or_else(|e| e.into_inner());
        let key = rowid as u64;
        if index.contains(key) {
            index.remove(key).map_err(index_err)?;
        }
        if index.size() + 1 > index.capacity() {
            index
                .reserve((index.capacity() * 2).max(1024))
                .map_err(index_err)?;
        }
        index.add(key, v).map_err(index_err)?;
        self.mark_dirty(seq);
        Ok(())
    }

    pub fn remove(&self, seq: i64, rowid: i64) -> Result<()> {
        let index = self.tenant(seq)?;
        let index = index.write().unwrap_or_else(|e| e.into_inner());
        if index.contains(rowid as u64) {
            index.remove(rowid as u64).map_err(index_err)?;
            self.mark_dirty(seq);
        }
        Ok(())
    }

    fn mark_dirty(&self, seq: i64) {
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(seq);
    }

    /// Forgets a deleted tenant's index and its file.
    pub fn drop_tenant(&self, seq: i64) {
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seq);
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seq);
        let _ = std::fs::remove_file(self.path(seq));
    }

    /// Approximate nearest neighbours as `(rowid, cosine similarity)`;
    /// `allowed` restricts the graph walk to those rows.
    pub fn search(
        &self,
        seq: i64,
        query: &[f32],
        limit: usize,
        allowed: Option<&HashSet<u64>>,
    ) -> Result<Vec<(i64, f32)>> {
        let index = self.tenant(seq)?;
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        if index.size() == 0 {
            return Ok(Vec::new());
        }
        let matches = match allowed {
            Some(set) => index
                .filtered_search(query, limit, |k| set.contains(&k))
                .map_err(index_err)?,
            None => index.search(query, limit).map_err(index_err)?,
        };
        Ok(matches
            .keys
            .iter()
            .zip(&matches.distances)
            .map(|(k, d)| (*k as i64, 1.0 - d))
            .collect())
    }

    /// Saves the indexes changed since the last save and moves the
    /// watermark. The caller holds the writer lock, so no change is applied
    /// while the files and the watermark are being written.
    pub fn save(&self, conn: &Connection) -> Result<()> {
        let dirty: Vec<i64> = self
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        let head: i64 = conn
            .query_row("SELECT coalesce(max(seq), 0) FROM index_log", [], |r| {
                r.get(0)
            })
            .map_err(sql_err)?;
        for seq in &dirty {
            let index = self.tenant(*seq)?;
            let index = index.read().unwrap_or_else(|e| e.into_inner());
            let path = self.path(*seq);
            let tmp = path.with_extension("usearch.tmp");
            index
                .save(&tmp.to_string_lossy())
                .map_err(|e| index_err(format!("saving {}: {e}", tmp.display())))?;
            sync_file(&tmp)?;
            std::fs::rename(&tmp, &path)
                .map_err(|e| index_err(format!("renaming {}: {e}", tmp.display())))?;
        }
        if !dirty.is_empty() {
            sync_dir(&self.dir)?;
        }
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('vectors_saved_seq', ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [head.to_string()],
        )
        .map_err(sql_err)?;
        conn.execute("DELETE FROM index_log WHERE seq <= ?", params![head])
            .map_err(sql_err)?;
        Ok(())
    }
}

fn watermark(conn: &Connection) -> Result<i64> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'vectors_saved_seq'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql_err)?;
    Ok(v.and_then(|s| s.parse().ok()).unwrap_or(0))
}

fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| index_err(format!("syncing {}: {e}", path.display())))
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| index_err(format!("syncing {}: {e}", dir.display())))
}
