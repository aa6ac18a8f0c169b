//! Hybrid retrieval and context assembly.
//!
//! A search asks the store for both retrievers' candidates ranked by this
//! engine's [`Ranking`] (cosine similarity and BM25 fused, plus importance
//! and recency) and for the records of the best few; it re-scores the head
//! with the cross-encoder when there is one, drops near-duplicates, and
//! returns the best. Context assembly is a search whose results are packed
//! under a token budget.

use std::time::Instant;

use chrono::Utc;

use engram_core::cancel::Cancel;
use engram_core::context::{ContextItem, pack};
use engram_core::lexical;
use engram_core::query::{
    ContextCitation, ContextRequest, ContextResponse, ScoredMemory, SearchRequest, SearchResponse,
};
use engram_core::ranking::Ranking;
use engram_core::vector::cosine;
use engram_core::{Filter, Kind, Result, SearchMode};
use engram_store::{Ranked, Record, Retrieval, Retrieved};

use crate::Engine;
use crate::facts::valid_at;

/// Candidates considered when assembling a context block.
const CONTEXT_CANDIDATES: usize = 50;

/// Records read beyond the requested limit, as spares for results dropped
/// as near-duplicates: a quarter more, and at least two.
fn spares(limit: usize) -> usize {
    (limit / 4).max(2)
}

impl Engine {
    pub async fn search(&self, tenant: &str, req: &SearchRequest) -> Result<SearchResponse> {
        req.validate()?;
        let start = Instant::now();
        if let Some(e) = &req.embedding {
            let dim = self.embedder.dimension();
            if e.len() != dim || e.iter().any(|x| !x.is_finite()) {
                return Err(engram_core::Error::invalid(
                    "embedding",
                    format!("must be {dim} finite numbers (this server's index dimension)"),
                ));
            }
        }
        let filter = valid_at(&req.filters, req.as_of);
        let ranked = self
            .retrieve_with_graph(
                tenant,
                &req.query,
                req.mode,
                &filter,
                req.include_archived,
                req.limit(),
                req.embedding.clone(),
                req.graph.map(|g| g.depth()),
            )
            .await?;
        let took = start.elapsed();
        metrics::histogram!("engram_search_duration_seconds", "mode" => req.mode.as_str())
            .record(took.as_secs_f64());
        Ok(SearchResponse {
            results: ranked
                .into_iter()
                .map(|r| ScoredMemory {
                    explain: req.explain.then_some(r.explain),
                    memory: r.record.memory,
                    score: r.score,
                })
                .collect(),
            took_ms: took.as_secs_f64() * 1000.0,
        })
    }

    pub async fn context(&self, tenant: &str, req: &ContextRequest) -> Result<ContextResponse> {
        req.validate()?;
        let filter = valid_at(&req.filters, req.as_of);
        let mut ranked = self
            .retrieve_with_graph(
                tenant,
                &req.query,
                SearchMode::Hybrid,
                &filter,
                req.include_archived,
                CONTEXT_CANDIDATES,
                None,
                req.graph.map(|g| g.depth()),
            )
            .await?;
        if req.lead_with_summary {
            let summaries = Filter {
                kind: Some(Kind::Summary),
                ..filter
            };
            let lead = self
                .retrieve(
                    tenant,
                    &req.query,
                    SearchMode::Hybrid,
                    &summaries,
                    req.include_archived,
                    1,
                    None,
                )
                .await?;
            if let Some(lead) = lead.into_iter().next() {
                ranked.retain(|r| r.record.memory.id != lead.record.memory.id);
                ranked.insert(0, lead);
            }
        }
        let items: Vec<ContextItem> = ranked
            .into_iter()
            .map(|r| ContextItem {
                id: r.record.memory.id,
                content: r.record.memory.content,
                occurred_at: r.record.memory.occurred_at,
                score: r.score,
            })
            .collect();
        let tokens = self.tokens.clone();
        let budget = req.token_budget();
        let packed =
            tokio::task::spawn_blocking(move || pack(&items, budget, &|s| tokens.count(s)))
                .await
                .map_err(engram_core::Error::internal)?;
        Ok(ContextResponse {
            context: packed.context,
            tokens: packed.tokens,
            items: packed
                .items
                .into_iter()
                .map(|i| ContextCitation {
                    id: i.id,
                    content: i.content,
                    occurred_at: i.occurred_at,
                    score: i.score,
                })
                .collect(),
        })
    }

