//! The `graph` job: the LLM-free pass over the memories of a write, then
//! (when the graph is `llm`) the LLM's extraction, metered under the
//! write's project.

use async_trait::async_trait;
use serde_json::{Value, json};

use engram_core::{Error, Result};
use engram_store::jobs::Job;

use crate::Engine;
use crate::intelligence::extract::payload_ids;
use crate::jobs::JobHandler;

pub const GRAPH: &str = "graph";

pub(crate) struct ExtractGraph;

#[async_trait]
impl JobHandler for ExtractGraph {
    fn kind(&self) -> &'static str {
        GRAPH
    }

    async fn run(&self, engine: &Engine, job: &Job) -> Result<Value> {
        let ids = payload_ids(&job.payload)?;
        let llm = job.payload["llm"].as_bool() == Some(true);
        let mut memories: Vec<_> = engine
            .store()
            .get_records(&job.tenant_id, &ids)
            .await?
            .into_iter()
            .map(|r| r.memory)
            .collect();
        memories.sort_by_key(|m| (m.occurred_at, m.id.clone()));
        let rules = engine.link_mentions(&job.tenant_id, &memories).await?;
        let extracted = if llm {
            let project = job.payload["project"].as_str();
            Some(engine.extract_graph(&job.tenant_id, project, &ids).await?)
        } else {
            None
        };
        serde_json::to_value(json!({ "rules": rules, "llm": extracted })).map_err(Error::internal)
    }
}
