//! Hybrid retrieval and context assembly.
//!
//! A search asks both retrievers of the store for candidates, re-scores the
//! union with exact cosine similarity (from the stored vectors), fuses the
//! two signals, adds importance and recency, drops near-duplicates, and
//! returns the best. Context assembly is a search whose results are packed
//! under a token budget.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use engram_core::context::{ContextItem, pack};
use engram_core::fusion::{Candidate, cosine, fuse, sort_desc};
use engram_core::lexical;
use engram_core::query::{
    ContextCitation, ContextRequest, ContextResponse, ScoredMemory, SearchRequest, SearchResponse,
};
use engram_core::{Filter, Result, SearchMode};
use engram_store::{Record, Retrieval, Retrieved};

use crate::Engine;

/// Candidates considered when assembling a context block.
const CONTEXT_CANDIDATES: usize = 50;

struct Ranked {
    record: Record,
    score: f32,
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
        let ranked = self
            .retrieve(
                tenant,
                &req.query,
                req.mode,
                &req.filters,
                req.limit(),
                req.embedding.clone(),
            )
            .await?;
        let took = start.elapsed();
        metrics::histogram!("engram_search_duration_seconds", "mode" => req.mode.as_str())
            .record(took.as_secs_f64());
        Ok(SearchResponse {
            results: ranked
                .into_iter()
                .map(|r| ScoredMemory {
                    memory: r.record.memory,
                    score: r.score,
                })
                .collect(),
            took_ms: took.as_secs_f64() * 1000.0,
        })
    }

    pub async fn context(&self, tenant: &str, req: &ContextRequest) -> Result<ContextResponse> {
        req.validate()?;
        let ranked = self
            .retrieve(
                tenant,
                &req.query,
                SearchMode::Hybrid,
                &req.filters,
                CONTEXT_CANDIDATES,
                None,
            )
            .await?;
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

    async fn retrieve(
        &self,
        tenant: &str,
        query: &str,
        mode: SearchMode,
        filter: &Filter,
        limit: usize,
        supplied: Option<Vec<f32>>,
    ) -> Result<Vec<Ranked>> {
        let n = self.config.candidates.max(limit);
        let terms = match mode {
            SearchMode::Vector => Vec::new(),
            _ => lexical::terms(query),
        };
        let qvec = match (mode, supplied) {
            (SearchMode::Keyword, _) => None,
            (_, Some(mut v)) => {
                engram_embed::normalize(&mut v);
                Some(v)
            }
            (_, None) => Some(self.embed_query(query).await?),
        };
        let Retrieved {
            lexical: lexical_hits,
            records,
            ..
        } = self
            .store
            .retrieve(
                tenant,
                &Retrieval {
                    terms: &terms,
                    vector: qvec.as_deref(),
                    filter,
                    limit: n,
                },
            )
            .await?;
        let lexical_scores: HashMap<&str, f32> = lexical_hits
            .iter()
            .map(|h| (h.id.as_str(), h.score))
            .collect();

        let base: Vec<(usize, f32)> = match mode {
            SearchMode::Keyword => sort_desc(
                records
                    .iter()
                    .map(|r| {
                        lexical_scores
                            .get(r.memory.id.as_str())
                            .copied()
                            .unwrap_or(0.0)
                    })
                    .collect(),
            ),
            SearchMode::Vector => {
                let q = qvec.as_deref().unwrap_or_default();
                sort_desc(records.iter().map(|r| cosine(q, &r.embedding)).collect())
            }
            SearchMode::Hybrid => {
                let q = qvec.as_deref().unwrap_or_default();
                let cands: Vec<Candidate> = records
                    .iter()
                    .map(|r| Candidate {
                        id: r.memory.id.clone(),
                        dense: Some(cosine(q, &r.embedding)),
                        lexical: lexical_scores.get(r.memory.id.as_str()).copied(),
                    })
                    .collect();
                fuse(&cands, self.config.fusion)
            }
        };
        let now = Utc::now();
        let mut scored: Vec<(usize, f32)> = base
            .into_iter()
            .map(|(i, s)| (i, s + self.boost(&records[i].memory, now)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if mode == SearchMode::Hybrid {
            self.rerank(query, &records, &mut scored).await?;
        }

        let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
        let mut out: Vec<Ranked> = Vec::with_capacity(limit);
        for (i, score) in scored {
            if out.len() == limit {
                break;
            }
            let Some(record) = slots[i].take() else {
                continue;
            };
            if self.is_duplicate(&record, &out) {
                continue;
            }
            out.push(Ranked { record, score });
        }
        Ok(out)
    }

    /// Importance and recency, on the scale of fused scores.
    fn boost(&self, m: &engram_core::Memory, now: DateTime<Utc>) -> f32 {
        let c = &self.config;
        let mut b = c.importance_weight * (m.importance - engram_core::memory::DEFAULT_IMPORTANCE);
        if c.recency_weight > 0.0 && c.recency_half_life_days > 0.0 {
            let age_days = (now - m.occurred_at).num_seconds().max(0) as f32 / 86_400.0;
            b += c.recency_weight * 0.5f32.powf(age_days / c.recency_half_life_days);
        }
        b
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
