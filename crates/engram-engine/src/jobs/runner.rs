//! The workers: each claims a due job, runs its handler and records the
//! outcome, until shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use engram_core::Error;
use engram_store::jobs::{Job, JobStatus, Retry};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Engine;

/// How often the queue-depth gauge is refreshed (one `GROUP BY` over the
/// jobs table per process).
const DEPTH_EVERY: Duration = Duration::from_secs(15);
/// How often ended jobs past their retention are deleted (by every replica:
/// the delete is idempotent).
const PRUNE_EVERY: u32 = 240; // depth refreshes: an hour

/// The running workers of this process.
pub struct JobWorkers {
    tasks: Vec<JoinHandle<()>>,
}

impl JobWorkers {
    /// Waits for the workers to finish the jobs they are running (they
    /// claim no more once stopped), at most `deadline`; a job still
    /// running then is abandoned and claimed again when its lease expires.
    pub async fn join(self, deadline: Duration) {
        let all = join_all(self.tasks);
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!(
                seconds = deadline.as_secs(),
                "jobs still running at shutdown; their leases will expire and another worker will run them"
            );
        }
    }
}

async fn join_all(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

impl Engine {
    /// Starts this process's workers (`JobsConfig::workers`) and the
    /// queue-depth gauge; they stop claiming once `stop` turns true.
    pub fn start_job_workers(self: &Arc<Engine>, stop: watch::Receiver<bool>) -> JobWorkers {
        // Distinct across replicas (which may share a pid in containers) and
        // restarts, so a claim names the process that made it.
        let process = uuid::Uuid::now_v7().simple().to_string();
        let mut tasks: Vec<JoinHandle<()>> = (0..self.jobs.config.workers)
            .map(|i| {
                let (engine, stop) = (self.clone(), stop.clone());
                let worker = format!("{}-{i}", &process[process.len() - 12..]);
                tokio::spawn(async move { engine.work(worker, stop).await })
            })
            .collect();
        let (engine, stop) = (self.clone(), stop.clone());
        tasks.push(tokio::spawn(async move { engine.upkeep(stop).await }));
        tracing::info!(workers = self.jobs.config.workers, kinds = ?self.job_kinds(), "job workers started");
        JobWorkers { tasks }
    }

    fn job_kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.jobs.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    async fn work(self: Arc<Engine>, worker: String, mut stop: watch::Receiver<bool>) {
        let kinds = self.job_kinds();
        let config = &self.jobs.config;
        while !*stop.borrow() {
            match self.store.claim_job(&worker, &kinds, config.lease).await {
                Ok(Some(job)) => self.clone().run_job(job).await,
                Ok(None) => {
                    tokio::select! {
                        _ = self.jobs.queued.notified() => {}
                        _ = tokio::time::sleep(config.poll) => {}
                        _ = stop.changed() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(worker, error = %e.chain(), "claiming a job failed; will retry");
                    tokio::select! {
                        _ = tokio::time::sleep(config.poll) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
    }

    /// Runs the job's handler in a task of its own, so that a handler that
    /// panics fails its job (and is retried) instead of taking the worker
    /// down, and one that runs past its lease, when another worker may
    /// claim the job, is stopped and failed.
    async fn run_job(self: Arc<Engine>, job: Job) {
        let Some(handler) = self.jobs.handlers.get(job.kind.as_str()).cloned() else {
            return; // Never claimed: claims name this process's kinds.
        };
        let start = Instant::now();
        let lease = self.jobs.config.lease;
        let task = {
            let (engine, job) = (self.clone(), job.clone());
            tokio::spawn(async move { handler.run(&engine, &job).await })
        };
        let abort = task.abort_handle();
        let outcome = match tokio::time::timeout(lease, task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => Err(Error::internal(format!(
                "the {} handler panicked: {e}",
                job.kind
            ))),
            Err(_) => {
                abort.abort();
                Err(Error::internal(format!(
                    "ran longer than its lease ({} s, ENGRAM_JOB_LEASE_SECONDS) and was stopped",
                    lease.as_secs()
                )))
            }
        };
        let elapsed = start.elapsed().as_secs_f64();
        let (recorded, status) = match outcome {
            Ok(result) => (self.store.complete_job(&job, &result).await, "done"),
            Err(e) => {
                let error = e.chain().to_string();
                let retry = match self.jobs.config.retry_after(job.attempts, job.max_attempts) {
                    Some(wait) => Retry::At(
                        Utc::now()
                            + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
                    ),
                    None => Retry::Never,
                };
                let status = if retry == Retry::Never {
                    "dead"
                } else {
                    "failed"
                };
                tracing::warn!(
                    job = job.id,
                    kind = job.kind,
                    attempt = job.attempts,
                    status,
                    error,
                    "job failed"
                );
                (self.store.fail_job(&job, &error, retry).await, status)
            }
        };
        metrics::histogram!("engram_job_duration_seconds", "kind" => job.kind.clone(), "status" => status)
            .record(elapsed);
        match recorded {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                job = job.id,
                kind = job.kind,
                "job's lease expired while it ran and another worker claimed it; its outcome here is dropped"
            ),
            Err(e) => {
                tracing::warn!(job = job.id, kind = job.kind, error = %e.chain(), "recording a job's outcome failed; it runs again when its lease expires")
            }
        }
    }

    /// Refreshes the queue-depth gauge, and deletes ended jobs past their
    /// retention (at start, then hourly).
    async fn upkeep(&self, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(DEPTH_EVERY);
        let mut round = 0u32;
        while !*stop.borrow() {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if round.is_multiple_of(PRUNE_EVERY) {
                let retention = chrono::Duration::from_std(self.jobs.config.retention)
                    .unwrap_or(chrono::Duration::MAX);
                let before = Utc::now()
                    .checked_sub_signed(retention)
                    .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
                match self.store.prune_jobs(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "deleted ended jobs past their retention"),
                    Err(e) => {
                        tracing::warn!(error = %e.chain(), "deleting old jobs failed; will retry")
                    }
                }
            }
            round = round.wrapping_add(1);
            match self.store.count_jobs().await {
                Ok(counts) => {
                    for status in JobStatus::ALL {
                        let n = counts
                            .iter()
                            .find(|(s, _)| *s == status)
                            .map_or(0, |(_, n)| *n);
                        metrics::gauge!("engram_jobs", "status" => status.as_str()).set(n as f64);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e.chain(), "counting jobs for the queue-depth metric failed")
                }
            }
        }
    }
}
