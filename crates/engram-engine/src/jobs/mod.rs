//! Background work: the engine's side of the durable job queue
//! (`engram_store::jobs`). Writes enqueue work and answer; workers started
//! by `engram serve` claim jobs from the store, run the handler of their
//! kind and record the outcome, so a job survives restarts, runs once
//! across replicas, is retried with backoff and ends `dead` with its error
//! when every attempt failed.

mod reembed;
mod runner;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engram_core::{Error, Result};
use engram_store::jobs::NewJob;
use serde_json::Value;

use crate::Engine;

pub use engram_store::jobs::{Job, JobStatus};
pub use reembed::{REEMBED, ReembedRequest};
pub use runner::JobWorkers;

/// Runs the jobs of one kind. `run` may be called again for the same job
/// when a worker died mid-way (its lease expired), so it must be safe to
/// repeat: the effect of a job is committed once, with its completion.
#[async_trait]
pub trait JobHandler: Send + Sync {
    fn kind(&self) -> &'static str;
    /// The job's result, kept with it and shown by `GET /v1/jobs/{id}`.
    async fn run(&self, engine: &Engine, job: &Job) -> Result<Value>;
}

/// How jobs are run (`ENGRAM_JOB_*`).
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Jobs one process runs at once (0: this process runs none).
    pub workers: usize,
    /// How long a claim holds a job; a worker that dies frees its job
    /// after this, and a job running longer may be claimed again.
    pub lease: Duration,
    /// Attempts before a job is dead.
    pub max_attempts: u32,
    /// First retry's wait, doubling per attempt up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often an idle worker looks for jobs other processes queued
    /// (jobs queued by this process wake it at once).
    pub poll: Duration,
    /// How long jobs are kept after they ended (`done` or `dead`), so
    /// `GET /v1/jobs/{id}` can still show them; older ones are deleted.
    pub retention: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            workers: 2,
            lease: Duration::from_secs(600),
            max_attempts: 5,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            poll: Duration::from_secs(1),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl JobsConfig {
    /// When attempt number `attempts` (1 for the first) failed: the time of
    /// the next, or `None` when it was the last.
    pub fn retry_after(&self, attempts: u32, max_attempts: u32) -> Option<Duration> {
        if attempts >= max_attempts {
            return None;
        }
        let doublings = attempts.saturating_sub(1).min(31);
        Some(
            self.retry_base
                .saturating_mul(1 << doublings)
                .min(self.retry_max),
        )
    }
}

/// The handlers by kind, and how to run them.
pub(crate) struct Jobs {
    pub(crate) config: JobsConfig,
    pub(crate) handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    /// Wakes this process's idle workers when it queues a job.
    pub(crate) queued: tokio::sync::Notify,
}

impl Default for Jobs {
    fn default() -> Self {
        let mut jobs = Jobs {
            config: JobsConfig::default(),
            handlers: HashMap::new(),
            queued: tokio::sync::Notify::new(),
        };
        jobs.add(Arc::new(reembed::Reembed));
        jobs.add(Arc::new(crate::intelligence::handlers::ExtractFacts));
        jobs.add(Arc::new(crate::intelligence::handlers::Summarize));
        jobs.add(Arc::new(crate::intelligence::handlers::Reflect));
        jobs.add(Arc::new(crate::documents::ProcessDocument));
        jobs.add(Arc::new(crate::graph::handler::ExtractGraph));
        jobs
    }
}

impl Jobs {
    fn add(&mut self, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(handler.kind(), handler);
    }
}

impl Engine {
    pub fn with_jobs_config(mut self, config: JobsConfig) -> Engine {
        self.jobs.config = config;
        self
    }

    /// Registers the handler of a job kind (replacing one of the same kind).
    pub fn with_job_handler(mut self, handler: Arc<dyn JobHandler>) -> Engine {
        self.jobs.add(handler);
        self
    }

    /// Queues a job of `kind` for `tenant`, due at `run_after` (now without
    /// one). With a `dedupe_key`, an unfinished job of the same kind and key
    /// is returned instead of queuing the work twice.
    pub async fn enqueue(
        &self,
        tenant: &str,
        kind: &str,
        payload: Value,
        dedupe_key: Option<String>,
        run_after: Option<DateTime<Utc>>,
    ) -> Result<Job> {
        if !self.jobs.handlers.contains_key(kind) {
            return Err(Error::internal(format!("no handler for job kind {kind:?}")));
        }
        let job = NewJob {
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind.to_string(),
            payload,
            dedupe_key,
            run_after: run_after.unwrap_or_else(Utc::now),
            max_attempts: self.jobs.config.max_attempts,
        };
        let stored = self.store.enqueue_job(tenant, &job).await?;
        metrics::counter!("engram_jobs_enqueued_total", "kind" => kind.to_string()).increment(1);
        self.jobs.queued.notify_one();
        Ok(stored)
    }

    /// The tenant's job with this id.
    pub async fn job(&self, tenant: &str, id: &str) -> Result<Job> {
        self.store
            .get_job(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("job {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_cap_then_stop() {
        let c = JobsConfig::default();
        let waits: Vec<Option<u64>> = (1..=6)
            .map(|a| c.retry_after(a, 6).map(|d| d.as_secs()))
            .collect();
        assert_eq!(
            waits,
            [Some(5), Some(10), Some(20), Some(40), Some(80), None]
        );
        assert_eq!(
            c.retry_after(1, 1),
            None,
            "one attempt allowed: dead at once"
        );
        assert_eq!(
            c.retry_after(40, 100),
            Some(Duration::from_secs(3600)),
            "capped, no overflow"
        );
    }
}
