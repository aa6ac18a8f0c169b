//! The indexes derived from the rows: per-tenant vector graphs and BM25
//! text indexes, kept in memory and saved to files.
//!
//! SQLite is the source of truth. Every change to a memory is also appended
//! to `index_log` in the same transaction as the row, so after a crash the
//! saved files are brought up to date by replaying the log past the last
//! save: no acknowledged write is lost and no full rebuild is needed. A
//! missing file is rebuilt from the table.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use engram_core::Result;

use super::rows::{sql_err, vector_from_blob};
use super::text::TextIndexes;
use super::vectors::VectorIndexes;

/// Rows applied to the indexes per step while rebuilding or replaying.
const APPLY_BATCH: usize = 1024;

pub struct Indexes {
    pub vectors: VectorIndexes,
    pub text: TextIndexes,
}

/// One memory's indexed parts, or `None` parts for a deleted memory.
struct Change {
    seq: i64,
    rowid: i64,
    row: Option<(String, Vec<f32>)>,
}

impl Indexes {
    /// Loads every tenant's saved indexes, rebuilds missing ones from the
    /// table, and replays the log past the last save.
    pub fn open(dir: &Path, dimension: usize, conn: &Connection) -> Result<Indexes> {
        let idx = Indexes {
            vectors: VectorIndexes::new(&dir.join("vectors"), dimension)?,
            text: TextIndexes::new(&dir.join("text"))?,
        };
        let seqs: Vec<i64> = {
            let mut stmt = conn.prepare("SELECT seq FROM tenants").map_err(sql_err)?;
            stmt.query_map([], |r| r.get(0))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)?
        };
        // Indexes rebuilt from the table already hold every logged change.
        let (mut rebuilt_vectors, mut rebuilt_text) = (HashSet::new(), HashSet::new());
        for seq in seqs {
            let need_vectors = !idx.vectors.load(seq)?;
            let need_text = !idx.text.load(seq)?;
            if need_vectors {
                rebuilt_vectors.insert(seq);
            }
            if need_text {
                rebuilt_text.insert(seq);
            }
            if need_vectors || need_text {
                idx.rebuild(conn, seq, need_vectors, need_text)?;
            }
        }
        idx.replay(conn, &rebuilt_vectors, &rebuilt_text)?;
        Ok(idx)
    }

    fn rebuild(&self, conn: &Connection, seq: i64, vectors: bool, text: bool) -> Result<()> {
        let mut stmt = conn
            .prepare(
                "SELECT t.seq, m.rowid, m.content, m.embedding FROM memories m \
                 JOIN tenants t ON t.id = m.tenant_id WHERE t.seq = ?",
            )
            .map_err(sql_err)?;
        let changes = stmt.query_map([seq], change_from_row).map_err(sql_err)?;
        self.apply_all(changes, |_| (vectors, text))?;
        Ok(())
    }

    /// Applies every logged change after the saved watermark. Idempotent:
    /// each logged memory is re-read and either (re)indexed or removed.
    /// Indexes just rebuilt are skipped: re-applying their log would remove
    /// and re-add every vector, leaving a graph of tombstones in which
    /// searches miss live vectors.
    fn replay(
        &self,
        conn: &Connection,
        rebuilt_vectors: &HashSet<i64>,
        rebuilt_text: &HashSet<i64>,
    ) -> Result<()> {
        let mut stmt = conn
            .prepare(
                "SELECT l.tenant_seq, l.mem_rowid, m.content, m.embedding FROM \
                 (SELECT tenant_seq, mem_rowid, max(seq) AS seq FROM index_log WHERE seq > ? \
                  GROUP BY tenant_seq, mem_rowid) l \
                 LEFT JOIN memories m ON m.rowid = l.mem_rowid ORDER BY l.seq",
            )
            .map_err(sql_err)?;
        let changes = stmt
            .query_map([watermark(conn)?], change_from_row)
            .map_err(sql_err)?;
        let replayed = self.apply_all(changes, |seq| {
            (
                !rebuilt_vectors.contains(&seq),
                !rebuilt_text.contains(&seq),
            )
        })?;
        if replayed > 0 {
            tracing::info!(replayed, "indexes brought up to date from the log");
        }
        Ok(())
    }

    /// Streams changes into the indexes `which(tenant)` selects, in batches
    /// of one tenant; returns how many were applied.
    fn apply_all(
        &self,
        changes: impl Iterator<Item = rusqlite::Result<Change>>,
        which: impl Fn(i64) -> (bool, bool),
    ) -> Result<usize> {
        let mut batch: Vec<Change> = Vec::with_capacity(APPLY_BATCH);
        let mut applied = 0;
        let flush = |batch: &mut Vec<Change>| -> Result<()> {
            if let Some(first) = batch.first() {
                let (vectors, text) = which(first.seq);
                self.apply(batch, vectors, text)?;
            }
            batch.clear();
            Ok(())
        };
        for change in changes {
            let change = change.map_err(sql_err)?;
            if batch.len() == APPLY_BATCH || batch.first().is_some_and(|f| f.seq != change.seq) {
                flush(&mut batch)?;
            }
            batch.push(change);
            applied += 1;
        }
        flush(&mut batch)?;
        Ok(applied)
    }

    /// Applies changes of one tenant to the chosen indexes.
    fn apply(&self, changes: &[Change], vectors: bool, text: bool) -> Result<()> {
        let Some(seq) = changes.first().map(|c| c.seq) else {
            return Ok(());
        };
        let live: Vec<(i64, &str, &[f32])> = changes
            .iter()
            .filter_map(|c| {
                c.row
                    .as_ref()
                    .map(|(t, v)| (c.rowid, t.as_str(), v.as_slice()))
            })
            .collect();
        for c in changes.iter().filter(|c| c.row.is_none()) {
            self.remove(seq, c.rowid, vectors, text)?;
        }
        self.index_rows(seq, &live, vectors, text)
    }

    /// Indexes rows just committed for one tenant: `(rowid, content, vector)`.
    pub fn upsert(&self, seq: i64, rows: &[(i64, &str, &[f32])]) -> Result<()> {
        self.index_rows(seq, rows, true, true)
    }

    fn index_rows(
        &self,
        seq: i64,
        rows: &[(i64, &str, &[f32])],
        vectors: bool,
        text: bool,
    ) -> Result<()> {
        if vectors {
            let rows: Vec<(i64, &[f32])> = rows.iter().map(|(r, _, v)| (*r, *v)).collect();
            self.vectors.upsert(seq, &rows)?;
        }
        if text {
            let rows: Vec<(i64, &str)> = rows.iter().map(|(r, t, _)| (*r, *t)).collect();
            self.text.upsert(seq, &rows)?;
        }
        Ok(())
    }

    /// Forgets a row just deleted.
    pub fn delete(&self, seq: i64, rowid: i64) -> Result<()> {
        self.remove(seq, rowid, true, true)
    }

    fn remove(&self, seq: i64, rowid: i64, vectors: bool, text: bool) -> Result<()> {
        if vectors {
            self.vectors.remove(seq, rowid)?;
        }
        if text {
            self.text.remove(seq, rowid)?;
        }
        Ok(())
    }

    pub fn drop_tenant(&self, seq: i64) {
        self.vectors.drop_tenant(seq);
        self.text.drop_tenant(seq);
    }

    /// Saves the indexes changed since the last save and moves the
    /// watermark. The caller holds the writer lock, so no change is applied
    /// while the files and the watermark are being written.
    pub fn save(&self, conn: &Connection) -> Result<()> {
        let head: i64 = conn
            .query_row("SELECT coalesce(max(seq), 0) FROM index_log", [], |r| {
                r.get(0)
            })
            .map_err(sql_err)?;
        self.vectors.save()?;
        self.text.save()?;
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

fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Change> {
    let content: Option<String> = r.get(2)?;
    let blob: Option<Vec<u8>> = r.get(3)?;
    Ok(Change {
        seq: r.get(0)?,
        rowid: r.get(1)?,
        row: content.zip(blob).map(|(c, b)| (c, vector_from_blob(&b))),
    })
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
