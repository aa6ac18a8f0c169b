//! `reembed`: computes the vectors of stored memories again, as a new
//! memory would get them now (its session's context, the current
//! `session_context` and `context_blend`). After changing those settings,
//! this brings old memories in line without a backup and restore; it is
//! also the cheap job that needs no LLM, which the queue's crash and
//! replica tests run.

use async_trait::async_trait;
use engram_core::{Error, Result};
use engram_store::jobs::Job;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::JobHandler;
use crate::Engine;

pub const REEMBED: &str = "reembed";

/// Most memories one job re-embeds: one job is one short unit of work
/// (~10 ms per memory with the local model).
pub const REEMBED_MAX_IDS: usize = 1000;

/// The payload of a `reembed` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReembedRequest {
    pub ids: Vec<String>,
}

impl ReembedRequest {
    pub fn validate(&self) -> Result<()> {
        if self.ids.is_empty() || self.ids.len() > REEMBED_MAX_IDS {
            return Err(Error::invalid(
                "ids",
                format!(
                    "must list 1 to {REEMBED_MAX_IDS} memory ids; split larger sets into several jobs"
                ),
            ));
        }
        if let Some(i) = self
            .ids
            .iter()
            .position(|id| id.is_empty() || id.len() > 128)
        {
            return Err(Error::invalid(
                format!("ids[{i}]"),
                "must be a memory id (1 to 128 characters)",
            ));
        }
        Ok(())
    }
}

pub(super) struct Reembed;

#[async_trait]
impl JobHandler for Reembed {
    fn kind(&self) -> &'static str {
        REEMBED
    }

    async fn run(&self, engine: &Engine, job: &Job) -> Result<Value> {
        let req: ReembedRequest = serde_json::from_value(job.payload.clone())
            .map_err(|e| Error::internal(format!("reembed job {}: bad payload: {e}", job.id)))?;
        let (mut reembedded, mut missing) = (0u64, 0u64);
        for id in &req.ids {
            let Some(memory) = engine.store.get(&job.tenant_id, id).await? else {
                missing += 1;
                continue;
            };
            let embedding = engine.reembed(&job.tenant_id, &memory).await?;
            if engine
                .store
                .update(&job.tenant_id, &memory, Some(embedding))
                .await?
            {
                reembedded += 1;
            } else {
                missing += 1;
            }
        }
        Ok(json!({"reembedded": reembedded, "missing": missing}))
    }
}
