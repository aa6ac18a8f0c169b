//! Where memories live.
//!
//! [`Store`] is the one seam between what engram does (the engine) and how
//! data is kept (SQLite on a laptop, PostgreSQL + pgvector behind replicas).
//! Every method takes the tenant explicitly and every backend must confine
//! the method to it: tenant isolation is a property of the store contract,
//! not something callers remember to add.
//!
//! Retrieval is split in two ranked primitives, lexical and vector, because
//! each backend has its own native index for each. How their candidates are
//! ranked is the engine's choice, passed down as a
//! [`Ranking`](engram_core::ranking::Ranking) and identical across backends;
//! [`Store::retrieve`] applies it where the candidates' fields are, so a
//! backend holding them in memory reads only the winners' rows.

pub mod backup;
pub mod conversations;
pub mod documents;
pub mod erasure;
pub mod facts;
pub mod graph;
#[cfg(feature = "testing")]
pub mod graph_conformance;
#[cfg(feature = "testing")]
pub mod graph_resolution_conformance;
pub mod jobs;
#[cfg(feature = "testing")]
pub mod jobs_conformance;
#[cfg(feature = "testing")]
pub mod lease_conformance;
pub mod maintenance;
pub mod metering;
#[cfg(feature = "testing")]
pub mod metering_conformance;
pub mod retention;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use engram_core::cancel::Cancel;
use engram_core::query::{Cursor, ScoreExplain};
use engram_core::ranking::{Features, Ranking};
use engram_core::tenant::{ApiKey, Tenant};
use engram_core::vector::cosine;
use engram_core::{Filter, Memory, Result};

/// A memory together with its embedding, as written and as exported.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub memory: Memory,
    pub embedding: Vec<f32>,
}

/// Ties a write to a client-chosen key so a retried request is answered
/// with the first result instead of writing twice.
#[derive(Debug, Clone, PartialEq)]
pub struct Idempotency {
    pub key: String,
    /// Hash of the request body: the same key with another body is a
    /// client bug and is refused.
    pub fingerprint: String,
}

/// What an earlier request with the same idempotency key produced.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotentResult {
    pub fingerprint: String,
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    Inserted,
    /// Nothing was written: another request already used this idempotency
    /// key (a concurrent retry); the caller reads and replays its result.
    KeyTaken,
}

/// One hit of a ranked primitive.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
}

/// One page of a listing: at most `limit` memories under `filter`, those
/// after the `after` cursor (from the start without one).
#[derive(Debug, Clone, Copy)]
pub struct Listing<'a> {
    pub filter: &'a Filter,
    pub limit: usize,
    pub after: Option<&'a Cursor>,
}

/// One search's request to the store: both retrievers under one filter,
/// their candidates ranked, and the records of the best.
pub struct Retrieval<'a> {
    /// Lexical retrieval's words; none skips it.
    pub terms: &'a [String],
    /// Vector retrieval's query vector (unit length); `None` skips it.
    pub vector: Option<&'a [f32]>,
    pub filter: &'a Filter,
    /// Hits wanted from each retriever.
    pub limit: usize,
    pub ranking: &'a Ranking,
    /// Records wanted: those of the best `keep` candidates. A store that
    /// ranks from memory reads only these rows.
    pub keep: usize,
    /// Checked by the store's blocking work and bounding its database
    /// statements: a search nobody waits for stops.
    pub cancel: &'a Cancel,
    /// Sessions whose memories get the pin's boost (pinned conversations).
    pub pinned: &'a [String],
}

/// A candidate's record and first-stage score.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub record: Record,
    pub score: f32,
    /// The signals `score` was computed from, kept for a search that asks
    /// to see them (three numbers: cheaper to carry than to recompute).
    pub explain: ScoreExplain,
}

impl Ranked {
    /// A candidate ranked `score` from `features`.
    pub fn new(record: Record, features: &Features, score: f32) -> Ranked {
        Ranked {
            record,
            score,
            explain: ScoreExplain {
                lexical: features.lexical,
                vector: features.dense,
                fused: score,
            },
        }
    }
}

/// The best candidates, best first, and whether candidates ranked below
/// them were left out.
#[derive(Debug, Default)]
pub struct Retrieved {
    pub ranked: Vec<Ranked>,
    pub more: bool,
}

impl Retrieval<'_> {
    /// Nothing to retrieve: no retriever to run, or no record wanted.
    pub fn asks_nothing(&self) -> bool {
        self.keep == 0 || (self.terms.is_empty() && self.vector.is_none())
    }
}

/// The distinct ids of dense then lexical hits: the order candidates are
/// ranked in, which breaks ties.
fn hit_ids(dense: &[Hit], lexical: &[Hit]) -> Vec<String> {
    let mut seen = HashSet::new();
    dense
        .iter()
        .chain(lexical)
        .filter(|h| seen.insert(h.id.as_str()))
        .map(|h| h.id.clone())
        .collect()
}

/// Whether a memory of `session` gets the pin's boost.
pub fn is_pinned(pinned: &[String], session: Option<&str>) -> bool {
    session.is_some_and(|s| pinned.iter().any(|p| p == s))
}

/// What a shared rate limiter decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// The backend keeps no state shared between processes (a single
    /// node): the caller limits in its own process.
    Local,
    Allowed,
    /// Refused; a token is available again after this many seconds.
    RetryAfter(u64),
}

