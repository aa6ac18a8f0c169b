//! What engram does, independent of where data lives and how requests
//! arrive: ingest (validation, embedding, idempotency), hybrid retrieval
//! (lexical + dense, fused, de-duplicated), context assembly under a token
//! budget, and tenants with their keys.
//!
//! The engine talks to a [`Store`] trait object and an [`Embedder`] trait
//! object; it never knows which backend or model is behind them. The HTTP
//! server, the MCP server and the benchmarks all call this same API, so
//! what is measured is what is served.

mod answer;
mod auth;
pub mod budgets;
pub mod conversations;
pub mod documents;
mod erasure;
mod facts;
pub mod graph;
mod ingest;
pub mod intelligence;
pub mod jobs;
mod llm;
pub mod metering;
mod rerank;
pub mod retention;
mod retrieve;
mod session_context;

use std::sync::Arc;
use std::time::{Duration, Instant};

use engram_core::cancel::Cancel;
use engram_core::fusion::Fusion;
use engram_core::{Error, Result};
use engram_embed::{Embedder, Reranker, TokenCounter};
use engram_llm::Llm;
use engram_store::Store;
use serde::{Deserialize, Serialize};

pub use auth::{Principal, hash_secret};
pub use engram_core as core;
pub use engram_llm as llm_client;
pub use engram_store::{Record, Throttle};
pub use llm::Spend;

/// How results are ranked. Every field has a measured default; see
/// docs/BENCHMARKS.md for what the alternatives score.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    pub fusion: Fusion,
    /// Candidates fetched from each retriever before fusion (at least the
    /// requested limit).
    pub candidates: usize,
    /// Results whose embeddings are at least this similar to a better
    /// result are dropped as near-duplicates (1.0 keeps everything).
    pub dedup_similarity: f32,
    /// Score added per unit of importance above the default 0.5.
    pub importance_weight: f32,
    /// Score added for a memory that just happened, decaying with
    /// `recency_half_life_days`; 0 disables recency.
    pub recency_weight: f32,
    pub recency_half_life_days: f32,
    /// Earlier memories of the same session embedded together with each
    /// new memory (0 embeds every memory alone); see `session_context.rs`.
    pub session_context: usize,
    /// Weight of a memory's own vector mixed into its contextual one (0
    /// keeps the contextual vector only; > 0 embeds twice).
    pub context_blend: f32,
    /// First-stage results re-scored by the cross-encoder, when the engine
    /// has one (0 turns reranking off).
    pub rerank_candidates: usize,
    /// Weight of the cross-encoder's opinion against the first stage's.
    pub rerank_weight: f32,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            fusion: Fusion::default(),
            candidates: 50,
            dedup_similarity: 0.97,
            importance_weight: 0.2,
            recency_weight: 0.0,
            recency_half_life_days: 30.0,
            session_context: 1,
            context_blend: 0.0,
            rerank_candidates: 0,
            rerank_weight: 1.0,
        }
    }
}

pub struct Engine {
    store: Arc<dyn Store>,
    embedder: Arc<dyn Embedder>,
    tokens: Arc<TokenCounter>,
    reranker: Option<Arc<Reranker>>,
    config: RetrievalConfig,
    search_timeout: Option<Duration>,
    llm: Option<Arc<dyn Llm>>,
    prices: metering::Prices,
    jobs: jobs::Jobs,
    embedding_meter: metering::EmbeddingMeter,
    documents: documents::DocumentsConfig,
    graph: graph::GraphConfig,
}

impl Engine {
    /// Binds the store to the embedder's vector space (refusing a mismatch)
    /// and returns a ready engine.
    pub async fn new(
        store: Arc<dyn Store>,
        embedder: Arc<dyn Embedder>,
        tokens: Arc<TokenCounter>,
        config: RetrievalConfig,
    ) -> Result<Engine> {
        store
            .bind_embedding_space(embedder.model_id(), embedder.dimension())
            .await?;
        Ok(Engine {
            store,
            embedder,
            tokens,
            reranker: None,
            config,
            search_timeout: None,
            llm: None,
            prices: metering::Prices::default(),
            jobs: jobs::Jobs::default(),
            embedding_meter: metering::EmbeddingMeter::default(),
            documents: documents::DocumentsConfig::default(),
            graph: graph::GraphConfig::default(),
        })
    }

    /// Adds a cross-encoder for the second stage (used when
    /// `rerank_candidates` > 0).
    pub fn with_reranker(mut self, reranker: Arc<Reranker>) -> Engine {
        self.reranker = Some(reranker);
        self
    }

    /// Prices the metered calls (`ENGRAM_PRICES`).
    pub fn with_prices(mut self, prices: metering::Prices) -> Engine {
        self.prices = prices;
        self
    }

    /// Bounds every search by `timeout`, the longest anyone waits for
    /// one, so work nobody can call off (a statement on the database
    /// server) stops then too.
    pub fn with_search_timeout(mut self, timeout: Duration) -> Engine {
        self.search_timeout = Some(timeout);
        self
    }

    /// A search's cancellation: its deadline when there is a timeout.
    fn search_cancel(&self) -> Cancel {
        self.search_timeout
            .map_or_else(Cancel::new, Cancel::with_timeout)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Per-component readiness: `(name, error)` for each check.
    pub async fn readiness(&self) -> Vec<(&'static str, Option<String>)> {
        let store = self.store.ping().await.err().map(|e| e.to_string());
        let embedder = self
            .embed_query("readiness probe", &Cancel::new())
            .await
            .err()
            .map(|e| e.to_string());
        vec![("store", store), ("embedder", embedder)]
    }

    /// Persists index state and the pending embedding usage
    /// (periodically and at shutdown).
    pub async fn flush(&self) -> Result<()> {
        let usage = self.flush_usage().await;
        self.store.flush().await?;
        usage
    }

    /// Spends a token of `bucket` in the store's shared rate limiter;
    /// [`Throttle::Local`] when the store keeps no shared state.
    pub async fn take_token(&self, bucket: &str, per_second: f64, burst: f64) -> Result<Throttle> {
        self.store.take_token(bucket, per_second, burst).await
    }

    pub async fn memories_stored(&self) -> Result<u64> {
        self.store.count_memories().await
    }

    /// One model call, not stopped once started: `cancel` is checked
    /// when a blocking thread takes it up, which may be long after it was
    /// asked for when the threads are busy.
    async fn embed_query(&self, text: &str, cancel: &Cancel) -> Result<Vec<f32>> {
        let embedder = self.embedder.clone();
        let (text, cancel) = (text.to_string(), cancel.clone());
        let start = Instant::now();
        let v = tokio::task::spawn_blocking(move || {
            cancel.check()?;
            embedder.embed_query(&text).map_err(Error::unavailable)
        })
        .await
        .map_err(Error::internal)??;
        metrics::histogram!("engram_embedding_duration_seconds")
            .record(start.elapsed().as_secs_f64());
        Ok(v)
    }

    async fn embed_documents(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let embedder = self.embedder.clone();
        let start = Instant::now();
        let v = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed_documents(&refs)
        })
        .await
        .map_err(Error::internal)?
        .map_err(Error::unavailable)?;
        metrics::histogram!("engram_embedding_duration_seconds")
            .record(start.elapsed().as_secs_f64());
        Ok(v)
    }
}
