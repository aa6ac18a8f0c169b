//! Graph-aware retrieval (`"graph": {"depth": n}` on a search or a
//! context): the query's entities are the entities whose name keys the
//! query's word runs (one to three words) have; they and their neighbours
//! up to `depth` hops bring in the memories that mention them, ranked by
//! their cosine to the query, and that list is fused with the hybrid
//! ranking by weighted reciprocal rank. A memory both lists hold rises; a
//! memory only the graph knows (a hop away from every query word) can
//! enter the results.

use std::collections::HashMap;

use chrono::Utc;

use engram_core::cancel::Cancel;
use engram_core::graph::name_key;
use engram_core::mentions::mentions;
use engram_core::query::ScoreExplain;
use engram_core::vector::cosine;
use engram_core::{Filter, Result, SearchMode};
use engram_store::Ranked;
use engram_store::graph::UserScope;

use super::api::MAX_NEIGHBORS;
use crate::Engine;

/// Memories the graph brings in at most: the newest mentions of the
/// query's entities (a name in every other memory would otherwise bring
/// the whole store).
const MAX_LINKED: usize = 200;
/// Mentions past which an entity is a hub, whose memories the graph does
/// not bring in (see [`Engine::graph_linked`]).
const HUB: usize = 50;
/// Name keys looked up for one query: every run of one to three words.
const MAX_KEYS: usize = 96;
/// The reciprocal-rank constant (as in RRF: rank 1 scores 1/61).
const RRF_K: f32 = 60.0;
/// The graph list's weight against the hybrid ranking's 1: measured on
/// LoCoMo dev (docs/BENCHMARKS.md).
const GRAPH_WEIGHT: f32 = 0.25;

/// The name keys a query may contain: each run of one to three words,
/// and each name the LLM-free pass finds in it.
fn query_keys(query: &str) -> Vec<String> {
    let words: Vec<&str> = query.split_whitespace().collect();
    let mut keys: Vec<String> = Vec::new();
    let mut push = |k: String| {
        if !k.is_empty() && !keys.contains(&k) {
            keys.push(k);
        }
    };
    for m in mentions(query) {
        push(name_key(&m.name));
    }
    for n in 1..=3 {
        for w in words.windows(n) {
            push(name_key(&w.join(" ")));
        }
    }
    keys.truncate(MAX_KEYS);
    keys
}

impl Engine {
    /// The ids of the memories linked to the query's entities and to
    /// their neighbours within `depth` hops (hubs left out), the query's
    /// own entities first, each's newest mentions first.
    pub(crate) async fn graph_linked(
        &self,
        tenant: &str,
        query: &str,
        filter: &Filter,
        depth: u32,
    ) -> Result<Vec<String>> {
        let keys = query_keys(query);
        let scope = match &filter.user_id {
            Some(u) => UserScope::Exactly(Some(u)),
            None => UserScope::Any,
        };
        let found = self.store.entities_by_keys(tenant, scope, &keys).await?;
        let mut seeds: Vec<String> = Vec::new();
        for (_, e) in found {
            let id = e.merged_into.unwrap_or(e.id);
            if !seeds.contains(&id) {
                seeds.push(id);
            }
        }
        let mut ids: Vec<String> = seeds.clone();
        if depth > 0 {
            let now = Utc::now();
            for seed in &seeds {
                for r in self
                    .store
                    .neighbors(tenant, seed, depth, now, MAX_NEIGHBORS)
                    .await?
                {
                    if !ids.contains(&r.id) {
                        ids.push(r.id);
                    }
                }
            }
        }
        // A hub (a name in more memories than the graph brings in, such as
        // the speaker of every turn) says nothing about which of them
        // matter: its memories are left to the hybrid ranking.
        let mut linked: Vec<String> = Vec::new();
        for id in &ids {
            let m = self
                .store
                .mentioning(tenant, std::slice::from_ref(id), HUB + 1)
                .await?;
            if m.len() > HUB {
                continue;
            }
            for memory in m {
                if linked.len() < MAX_LINKED && !linked.contains(&memory) {
                    linked.push(memory);
                }
            }
        }
        Ok(linked)
    }

