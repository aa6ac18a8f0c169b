//! The jobs of the intelligence features: `facts`, `summary` and
//! `reflection`, each running one engine operation for the job's tenant
//! (and its `project`, for metering and budgets).

use async_trait::async_trait;
use serde_json::Value;

use engram_core::summary::SummaryRequest;
use engram_core::{Error, Result};
use engram_store::jobs::Job;

use super::extract::payload_ids;
use super::prompts::{FACTS, REFLECTION, SUMMARY};
use crate::Engine;
use crate::jobs::JobHandler;

fn project(job: &Job) -> Option<&str> {
    job.payload["project"].as_str()
}

fn result(v: impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(v).map_err(Error::internal)
}

pub(crate) struct ExtractFacts;

#[async_trait]
impl JobHandler for ExtractFacts {
    fn kind(&self) -> &'static str {
        FACTS
    }

    async fn run(&self, engine: &Engine, job: &Job) -> Result<Value> {
        let ids = payload_ids(&job.payload)?;
        result(
            engine
                .extract_facts(&job.tenant_id, project(job), &ids, &job.id)
                .await?,
        )
    }
}

pub(crate) struct Summarize;

#[async_trait]
impl JobHandler for Summarize {
    fn kind(&self) -> &'static str {
        SUMMARY
    }

    async fn run(&self, engine: &Engine, job: &Job) -> Result<Value> {
        let req: SummaryRequest = serde_json::from_value(job.payload["request"].clone())
            .map_err(|e| Error::internal(format!("summary job {}: bad payload: {e}", job.id)))?;
        result(engine.summarize(&job.tenant_id, project(job), &req).await?)
    }
}

pub(crate) struct Reflect;

#[async_trait]
impl JobHandler for Reflect {
    fn kind(&self) -> &'static str {
        REFLECTION
    }

    async fn run(&self, engine: &Engine, job: &Job) -> Result<Value> {
        let user = job.payload["user_id"]
            .as_str()
            .ok_or_else(|| Error::internal(format!("reflection job {}: no user_id", job.id)))?;
        let agent = job.payload["agent_id"].as_str();
        result(
            engine
                .reflect(&job.tenant_id, project(job), user, agent)
                .await?,
        )
    }
}
