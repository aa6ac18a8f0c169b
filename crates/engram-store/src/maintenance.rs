//! What `engram maintain` keeps in the store: leases, so that replicas
//! (or a CronJob and a timer) started together run each task once, and
//! the record of every run, which `/metrics` reads because the process
//! that ran the task is gone by the time Prometheus scrapes.
//!
//! Leases and runs belong to the installation, not to a tenant: a task
//! visits every tenant itself, each through tenant-scoped calls.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engram_core::Result;

/// One finished run of a maintenance task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRun {
    /// "summaries", "retention", ...
    pub task: String,
    /// Who ran it (host and process id), for the log and the lease.
    pub holder: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// None: it succeeded. Some: why it failed (no content, only what to fix).
    pub error: Option<String>,
    /// What it did, by outcome ("removed", "written", "failed", ...).
    pub counts: BTreeMap<String, u64>,
}

/// Everything recorded about one task, added up.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskTotals {
    pub task: String,
    pub runs_ok: u64,
    pub runs_failed: u64,
    pub last_success: Option<DateTime<Utc>>,
    /// The latest run's duration, successful or not.
    pub last_duration_seconds: f64,
    /// Every run's counts added up, by outcome.
    pub items: BTreeMap<String, u64>,
}

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the lease `name` for `holder` until `ttl` from now, or extends
    /// it when `holder` has it already. False while another holder's lease
    /// has not expired: the caller must not do the work.
    async fn take_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool>;

    /// Ends `holder`'s lease `name` at `keep` from now (zero: free now).
    /// Keeping it after a success is what makes a replica started a little
    /// later skip the work the first one just did. Does nothing when the
    /// lease is no longer `holder`'s.
    async fn release_lease(&self, name: &str, holder: &str, keep: Duration) -> Result<()>;

    /// Appends a run's record.
    async fn record_task_run(&self, run: &TaskRun) -> Result<()>;

    /// Every task's totals, by task name.
    async fn task_totals(&self) -> Result<Vec<TaskTotals>>;

    /// The latest `limit` runs of `task`, newest first.
    async fn task_runs(&self, task: &str, limit: usize) -> Result<Vec<TaskRun>>;
}
