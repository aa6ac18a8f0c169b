//! The durable job queue: work the engine does after answering (fact
//! extraction, summaries, re-embedding), kept in the store so it survives
//! restarts and runs once across replicas.
//!
//! A job is claimed under a lease: the claim sets `running`, counts an
//! attempt and hands the worker a fresh claim token. Completing or failing
//! needs that token and an unexpired-or-not-yet-reclaimed lease, so when a
//! worker dies (or stalls past its lease) and another claims the job, the
//! first one's late answer is refused and the job ends once. PostgreSQL
//! claims with `FOR UPDATE SKIP LOCKED`, so replicas never wait on each
//! other's claims; the embedded store claims in one transaction.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engram_core::Result;
use serde_json::Value;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting for a worker (from `run_after` on).
    Queued,
    /// Claimed by a worker whose lease has not been released.
    Running,
    /// Finished; `result` holds what the handler returned.
    Done,
    /// The last attempt failed; queued again for `run_after`.
    Failed,
    /// Every attempt failed; `last_error` says why. Never retried.
    Dead,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Failed,
        JobStatus::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Whether the job will not run again.
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Dead)
    }
}

/// A job to queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// A fresh id (UUIDv7), chosen by the caller.
    pub id: String,
    /// Which handler runs it ("reembed", "facts", ...).
    pub kind: String,
    pub payload: Value,
    /// While a job of the same tenant, kind and key is not finished, queuing
    /// another returns that one instead (the same work is not queued twice).
    pub dedupe_key: Option<String>,
    pub run_after: DateTime<Utc>,
    /// Attempts before the job is `dead` (at least 1).
    pub max_attempts: u32,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub payload: Value,
    pub status: JobStatus,
    pub dedupe_key: Option<String>,
    /// Attempts claimed so far (including one running now).
    pub attempts: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    pub result: Option<Value>,
    pub run_after: DateTime<Utc>,
    /// Until when the claiming worker holds the job (while `running`).
    pub lease_until: Option<DateTime<Utc>>,
    /// The current claim's token (while `running`): complete and fail need it.
    pub claim: Option<String>,
    /// The worker that claimed it last.
    pub worker: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a failed attempt ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Queued again (status `failed`) from this time on.
    At(DateTime<Utc>),
    /// No more attempts: `dead`.
    Never,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Queues `job` in `tenant_id`, or returns the unfinished job with the
    /// same kind and `dedupe_key` (then `job` is dropped).
    async fn enqueue_job(&self, tenant_id: &str, job: &NewJob) -> Result<Job>;

    /// Claims the job of one of `kinds` due longest (`queued` or `failed`
    /// with `run_after` passed, or `running` with its lease expired), of
    /// any tenant: sets it `running` for `lease`, counts an attempt, records
    /// `worker` and a new claim token. `None` when nothing is due.
    async fn claim_job(&self, worker: &str, kinds: &[&str], lease: Duration)
    -> Result<Option<Job>>;

    /// Ends the claimed job as `done` with `result`. False (and nothing
    /// changes) when `claim` is no longer the job's claim: the lease
    /// expired and another worker took the job.
    async fn complete_job(&self, job: &Job, result: &Value) -> Result<bool>;

    /// Records a failed attempt: `failed` until `retry`'s time, or `dead`,
    /// with `error` kept. False when the claim is no longer the job's.
    async fn fail_job(&self, job: &Job, error: &str, retry: Retry) -> Result<bool>;

    /// The job with this id in `tenant_id` (another tenant's is not found).
    async fn get_job(&self, tenant_id: &str, id: &str) -> Result<Option<Job>>;

    /// Jobs per status over all tenants, for the queue-depth metric.
    async fn count_jobs(&self) -> Result<Vec<(JobStatus, u64)>>;

    /// Deletes the jobs of every tenant that ended (`done` or `dead`) before
    /// `before`; returns how many.
    async fn prune_jobs(&self, before: DateTime<Utc>) -> Result<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_by_name() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobStatus::parse("paused"), None);
        assert!(JobStatus::Done.is_final() && JobStatus::Dead.is_final());
        assert!(!JobStatus::Failed.is_final());
    }
}
