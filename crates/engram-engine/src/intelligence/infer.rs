//! `"infer": true` on a write: the write is stored and answered, and the
//! LLM work it asks for is queued (ingest never waits for the LLM): fact
//! extraction from the inferred memories, and the refresh of the summary
//! of each session they belong to (one queued refresh per session at a
//! time, however many messages arrive meanwhile).

use std::collections::BTreeSet;

use serde_json::json;

use engram_core::memory::validate_id;
use engram_core::summary::{ReflectionRequest, SummaryRequest};
use engram_core::{Memory, NewMemory, Result};
use engram_store::jobs::Job;

use super::prompts::{FACTS, REFLECTION, SUMMARY};
use crate::Engine;

impl Engine {
    /// Queues a summary (a session's, or a user's roll-up); one queued per
    /// session or period at a time.
    pub async fn queue_summary(
        &self,
        tenant: &str,
        project: Option<&str>,
        req: &SummaryRequest,
    ) -> Result<Job> {
        req.validate()?;
        self.require_llm()?;
        let key = match (&req.session_id, &req.period) {
            (Some(s), _) => format!("session:{s}"),
            (None, Some(p)) => {
                let (start, _) = p.bounds(req.at.unwrap_or_else(chrono::Utc::now));
                format!(
                    "{}:{}:{}",
                    p.as_str(),
                    req.user_id.as_deref().unwrap_or(""),
                    start.timestamp()
                )
            }
            (None, None) => String::new(),
        };
        let payload = json!({ "request": req, "project": project });
        self.enqueue(tenant, SUMMARY, payload, Some(key), None)
            .await
    }

    /// Queues a reflection over the user's latest memories.
    pub async fn queue_reflection(
        &self,
        tenant: &str,
        project: Option<&str>,
        req: &ReflectionRequest,
    ) -> Result<Job> {
        validate_id(&req.user_id, "user_id")?;
        if let Some(a) = &req.agent_id {
            validate_id(a, "agent_id")?;
        }
        self.require_llm()?;
        let payload =
            json!({ "user_id": req.user_id, "agent_id": req.agent_id, "project": project });
        let key = format!("{}:{}", req.user_id, req.agent_id.as_deref().unwrap_or(""));
        self.enqueue(tenant, REFLECTION, payload, Some(key), None)
            .await
    }

    /// Refuses an inferring write before anything is stored when no LLM is
    /// configured (`llm_not_configured`, saying how to configure one).
    pub(crate) fn check_infer(&self, items: &[NewMemory]) -> Result<()> {
        if items.iter().any(|m| m.infer) {
            self.require_llm()?;
        }
        Ok(())
    }

    /// Queues the jobs for the `inferred` memories just written; returns
    /// their ids.
    pub(crate) async fn queue_inference(
        &self,
        tenant: &str,
        project: Option<&str>,
        inferred: &[&Memory],
    ) -> Result<Vec<String>> {
        if inferred.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = inferred.iter().map(|m| m.id.as_str()).collect();
        let mut jobs = vec![
            self.enqueue(
                tenant,
                FACTS,
                json!({ "ids": ids, "project": project }),
                None,
                None,
            )
            .await?
            .id,
        ];
        let sessions: BTreeSet<&str> = inferred
            .iter()
            .filter_map(|m| m.session_id.as_deref())
            .collect();
        for session in sessions {
            let req = SummaryRequest {
                session_id: Some(session.to_string()),
                user_id: None,
                agent_id: None,
                period: None,
                at: None,
            };
            let job = self
                .enqueue(
                    tenant,
                    SUMMARY,
                    json!({ "request": req, "project": project }),
                    Some(format!("session:{session}")),
                    None,
                )
                .await?;
            jobs.push(job.id);
        }
        Ok(jobs)
    }
}
