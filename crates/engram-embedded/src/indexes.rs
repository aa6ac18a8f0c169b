//! The indexes derived from the rows: per-tenant vector indexes, BM25 text
//! indexes and catalogs, kept in memory and saved to files.
//!
//! SQLite is the source of truth. Every change to a memory is also appended
//! to `index_log` in the same transaction as the row, so after a crash the
//! saved files are brought up to date by replaying the log past the last
//! save: no acknowledged write is lost and no full rebuild is needed. A
//! missing file is rebuilt from the table, and so is a file of an older
//! layout or of another tenant; files of no tenant are removed on open.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use engram_core::{Error, Memory, Result};

use super::catalog::Catalogs;
use super::per_tenant::seq_of;
use super::rows::{COLUMNS, EMBEDDING, record_from_row, sql_err};
use super::text::TextIndexes;
use super::threads::joined;
use super::vectors::VectorIndexes;
use engram_store::Record;

/// The directories of the data directory the index files are in.
pub const DIRS: [&str; 3] = ["vectors", "text", "catalog"];

/// The highest tenant seq an index file in `dir` is named by, 0 for none.
pub fn highest_seq_on_disk(dir: &Path) -> Result<i64> {
    let mut highest = 0;
    for d in DIRS.map(|d| dir.join(d)) {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::internal(format!("listing {}: {e}", d.display()))),
        };
        for entry in entries {
            let entry =
                entry.map_err(|e| Error::internal(format!("listing {}: {e}", d.display())))?;
            if let Some(seq) = seq_of(&entry.file_name().to_string_lossy()) {
                highest = highest.max(seq);
            }
        }
    }
    Ok(highest)
}

/// Rows applied to the indexes per step while rebuilding or replaying.
const APPLY_BATCH: usize = 1024;

/// Batches of at least this many rows update the indexes in parallel;
/// below it a thread costs more than it saves.
const PARALLEL_BATCH: usize = 64;

pub struct Indexes {
    pub vectors: VectorIndexes,
    pub text: TextIndexes,
    pub catalog: Catalogs,
}

/// Which of a tenant's indexes a change goes to.
#[derive(Clone, Copy)]
struct Which {
    vectors: bool,
    text: bool,
    catalog: bool,
}

const ALL: Which = Which {
    vectors: true,
    text: true,
    catalog: true,
};

/// One memory's row, or `None` for a deleted memory.
struct Change {
    seq: i64,
    rowid: i64,
    row: Option<Record>,
}

/// Tenants whose index of each kind was rebuilt from the table.
#[derive(Default)]
struct Rebuilt {
    vectors: HashSet<i64>,
    text: HashSet<i64>,
    catalog: HashSet<i64>,
}