    /// [`Engine::retrieve`], with the graph's memories fused in when a
    /// `depth` is given (see the module docs).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn retrieve_with_graph(
        &self,
        tenant: &str,
        query: &str,
        mode: SearchMode,
        filter: &Filter,
        include_archived: bool,
        limit: usize,
        supplied: Option<Vec<f32>>,
        depth: Option<u32>,
    ) -> Result<Vec<Ranked>> {
        let Some(depth) = depth else {
            return self
                .retrieve(
                    tenant,
                    query,
                    mode,
                    filter,
                    include_archived,
                    limit,
                    supplied,
                )
                .await;
        };
        let qvec = self
            .query_vector(tenant, query, mode, supplied, &Cancel::new())
            .await?;
        let (hybrid, linked) = tokio::try_join!(
            self.retrieve(
                tenant,
                query,
                mode,
                filter,
                include_archived,
                limit,
                qvec.clone(),
            ),
            self.graph_linked(tenant, query, filter, depth)
        )?;
        // The hybrid side leaves archived conversations out in the store;
        // the graph's memories are checked here the same way.
        let mut scoped = filter.clone();
        if !include_archived && !linked.is_empty() {
            let flags = self.store.conversation_flags(tenant).await?;
            scoped.excluded_sessions.extend(flags.archived);
        }
        let mut graph: Vec<(f32, engram_store::Record)> = self
            .store
            .get_records(tenant, &linked)
            .await?
            .into_iter()
            .filter(|r| scoped.matches(&r.memory))
            .map(|r| {
                let sim = qvec.as_deref().map_or(0.0, |q| cosine(q, &r.embedding));
                (sim, r)
            })
            .collect();
        // Without a vector (keyword mode) the newest mentions lead.
        let order: HashMap<&str, usize> = linked
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        graph.sort_by(|a, b| {
            b.0.total_cmp(&a.0).then_with(|| {
                order
                    .get(a.1.memory.id.as_str())
                    .cmp(&order.get(b.1.memory.id.as_str()))
            })
        });
        graph.truncate(limit);
        Ok(fuse(
            hybrid,
            graph.into_iter().map(|(_, r)| r).collect(),
            limit,
        ))
    }
}

/// Weighted reciprocal-rank fusion of the hybrid results and the graph's,
/// best first, at most `limit`; ties keep the hybrid order.
fn fuse(hybrid: Vec<Ranked>, graph: Vec<engram_store::Record>, limit: usize) -> Vec<Ranked> {
    let mut scored: Vec<Ranked> = Vec::with_capacity(hybrid.len() + graph.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for (rank, r) in hybrid.into_iter().enumerate() {
        at.insert(r.record.memory.id.clone(), scored.len());
        // The hybrid signals stay in `explain`; only the score is fused.
        scored.push(Ranked {
            score: 1.0 / (RRF_K + rank as f32 + 1.0),
            ..r
        });
    }
    for (rank, record) in graph.into_iter().enumerate() {
        let add = GRAPH_WEIGHT / (RRF_K + rank as f32 + 1.0);
        match at.get(&record.memory.id) {
            Some(&i) => scored[i].score += add,
            // Found through the graph only: no lexical or vector signal.
            None => scored.push(Ranked {
                score: add,
                record,
                explain: ScoreExplain {
                    lexical: None,
                    vector: None,
                    fused: add,
                },
            }),
        }
    }
    // Stable: equal scores keep the hybrid order.
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    scored.truncate(limit);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_looked_up_by_its_word_runs() {
        let keys = query_keys("Where does Caroline's sister Ana live?");
        for k in ["caroline", "ana", "sister ana", "caroline's sister ana"] {
            assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
        }
        assert!(!keys.contains(&String::new()));
    }
}
