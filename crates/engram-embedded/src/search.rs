//! Searches: BM25 and vector retrieval under a filter, and the one-pass
//! ranked retrieve served from memory.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};

use engram_core::cancel::Cancel;
use engram_core::ranking::{Features, Ranking};
use engram_core::{Error, Filter, Result};
use engram_store::{Hit, Ranked, Record, Retrieval, Retrieved};

use crate::indexes::Indexes;
use crate::memories::matching_rows;
use crate::rows::{sql_err, time};
use crate::text::Within;
use crate::{Inner, tenant_seq};

impl Inner {
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
            indexes.confirm(seq, tenant_id)?;
            let allowed = allowed_rows(c, tenant_id, filter)?;
            search(c, indexes, seq, allowed.as_deref()).map(Some)
        })
    }

    /// BM25 alone, filtered in SQL: [`Store::lexical_search`](engram_store::Store::lexical_search).
    pub(crate) fn lexical_search(&self, q: &Query) -> Result<Vec<Hit>> {
        let found = self.search_tenant(&q.tenant_id, &q.filter, |c, indexes, seq, allowed| {
            let scored = lexical_rows(indexes, seq, &q.terms, allowed, q.limit, &q.cancel)?;
            hits(c, &q.tenant_id, scored)
        })?;
        Ok(found.unwrap_or_default())
    }

    /// The vector index alone, filtered in SQL: [`Store::vector_search`](engram_store::Store::vector_search).
    pub(crate) fn vector_search(&self, q: &Query) -> Result<Vec<Hit>> {
        let Some(vector) = q.vector.as_deref() else {
            return Ok(Vec::new());
        };
        let found = self.search_tenant(&q.tenant_id, &q.filter, |c, indexes, seq, allowed| {
            let scored = indexes
                .vectors
                .search(seq, vector, q.limit, allowed, &q.cancel)?;
            hits(c, &q.tenant_id, scored)
        })?;
        Ok(found.unwrap_or_default())
    }
}

/// A [`Retrieval`] owned, to move onto a blocking thread.
pub(crate) struct Query {
    tenant_id: String,
    terms: Vec<String>,
    vector: Option<Vec<f32>>,
    filter: Filter,
    limit: usize,
    ranking: Ranking,
    keep: usize,
    cancel: Cancel,
    pinned: Vec<String>,
}

impl Query {
    pub(crate) fn new(tenant_id: &str, q: &Retrieval<'_>) -> Query {
        Query {
            tenant_id: tenant_id.to_string(),
            terms: q.terms.to_vec(),
            vector: q.vector.map(<[f32]>::to_vec),
            filter: q.filter.clone(),
            limit: q.limit,
            ranking: *q.ranking,
            keep: q.keep,
            cancel: q.cancel.clone(),
            pinned: q.pinned.to_vec(),
        }
    }
}

impl Inner {
    /// Cancelled, it stops in whichever index it is searching (and
    /// before it starts, when it waited for a thread past its caller).
    pub(crate) fn retrieve(&self, q: &Query) -> Result<Retrieved> {
        q.cancel.check()?;
        let indexes = self.indexes()?;
        let Some(seq) = self.read(|c| tenant_seq(c, &q.tenant_id))? else {
            return Ok(Retrieved::default());
        };
        // The results are built from the indexes alone, so they must be
        // the tenant's own.
        indexes.confirm(seq, &q.tenant_id)?;
        let allowed = if q.filter.is_empty() {
            None
        } else {
            Some(indexes.catalog.allowed(seq, &q.filter, &q.cancel)?)
        };
        let allowed = allowed.as_deref();
        let lexical = || {
            if q.terms.is_empty() {
                Ok(Vec::new())
            } else {
                lexical_rows(indexes, seq, &q.terms, allowed, q.limit, &q.cancel)
            }
        };
        let dense = || match q.vector.as_deref() {
            Some(v) => indexes.vectors.search(seq, v, q.limit, allowed, &q.cancel),
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
                    .unwrap_or_else(|_| Err(Error::internal("vector search panicked")));
                Ok::<_, Error>((lexical?, dense?))
            })?
        };
        q.cancel.check()?;
        let (rows, features) = candidates(indexes, seq, q, &lexical, &dense)?;
        q.cancel.check()?;
        let (best, more) = q.ranking.best(&features, q.keep);
        let rows: Vec<i64> = best.iter().map(|(i, _)| rows[*i]).collect();
        let memories = indexes.catalog.memories(seq, &rows)?;
        let vectors = indexes.vectors.vectors(seq, &rows)?;
        // A row deleted since it was found is left out.
        let ranked = best
            .into_iter()
            .zip(memories.into_iter().zip(vectors))
            .filter_map(|((i, score), (memory, embedding))| {
                let record = Record {
                    memory: memory?,
                    embedding: embedding?,
                };
                Some(Ranked::new(record, &features[i], score))
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
    q: &Query,
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
    let similarity = match q.vector.as_deref() {
        Some(v) => indexes.vectors.similarities(seq, v, &rows)?,
        None => vec![None; rows.len()],
    };
    let facts = indexes.catalog.ranking_facts(seq, &rows, &q.pinned)?;
    let at = |rowid, us| {
        time(us).map_err(|e| {
            Error::inconsistent(format!("catalog of tenant seq {seq}, row {rowid}"), e)
        })
    };
    let mut kept = Vec::with_capacity(rows.len());
    let mut features = Vec::with_capacity(rows.len());
    for ((rowid, dense), facts) in rows.into_iter().zip(similarity).zip(facts) {
        let Some((importance, occurred_at, pinned)) = facts else {
            continue;
        };
        kept.push(rowid);
        features.push(Features {
            dense,
            lexical: lexical.get(&rowid).copied(),
            importance,
            occurred_at: at(rowid, occurred_at)?,
            pinned,
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
    cancel: &Cancel,
) -> Result<Vec<(i64, f32)>> {
    let within = allowed.map_or(Within::All, Within::Rows);
    indexes.text.search(seq, terms, limit, within, cancel)
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