    /// Conversations change what a search sees: the messages of archived
    /// ones are left out (unless `include_archived`), those of pinned ones
    /// get the pin's boost. Both are read from the conversations' rows at
    /// each search (one indexed query), so a pin or an archive takes
    /// effect at once, with no memory rewritten.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn retrieve(
        &self,
        tenant: &str,
        query: &str,
        mode: SearchMode,
        filter: &Filter,
        include_archived: bool,
        limit: usize,
        supplied: Option<Vec<f32>>,
    ) -> Result<Vec<Ranked>> {
        let flags = self.store.conversation_flags(tenant).await?;
        let scoped;
        let filter = if include_archived || flags.archived.is_empty() {
            filter
        } else {
            let mut f = filter.clone();
            f.excluded_sessions.extend(flags.archived);
            scoped = f;
            &scoped
        };
        // Held until the search is done: dropping this future (a request
        // timeout, a client gone, shutdown) stops its blocking work.
        let cancel = self.search_cancel();
        let _cancel_on_drop = cancel.on_drop();
        let n = self.config.candidates.max(limit);
        let terms = match mode {
            SearchMode::Vector => Vec::new(),
            _ => lexical::terms(query),
        };
        let qvec = self
            .query_vector(tenant, query, mode, supplied, &cancel)
            .await?;
        let ranking = Ranking {
            mode,
            fusion: self.config.fusion,
            importance_weight: self.config.importance_weight,
            recency_weight: self.config.recency_weight,
            recency_half_life_days: self.config.recency_half_life_days,
            now: Utc::now(),
        };
        // The cross-encoder may push head results down, below candidates
        // after the head: those must be there to take their places.
        let mut keep = self.config.rerank_candidates + limit + spares(limit);
        loop {
            let Retrieved { ranked, more } = self
                .store
                .retrieve(
                    tenant,
                    &Retrieval {
                        terms: &terms,
                        vector: qvec.as_deref(),
                        filter,
                        limit: n,
                        ranking: &ranking,
                        keep,
                        cancel: &cancel,
                        pinned: &flags.pinned,
                    },
                )
                .await?;
            let out = self
                .best_distinct(query, mode, ranked, limit, &cancel)
                .await?;
            // Too many near-duplicates among the records read: read them all.
            if out.len() < limit && more {
                keep = usize::MAX;
                continue;
            }
            return Ok(out);
        }
    }

    /// The query's vector: none for a keyword search, the supplied one
    /// (made unit length), or the query embedded (and metered).
    pub(crate) async fn query_vector(
        &self,
        tenant: &str,
        query: &str,
        mode: SearchMode,
        supplied: Option<Vec<f32>>,
        cancel: &Cancel,
    ) -> Result<Option<Vec<f32>>> {
        Ok(match (mode, supplied) {
            (SearchMode::Keyword, _) => None,
            (_, Some(mut v)) => {
                engram_embed::normalize(&mut v);
                Some(v)
            }
            (_, None) => {
                let start = Instant::now();
                let v = self.embed_query(query, cancel).await?;
                let tokens = self.embedding_tokens(&[query]);
                self.meter_embedding(tenant, tokens, start.elapsed());
                Some(v)
            }
        })
    }

    /// The best `limit` of `ranked` (best first) after the cross-encoder,
    /// without near-duplicates.
    async fn best_distinct(
        &self,
        query: &str,
        mode: SearchMode,
        ranked: Vec<Ranked>,
        limit: usize,
        cancel: &Cancel,
    ) -> Result<Vec<Ranked>> {
        let mut scored: Vec<(usize, f32)> = ranked.iter().map(|r| r.score).enumerate().collect();
        if mode == SearchMode::Hybrid {
            self.rerank(query, &ranked, &mut scored, cancel).await?;
        }
        let mut slots: Vec<Option<Ranked>> = ranked.into_iter().map(Some).collect();
        let mut out: Vec<Ranked> = Vec::with_capacity(limit);
        for (i, score) in scored {
            if out.len() == limit {
                break;
            }
            let Some(candidate) = slots[i].take() else {
                continue;
            };
            if self.is_duplicate(&candidate.record, &out) {
                continue;
            }
            out.push(Ranked { score, ..candidate });
        }
        Ok(out)
    }

    /// Near-identical to a better result already kept: same text, or
    /// embeddings closer than the configured similarity. Two memories of
    /// one session embedded with session context share that context in
    /// their vectors (a short reply's vector is close to the turn it
    /// answers), so for them only the text counts.
    fn is_duplicate(&self, r: &Record, kept: &[Ranked]) -> bool {
        let text = normalize_text(&r.memory.content);
        kept.iter().any(|k| {
            normalize_text(&k.record.memory.content) == text
                || (!self.share_context(&r.memory, &k.record.memory)
                    && cosine(&r.embedding, &k.record.embedding) >= self.config.dedup_similarity)
        })
    }

    fn share_context(&self, a: &engram_core::Memory, b: &engram_core::Memory) -> bool {
        self.config.session_context > 0
            && a.session_id.is_some()
            && a.session_id == b.session_id
            && a.user_id == b.user_id
            && a.agent_id == b.agent_id
    }
}

fn normalize_text(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}
