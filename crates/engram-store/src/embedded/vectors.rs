//! Per-tenant HNSW indexes (usearch) over the embeddings kept in SQLite.
//!
//! An index is a cache of the `embedding` column, saved to
//! `DATA_DIR/vectors/<tenant seq>.usearch` from time to time and brought up
//! to date from the log after a crash (see [`super::indexes`]).

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Condvar, Mutex};

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use engram_core::fusion::{cosine, normalize};
use engram_core::{Error, Result};

use super::per_tenant::PerTenant;

/// Graph degree and build/search effort: usearch's recommended defaults for
/// sentence embeddings, with more search effort, which recall at a million
/// vectors needs (docs/BENCHMARKS.md, *Speed at scale*).
const CONNECTIVITY: usize = 16;
const EXPANSION_ADD: usize = 128;
const EXPANSION_SEARCH: usize = 384;

/// Searches one graph serves at once. usearch gives each concurrent
/// search one of the thread contexts reserved with the capacity and fails a
/// search that finds none free, so searches beyond this many wait for a
/// turn (see [`Turns`]) and every graph reserves at least this many.
const CONCURRENT_SEARCHES: usize = 4;

pub struct VectorIndexes {
    dimension: usize,
    tenants: PerTenant<Index>,
    turns: Turns,
}

/// A counting semaphore over [`CONCURRENT_SEARCHES`] turns.
struct Turns {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Turn<'a>(&'a Turns);

impl Turns {
    fn take(&self) -> Turn<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Turn(self)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

fn index_err(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("vector index: {e}"))
}

fn new_index(dimension: usize) -> Result<Index> {
    let options = IndexOptions {
        dimensions: dimension,
        // Half precision halves memory with no measurable recall loss on
        // unit-length sentence embeddings, and searches take their cosines
        // from these vectors (no row read): the error, ~1e-3, is far below
        // the differences that decide a ranking.
        // Vectors go in at unit length (see `unit`), where the inner product
        // is the cosine at a third of the arithmetic: graph insertion is
        // mostly distance computations (docs/BENCHMARKS.md).
        metric: MetricKind::IP,
        quantization: ScalarKind::F16,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
        expansion_search: EXPANSION_SEARCH,
        multi: false,
    };
    Index::new(&options).map_err(index_err)
}

/// `v` at unit length, as the inner-product graph needs. The engine
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

/// Threads that insert one batch into a graph together.
fn insert_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Thread contexts a graph reserves: enough for an insert batch and for
/// the searches allowed at once.
fn contexts() -> usize {
    insert_threads().max(CONCURRENT_SEARCHES)
}

impl VectorIndexes {
    pub fn new(dir: &Path, dimension: usize) -> Result<VectorIndexes> {
        Ok(VectorIndexes {
            dimension,
            tenants: PerTenant::new(dir, "usearch", Box::new(move || new_index(dimension)))?,
            turns: Turns {
                free: Mutex::new(CONCURRENT_SEARCHES),
                freed: Condvar::new(),
            },
        })
    }

    /// Loads the tenant's saved index; false when there is none to load.
    pub fn load(&self, seq: i64) -> Result<bool> {
        let path = self.tenants.path(seq);
        if !path.exists() {
            return Ok(false);
        }
        let index = new_index(self.dimension)?;
        index
            .load(&path.to_string_lossy())
            .map_err(|e| index_err(format!("{}: {e}", path.display())))?;
        // Files saved before the graph moved to inner product hold the
        // cosine metric; on the unit vectors stored, both give the same
        // order and the same scores, so switch them to the cheaper one.
        if index.metric_kind() != MetricKind::IP {
            index
                .change_metric_kind(MetricKind::IP)
                .map_err(index_err)?;
        }
        index
            .reserve_capacity_and_threads(index.capacity().max(index.size()), contexts())
            .map_err(index_err)?;
        if index.dimensions() != self.dimension {
            return Err(index_err(format!(
                "{} holds {}-dimensional vectors, the store {}",
                path.display(),
                index.dimensions(),
                self.dimension
            )));
        }
        self.tenants.insert(seq, index);
        Ok(true)
    }