impl Indexes {
    /// Removes the files of no tenant, loads every tenant's saved indexes,
    /// rebuilds the others from the table, and replays the log past the
    /// last save.
    pub fn open(dir: &Path, dimension: usize, conn: &Connection) -> Result<Indexes> {
        let [vectors, text, catalog] = DIRS.map(|d| dir.join(d));
        let idx = Indexes {
            vectors: VectorIndexes::new(&vectors, dimension)?,
            text: TextIndexes::new(&text)?,
            catalog: Catalogs::new(&catalog)?,
        };
        let tenants: Vec<(i64, String)> = {
            let mut stmt = conn
                .prepare("SELECT seq, id FROM tenants")
                .map_err(sql_err)?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)?
        };
        let live: HashSet<i64> = tenants.iter().map(|(seq, _)| *seq).collect();
        idx.vectors.tenants().remove_orphans(&live)?;
        idx.text.tenants().remove_orphans(&live)?;
        idx.catalog.tenants().remove_orphans(&live)?;
        // Indexes rebuilt from the table already hold every logged change.
        let mut rebuilt = Rebuilt::default();
        for (seq, id) in &tenants {
            let seq = *seq;
            // The three files are independent; loading them side by side
            // takes reopening from their sum to about the largest.
            let (vectors, text, catalog) = std::thread::scope(|s| {
                let vectors = s.spawn(|| idx.vectors.load(seq, id));
                let text = s.spawn(|| idx.text.load(seq, id));
                let catalog = idx.catalog.load(seq, id);
                (joined(vectors), joined(text), catalog)
            });
            let need = Which {
                vectors: !vectors?,
                text: !text?,
                catalog: !catalog?,
            };
            idx.add(seq, id, need)?;
            for (needed, set) in [
                (need.vectors, &mut rebuilt.vectors),
                (need.text, &mut rebuilt.text),
                (need.catalog, &mut rebuilt.catalog),
            ] {
                if needed {
                    set.insert(seq);
                }
            }
            if need.vectors || need.text || need.catalog {
                idx.rebuild(conn, seq, need)?;
            }
        }
        idx.replay(conn, &rebuilt)?;
        Ok(idx)
    }

    /// Gives a new tenant its empty indexes.
    pub fn add_tenant(&self, seq: i64, tenant_id: &str) -> Result<()> {
        self.add(seq, tenant_id, ALL)
    }

    fn add(&self, seq: i64, tenant_id: &str, which: Which) -> Result<()> {
        if which.vectors {
            self.vectors.tenants().add(seq, tenant_id)?;
        }
        if which.text {
            self.text.tenants().add(seq, tenant_id)?;
        }
        if which.catalog {
            self.catalog.tenants().add(seq, tenant_id)?;
        }
        Ok(())
    }

    /// Checks, before a search answers from the indexes at `seq`, that
    /// they are `tenant_id`'s: each knows its tenant from its file's header
    /// or from the tenant it was built for. Seqs are never reused and files
    /// are checked on load, so this only fails on a bug; it costs three
    /// lookups, and it fails the search rather than answer it with
    /// another tenant's memories.
    pub fn confirm(&self, seq: i64, tenant_id: &str) -> Result<()> {
        let owners = [
            self.vectors.tenants().tenant(seq),
            self.text.tenants().tenant(seq),
            self.catalog.tenants().tenant(seq),
        ];
        if owners.iter().flatten().all(|t| **t == *tenant_id) {
            return Ok(());
        }
        Err(Error::inconsistent(
            format!("the indexes of tenant seq {seq}"),
            "they belong to another tenant",
        ))
    }

    fn rebuild(&self, conn: &Connection, seq: i64, which: Which) -> Result<()> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS}, m.embedding, t.seq, m.rowid FROM memories m \
                 JOIN tenants t ON t.id = m.tenant_id WHERE t.seq = ?"
            ))
            .map_err(sql_err)?;
        let changes = stmt.query_map([seq], change_from_row).map_err(sql_err)?;
        self.apply_all(changes, |_| which)?;
        Ok(())
    }

    /// Applies every logged change after the saved watermark. Idempotent:
    /// each logged memory is re-read and either (re)indexed or removed. A
    /// rowid freed by a delete can be reused by another tenant's memory,
    /// so the row is read only if it is still the logging tenant's; a
    /// change of a tenant that no longer exists is skipped.
    /// Indexes just rebuilt are skipped: they already hold every logged
    /// change, and re-applying the log would only redo the work.
    fn replay(&self, conn: &Connection, rebuilt: &Rebuilt) -> Result<()> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS}, m.embedding, l.tenant_seq, l.mem_rowid FROM \
                 (SELECT tenant_seq, mem_rowid, max(seq) AS seq FROM index_log WHERE seq > ? \
                  AND tenant_seq IN (SELECT seq FROM tenants) GROUP BY tenant_seq, mem_rowid) l \
                 LEFT JOIN memories m ON m.rowid = l.mem_rowid \
                 AND m.tenant_id = (SELECT id FROM tenants WHERE seq = l.tenant_seq) \
                 ORDER BY l.seq"
            ))
            .map_err(sql_err)?;
        let changes = stmt
            .query_map([watermark(conn)?], change_from_row)
            .map_err(sql_err)?;
        let replayed = self.apply_all(changes, |seq| Which {
            vectors: !rebuilt.vectors.contains(&seq),
            text: !rebuilt.text.contains(&seq),
            catalog: !rebuilt.catalog.contains(&seq),
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
        which: impl Fn(i64) -> Which,
    ) -> Result<usize> {
        let mut batch: Vec<Change> = Vec::with_capacity(APPLY_BATCH);
        let mut applied = 0;
        let flush = |batch: &mut Vec<Change>| -> Result<()> {
            if let Some(first) = batch.first() {
                self.apply(batch, which(first.seq))?;
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
    fn apply(&self, changes: &[Change], which: Which) -> Result<()> {
        let Some(seq) = changes.first().map(|c| c.seq) else {
            return Ok(());
        };
        let live: Vec<(i64, &Record)> = changes
            .iter()
            .filter_map(|c| c.row.as_ref().map(|r| (c.rowid, r)))
            .collect();
        for c in changes.iter().filter(|c| c.row.is_none()) {
            self.remove(seq, c.rowid, which)?;
        }
        self.index_rows(seq, &live, which)
    }

    /// Indexes rows just committed for one tenant.
    pub fn upsert(&self, seq: i64, rows: &[(i64, &Record)]) -> Result<()> {
        self.index_rows(seq, rows, ALL)
    }

    /// Catalogues a memory whose content and vector did not change.
    pub fn recatalog(&self, seq: i64, rowid: i64, m: &Memory) -> Result<()> {
        self.catalog.upsert(seq, &[(rowid, m)])
    }

    /// Updates the chosen indexes, each on its own thread for a batch: they
    /// are independent, and a batch is mostly their work.
    fn index_rows(&self, seq: i64, rows: &[(i64, &Record)], which: Which) -> Result<()> {
        let vectors = || -> Result<()> {
            if which.vectors {
                let rows: Vec<(i64, &[f32])> = rows
                    .iter()
                    .map(|(r, rec)| (*r, rec.embedding.as_slice()))
                    .collect();
                self.vectors.upsert(seq, &rows)?;
            }
            Ok(())
        };
        let text = || -> Result<()> {
            if which.text {
                let rows: Vec<(i64, &str)> = rows
                    .iter()
                    .map(|(r, rec)| (*r, rec.memory.content.as_str()))
                    .collect();
                self.text.upsert(seq, &rows)?;
            }
            Ok(())
        };
        let catalog = || -> Result<()> {
            if which.catalog {
                let rows: Vec<(i64, &Memory)> =
                    rows.iter().map(|(r, rec)| (*r, &rec.memory)).collect();
                self.catalog.upsert(seq, &rows)?;
            }
            Ok(())
        };
        if rows.len() < PARALLEL_BATCH {
            return vectors().and_then(|()| text()).and_then(|()| catalog());
        }
        std::thread::scope(|s| {
            let words = s.spawn(|| text().and_then(|()| catalog()));
            let vectors = vectors();
            vectors.and(joined(words))
        })
    }

    /// Forgets a row just deleted.
    pub fn delete(&self, seq: i64, rowid: i64) -> Result<()> {
        self.remove(seq, rowid, ALL)
    }

    fn remove(&self, seq: i64, rowid: i64, which: Which) -> Result<()> {
        if which.vectors {
            self.vectors.remove(seq, rowid)?;
        }
        if which.text {
            self.text.remove(seq, rowid)?;
        }
        if which.catalog {
            self.catalog.remove(seq, rowid)?;
        }
        Ok(())
    }

    /// Forgets rows just erased, leaving nothing of them in the in-memory
    /// text index or catalog (saved next by [`Indexes::save`]).
    pub fn purge(&self, seq: i64, rowids: &[i64]) -> Result<()> {
        for rowid in rowids {
            self.vectors.remove(seq, *rowid)?;
        }
        self.text.purge(seq, rowids)?;
        self.catalog.purge(seq, rowids)
    }

    pub fn drop_tenant(&self, seq: i64) {
        self.vectors.drop_tenant(seq);
        self.text.drop_tenant(seq);
        self.catalog.drop_tenant(seq);
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
        self.catalog.save()?;
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

/// A change from `{COLUMNS}, m.embedding, tenant seq, rowid`; the row is
/// `None` when the memory no longer exists (the columns are NULL).
fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Change> {
    let exists = r.get::<_, Option<String>>(0)?.is_some();
    Ok(Change {
        seq: r.get(EMBEDDING + 1)?,
        rowid: r.get(EMBEDDING + 2)?,
        row: if exists {
            Some(record_from_row(r)?)
        } else {
            None
        },
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
    v.map_or(Ok(0), |s| {
        s.parse()
            .map_err(|e| Error::inconsistent("meta row vectors_saved_seq", format!("{s:?}: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_core::Code;

    #[test]
    fn a_search_refuses_the_indexes_of_another_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn, dir.path()).unwrap();
        let idx = Indexes::open(dir.path(), 4, &conn).unwrap();
        idx.add_tenant(1, "a").unwrap();
        assert!(idx.confirm(1, "a").is_ok());
        assert!(
            idx.confirm(2, "b").is_ok(),
            "no index yet: nothing to serve"
        );
        let err = idx.confirm(1, "b").unwrap_err();
        assert_eq!(err.code(), Code::InconsistentStorage, "{err}");
    }
}
