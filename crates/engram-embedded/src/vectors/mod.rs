//! Per-tenant vector indexes over the embeddings kept in SQLite.
//!
//! An index is a cache of the `embedding` column, saved to
//! `DATA_DIR/vectors/<tenant seq>.ivf` from time to time and brought up to
//! date from the log after a crash (see [`super::indexes`]).

mod codec;
mod partitions;

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;

use engram_core::cancel::Cancel;
use engram_core::vector::{cosine, normalize};
use engram_core::{Error, Result};

use super::per_tenant::PerTenant;
pub use partitions::Partitions;
use partitions::{SCAN_MIN, widen};

/// Filtered searches over at most this many memories are answered exactly
/// from the vectors held in the index: cheap at this size, and immune to
/// the recall a partition probe loses under a very selective filter.
const EXACT_SEARCH_MAX: usize = 2048;

pub struct VectorIndexes {
    dimension: usize,
    tenants: PerTenant<Partitions>,
}

/// `v` at unit length, as inner-product search needs. The engine
/// normalises every vector it stores or searches with, so this only checks
/// and copies nothing for those; it guards other callers of the store.
fn unit(v: &[f32]) -> Cow<'_, [f32]> {
    let norm2: f32 = v.iter().map(|x| x * x).sum();
    if (norm2 - 1.0).abs() <= 1e-4 {
        return Cow::Borrowed(v);
    }
    let mut v = v.to_vec();
    normalize(&mut v);
    Cow::Owned(v)
}

/// Threads that place one batch of vectors together.
fn insert_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Whether comparing the query with each allowed row costs less than
/// probing the partitions until enough allowed rows were met: a probe
/// meets `allowed / size` of them per vector it scans.
fn exact_is_cheaper(allowed: usize, size: usize) -> bool {
    allowed <= EXACT_SEARCH_MAX || allowed.saturating_mul(allowed) <= size.saturating_mul(SCAN_MIN)
}

impl VectorIndexes {
    pub fn new(dir: &Path, dimension: usize) -> Result<VectorIndexes> {
        Ok(VectorIndexes {
            dimension,
            tenants: PerTenant::new(
                dir,
                "ivf",
                &codec::FORMAT,
                Box::new(move || Ok(Partitions::new(dimension))),
            )?,
        })
    }

    /// Loads the tenant's saved index; false when there is none to load.
    /// A graph file from before the partitioned index is deleted: the
    /// index is rebuilt from the database instead.
    pub fn load(&self, seq: i64, tenant: &str) -> Result<bool> {
        let _ = std::fs::remove_file(self.tenants.path(seq).with_extension("usearch"));
        let dimension = self.dimension;
        self.tenants.load_stream(seq, tenant, |input, len| {
            codec::decode(input, len, dimension).map_err(|e| format!("vector index: {e}"))
        })
    }

    /// Refuses a vector the index cannot hold, checked before its row is
    /// committed: one of another length would shift every vector after it
    /// in its list. The engine checks the vectors callers supply; this
    /// catches any other source.
    pub fn fits(&self, v: &[f32]) -> Result<()> {
        if v.len() != self.dimension || v.iter().any(|x| !x.is_finite()) {
            return Err(Error::internal(format!(
                "a {}-dimensional vector{} for an index of {} dimensions; \
                 check the embedding model or service",
                v.len(),
                if v.iter().any(|x| !x.is_finite()) {
                    " with non-finite values"
                } else {
                    ""
                },
                self.dimension
            )));
        }
        Ok(())
    }

    /// Inserts or replaces vectors.
    pub fn upsert(&self, seq: i64, rows: &[(i64, &[f32])]) -> Result<()> {
        let rows: Vec<(i64, Cow<'_, [f32]>)> = rows.iter().map(|(r, v)| (*r, unit(v))).collect();
        let rows: Vec<(i64, &[f32])> = rows.iter().map(|(r, v)| (*r, v.as_ref())).collect();
        self.tenants.change(seq, |index| {
            index.insert(&rows, insert_threads());
            Ok(!rows.is_empty())
        })?;
        // Rebalancing (hundreds of milliseconds at a million vectors) is
        // planned under the read lock, so the tenant's searches go on; only
        // applying the moves takes the write lock. Writes to the index are
        // serialised by the store's writer, so no change comes in between.
        while self.tenants.read(seq, Partitions::rebalance_due)? {
            let moves = self
                .tenants
                .read(seq, |index| index.plan_moves(insert_threads()))?;
            self.tenants.change(seq, |index| {
                index.apply_moves(moves);
                Ok(true)
            })?;
        }
        Ok(())
    }

    pub fn remove(&self, seq: i64, rowid: i64) -> Result<()> {
        self.tenants.change(seq, |index| Ok(index.remove(rowid)))
    }

    /// The tenants' indexes, for what all kinds of index share: adding a
    /// tenant, checking whose an index is, removing orphaned files.
    pub fn tenants(&self) -> &PerTenant<Partitions> {
        &self.tenants
    }

    pub fn drop_tenant(&self, seq: i64) {
        self.tenants.drop_tenant(seq);
    }

    /// The nearest rows to `query` as `(rowid, cosine similarity)`, best
    /// first, among `allowed` when given.
    pub fn search(
        &self,
        seq: i64,
        query: &[f32],
        limit: usize,
        allowed: Option<&[i64]>,
        cancel: &Cancel,
    ) -> Result<Vec<(i64, f32)>> {
        self.fits(query)?;
        let query = unit(query);
        self.tenants.read(seq, |index| match allowed {
            None => index.search(&query, limit, None, cancel),
            Some(rows) if exact_is_cheaper(rows.len(), index.held()) => {
                index.exact(&query, rows, limit, cancel)
            }
            Some(rows) => {
                let set: HashSet<i64> = rows.iter().copied().collect();
                index.search(&query, limit, Some(&set), cancel)
            }
        })?
    }

    /// Each row's cosine similarity to `query`, from the vectors held in the
    /// index; `None` for a row the index does not hold.
    pub fn similarities(&self, seq: i64, query: &[f32], rows: &[i64]) -> Result<Vec<Option<f32>>> {
        self.fits(query)?;
        self.each_vector(seq, rows, |v| cosine(query, v))
    }

    /// The vectors held for `rows`, at the index's precision.
    pub fn vectors(&self, seq: i64, rows: &[i64]) -> Result<Vec<Option<Vec<f32>>>> {
        self.each_vector(seq, rows, <[f32]>::to_vec)
    }

    fn each_vector<T>(
        &self,
        seq: i64,
        rows: &[i64],
        f: impl Fn(&[f32]) -> T,
    ) -> Result<Vec<Option<T>>> {
        let mut wide = vec![0f32; self.dimension];
        self.tenants.read(seq, |index| {
            rows.iter()
                .map(|&rowid| {
                    index.get(rowid).map(|v| {
                        widen(v, &mut wide);
                        f(&wide)
                    })
                })
                .collect()
        })
    }

    /// Saves the indexes changed since the last save.
    pub fn save(&self) -> Result<()> {
        self.tenants.save_encoded(codec::encode)
    }
}