    /// Inserts or replaces vectors, several threads at a time: graph
    /// insertion is the costliest part of a write.
    pub fn upsert(&self, seq: i64, rows: &[(i64, &[f32])]) -> Result<()> {
        self.tenants.change(seq, |index| {
            let index = &*index;
            let threads = insert_threads();
            let needed = index.size() + rows.len();
            if needed > index.capacity() {
                index
                    .reserve_capacity_and_threads(
                        (index.capacity() * 2).max(needed).max(1024),
                        contexts(),
                    )
                    .map_err(index_err)?;
            }
            for (rowid, _) in rows {
                let key = *rowid as u64;
                if index.contains(key) {
                    index.remove(key).map_err(index_err)?;
                }
            }
            let chunk = rows.len().div_ceil(threads).max(1);
            std::thread::scope(|s| {
                let workers: Vec<_> = rows
                    .chunks(chunk)
                    .map(|part| {
                        s.spawn(move || -> Result<()> {
                            for (rowid, v) in part {
                                index.add(*rowid as u64, &unit(v)).map_err(index_err)?;
                            }
                            Ok(())
                        })
                    })
                    .collect();
                workers.into_iter().try_for_each(|w| {
                    w.join()
                        .map_err(|_| index_err("an insert thread panicked"))?
                })
            })?;
            Ok(true)
        })
    }

    pub fn remove(&self, seq: i64, rowid: i64) -> Result<()> {
        self.tenants.change(seq, |index| {
            let key = rowid as u64;
            if !index.contains(key) {
                return Ok(false);
            }
            index.remove(key).map_err(index_err)?;
            Ok(true)
        })
    }

    pub fn drop_tenant(&self, seq: i64) {
        self.tenants.drop_tenant(seq);
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
        let _turn = self.turns.take();
        let query = unit(query);
        self.tenants.read(seq, |index| {
            if index.size() == 0 {
                return Ok(Vec::new());
            }
            let matches = match allowed {
                Some(set) => index
                    .filtered_search(&query, limit, |k| set.contains(&k))
                    .map_err(index_err)?,
                None => index.search(&query, limit).map_err(index_err)?,
            };
            Ok(matches
                .keys
                .iter()
                .zip(&matches.distances)
                .map(|(k, d)| (*k as i64, 1.0 - d))
                .collect())
        })?
    }

    /// Exact cosine ranking of the given rows, from the vectors held in the
    /// index (memory-resident, unlike the rows' copies on disk).
    pub fn exact(
        &self,
        seq: i64,
        query: &[f32],
        rows: &[i64],
        limit: usize,
    ) -> Result<Vec<(i64, f32)>> {
        let mut scored: Vec<(i64, f32)> = rows
            .iter()
            .zip(self.similarities(seq, query, rows)?)
            .filter_map(|(r, s)| Some((*r, s?)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(limit);
        Ok(scored)
    }

    /// Each row's cosine similarity to `query`, from the vectors held in the
    /// index; `None` for a row the index does not hold.
    pub fn similarities(&self, seq: i64, query: &[f32], rows: &[i64]) -> Result<Vec<Option<f32>>> {
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
        mut f: impl FnMut(&[f32]) -> T,
    ) -> Result<Vec<Option<T>>> {
        let _turn = self.turns.take();
        let mut v = vec![0f32; self.dimension];
        self.tenants.read(seq, |index| {
            rows.iter()
                .map(|&rowid| {
                    let found = index.get(rowid as u64, &mut v).map_err(index_err)? > 0;
                    Ok(found.then(|| f(&v)))
                })
                .collect()
        })?
    }

    /// Saves the indexes changed since the last save.
    pub fn save(&self) -> Result<()> {
        self.tenants.save_dirty(|index, tmp| {
            index
                .save(&tmp.to_string_lossy())
                .map_err(|e| index_err(format!("saving {}: {e}", tmp.display())))
        })
    }
}