#[async_trait]
pub trait Store:
    conversations::ConversationStore
    + documents::DocumentStore
    + erasure::ErasureStore
    + facts::FactStore
    + graph::GraphStore
    + jobs::JobStore
    + maintenance::LeaseStore
    + metering::MeteringStore
    + retention::RetentionStore
    + Send
    + Sync
{
    /// Backend name for logs and `/ready`.
    fn backend(&self) -> &'static str;

    /// Records the embedding space on first use and refuses a different one
    /// later, so vectors of two models never share an index.
    async fn bind_embedding_space(&self, model_id: &str, dimension: usize) -> Result<()>;

    /// The bound embedding space `(model id, dimension)`, if any; readable
    /// without loading any index (for backups).
    async fn embedding_space(&self) -> Result<Option<(String, usize)>>;

    /// Cheap end-to-end check that the store can serve requests.
    async fn ping(&self) -> Result<()>;

    /// Persists any in-memory index state; called periodically and on
    /// shutdown. Acknowledged writes never depend on it.
    async fn flush(&self) -> Result<()>;

    async fn create_tenant(&self, tenant: &Tenant) -> Result<()>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;
    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>>;
    /// Deletes the tenant with all its keys and memories.
    async fn delete_tenant(&self, id: &str) -> Result<bool>;

    async fn create_key(&self, key: &ApiKey) -> Result<()>;
    async fn list_keys(&self, tenant_id: &str) -> Result<Vec<ApiKey>>;
    async fn delete_key(&self, tenant_id: &str, key_id: &str) -> Result<bool>;
    async fn find_key(&self, hash: &str) -> Result<Option<ApiKey>>;

    /// Writes all records or none.
    async fn insert(
        &self,
        tenant_id: &str,
        records: Vec<Record>,
        idempotency: Option<Idempotency>,
    ) -> Result<InsertOutcome>;
    async fn idempotent_result(
        &self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<IdempotentResult>>;
    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<Memory>>;
    /// The records with these ids (those that exist), in no particular order.
    async fn get_records(&self, tenant_id: &str, ids: &[String]) -> Result<Vec<Record>>;
    /// Replaces a memory; `embedding` is `Some` when the content changed.
    async fn update(
        &self,
        tenant_id: &str,
        memory: &Memory,
        embedding: Option<Vec<f32>>,
    ) -> Result<bool>;
    async fn delete(&self, tenant_id: &str, id: &str) -> Result<bool>;
    /// One page of the memories `page.filter` passes, newest first by
    /// `occurred_at`, then id.
    async fn list(&self, tenant_id: &str, listing: &Listing<'_>) -> Result<Vec<Memory>>;
    /// Records in a stable order for export, resuming after `after` (an id).
    async fn export_page(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>>;
    async fn delete_where(&self, tenant_id: &str, filter: &Filter) -> Result<u64>;
    async fn count_memories(&self) -> Result<u64>;

    /// The best `q.limit` lexical matches for any of `q.terms` under
    /// `q.filter`, highest score first (none without terms); stopped by
    /// `q.cancel`. The ranking and `keep` are [`Store::retrieve`]'s.
    async fn lexical_search(&self, tenant_id: &str, q: &Retrieval<'_>) -> Result<Vec<Hit>>;
    /// The `q.limit` memories nearest `q.vector` by cosine similarity
    /// (score = similarity), best first (none without a vector). The
    /// filter is applied inside the search, so a selective filter still
    /// gets its true best matches.
    async fn vector_search(&self, tenant_id: &str, q: &Retrieval<'_>) -> Result<Vec<Hit>>;

    /// Both retrievers, their candidates ranked, and the records of the
    /// best: everything a search reads. The default is
    /// [`retrieve_separately`]; a backend overrides it to rank from memory
    /// and read only the rows that win.
    async fn retrieve(&self, tenant_id: &str, q: &Retrieval<'_>) -> Result<Retrieved> {
        retrieve_separately(self, tenant_id, q).await
    }

    /// Spends one token of `bucket`'s token bucket (`burst` tokens,
    /// refilled at `per_second`) in state shared by every process serving
    /// this store, so replicas enforce one limit together.
    async fn take_token(&self, _bucket: &str, _per_second: f64, _burst: f64) -> Result<Throttle> {
        Ok(Throttle::Local)
    }
}

/// [`Store::retrieve`] from the primitives: both retrievers side by side,
/// then every candidate's record, ranked by its stored fields. Also the
/// reference a backend's own `retrieve` must agree with.
pub async fn retrieve_separately<S: Store + ?Sized>(
    store: &S,
    tenant_id: &str,
    q: &Retrieval<'_>,
) -> Result<Retrieved> {
    if q.asks_nothing() {
        return Ok(Retrieved::default());
    }
    let (lexical, dense) = tokio::try_join!(
        store.lexical_search(tenant_id, q),
        store.vector_search(tenant_id, q)
    )?;
    q.cancel.check()?;
    let ids = hit_ids(&dense, &lexical);
    let mut records = store.get_records(tenant_id, &ids).await?;
    let order: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    records.sort_by_key(|r| {
        order
            .get(r.memory.id.as_str())
            .copied()
            .unwrap_or(usize::MAX)
    });
    let lexical: HashMap<&str, f32> = lexical.iter().map(|h| (h.id.as_str(), h.score)).collect();
    let features: Vec<Features> = records
        .iter()
        .map(|r| Features {
            dense: q.vector.map(|v| cosine(v, &r.embedding)),
            lexical: lexical.get(r.memory.id.as_str()).copied(),
            importance: r.memory.importance,
            occurred_at: r.memory.occurred_at,
            pinned: is_pinned(q.pinned, r.memory.session_id.as_deref()),
        })
        .collect();
    let (best, more) = q.ranking.best(&features, q.keep);
    let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
    let ranked = best
        .into_iter()
        .filter_map(|(i, score)| Some(Ranked::new(slots[i].take()?, &features[i], score)))
        .collect();
    Ok(Retrieved { ranked, more })
}
