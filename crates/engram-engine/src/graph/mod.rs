//! The knowledge graph (docs/GRAPH.md): entities resolved from the names
//! in memories, relations between them over time, and the reads the API
//! and graph-aware retrieval make of them.
//!
//! Extraction is a job of the durable queue (`graph`), queued on write
//! when the graph is on: the LLM-free pass ([`engram_core::mentions`]),
//! and with the graph `llm` the LLM's ([`llm`]) too. Nothing of it is on
//! the write's path.

mod api;
mod expand;
pub(crate) mod handler;
pub mod llm;
mod resolve;

use serde::{Deserialize, Serialize};
use serde_json::json;

use engram_core::mentions::mentions;
use engram_core::{Memory, Result};

use crate::Engine;

pub use api::EntityListing;
pub use handler::GRAPH;
pub use llm::GraphExtraction;

/// What feeds the graph (`ENGRAM_GRAPH`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphMode {
    /// No extraction (the graph API answers from what is there).
    #[default]
    Off,
    /// The LLM-free pass on every write.
    Rules,
    /// The LLM-free pass and LLM extraction of entities and relations
    /// on every write (a call per few memories: metered and budgeted).
    Llm,
}

impl GraphMode {
    pub fn parse(s: &str) -> Option<GraphMode> {
        match s {
            "off" => Some(GraphMode::Off),
            "rules" => Some(GraphMode::Rules),
            "llm" => Some(GraphMode::Llm),
            _ => None,
        }
    }
}

/// How the graph is fed and how entities are resolved.
#[derive(Debug, Clone, Copy)]
pub struct GraphConfig {
    pub mode: GraphMode,
    /// A new name whose embedding is at least this similar to an entity
    /// of the same user and type is merged into it (recorded, reversible).
    /// 0.93 with bge-small: "Mel" and "Melanie" stay apart (0.81), "Acme
    /// Corp" and "Acme Corp." merge (docs/GRAPH.md).
    pub merge_similarity: f32,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            mode: GraphMode::Off,
            merge_similarity: 0.93,
        }
    }
}

/// What the LLM-free pass did for one job.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Linked {
    /// Names found, over all memories.
    pub mentions: usize,
    /// Entities created (merged ones included).
    pub created: Vec<String>,
    /// Of those, the ones merged into an existing entity.
    pub merged: Vec<String>,
}

impl Engine {
    pub fn with_graph(mut self, config: GraphConfig) -> Engine {
        self.graph = config;
        self
    }

    pub fn graph_config(&self) -> GraphConfig {
        self.graph
    }

    /// Queues the graph job for memories just written, when the graph is
    /// on: the LLM-free pass, and with the graph `llm` (and an LLM) the
    /// LLM's too. Returns the job's id.
    pub(crate) async fn queue_graph(
        &self,
        tenant: &str,
        project: Option<&str>,
        written: &[&Memory],
    ) -> Result<Option<String>> {
        if self.graph.mode == GraphMode::Off || written.is_empty() {
            return Ok(None);
        }
        let ids: Vec<&str> = written.iter().map(|m| m.id.as_str()).collect();
        let llm = self.graph.mode == GraphMode::Llm && self.llm.is_some();
        let payload = json!({ "ids": ids, "llm": llm, "project": project });
        Ok(Some(
            self.enqueue(tenant, GRAPH, payload, None, None).await?.id,
        ))
    }

    /// The LLM-free pass over these memories: each name found becomes an
    /// entity of the memory's user (resolved, see `resolve.rs`) linked to
    /// the memory. Safe to repeat: names resolve to the entities a first
    /// run made, and links are kept once.
    pub async fn link_mentions(&self, tenant: &str, memories: &[Memory]) -> Result<Linked> {
        let mut report = Linked::default();
        let mut links = Vec::new();
        for m in memories {
            for mention in mentions(&m.content) {
                report.mentions += 1;
                let r = self
                    .resolve_entity(
                        tenant,
                        m.user_id.as_deref(),
                        &mention.name,
                        mention.kind,
                        &[],
                    )
                    .await?;
                if r.created {
                    report.created.push(r.entity.id.clone());
                    if r.entity.merged_into.is_some() {
                        report.merged.push(r.entity.id.clone());
                    }
                }
                links.push((r.entity.id, m.id.clone()));
            }
        }
        if !links.is_empty() {
            self.store.link_mentions(tenant, &links).await?;
        }
        Ok(report)
    }
}
