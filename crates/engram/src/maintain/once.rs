//! Exactly once across replicas: a task runs only under its lease in the
//! store, renewed while it runs, and kept for
//! `maintain_min_interval_seconds` after a success, so a second `engram
//! maintain` started together with (or shortly after) the first skips the
//! task instead of doing it again. Every run that took the lease is
//! recorded, which is what `/metrics` reports.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use engram_store::Store;
use engram_store::maintenance::TaskRun;

use super::Counts;

/// How a task ended in this process.
pub enum Outcome {
    Done(Counts),
    Failed(anyhow::Error),
    /// Another process holds the task's lease (or succeeded within the
    /// minimum interval).
    Skipped,
}

pub struct Lease<'a> {
    pub store: &'a dyn Store,
    pub holder: &'a str,
    pub ttl: Duration,
    /// How long a success keeps others off the task.
    pub keep: Duration,
}

/// Who this process is to other replicas: the host (the pod's name in
/// Kubernetes), the process and a random tag, unique even for two
/// containers that are both pid 1 on hosts of the same name.
pub fn holder() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

impl Lease<'_> {
    pub async fn run<F>(&self, task: &str, work: F) -> anyhow::Result<Outcome>
    where
        F: Future<Output = anyhow::Result<Counts>>,
    {
        let name = format!("maintain:{task}");
        if !self.store.take_lease(&name, self.holder, self.ttl).await? {
            return Ok(Outcome::Skipped);
        }
        let started_at = Utc::now();
        let renew = async {
            loop {
                tokio::time::sleep(self.ttl / 3).await;
                match self.store.take_lease(&name, self.holder, self.ttl).await {
                    Ok(true) => {}
                    Ok(false) => tracing::error!(
                        task,
                        "the maintenance lease was taken over (the run outlived ENGRAM_MAINTAIN_LEASE_SECONDS): raise it"
                    ),
                    Err(e) => {
                        tracing::warn!(task, error = %e, "could not renew the maintenance lease")
                    }
                }
            }
        };
        let result = tokio::select! {
            r = work => r,
            () = renew => unreachable!("renewal loops forever"),
        };
        let finished_at = Utc::now();
        let run = TaskRun {
            task: task.to_string(),
            holder: self.holder.to_string(),
            started_at,
            finished_at,
            error: result.as_ref().err().map(|e| format!("{e:#}")),
            counts: result
                .as_ref()
                .map(|c| c.iter().map(|(k, v)| (k.to_string(), *v)).collect())
                .unwrap_or_default(),
        };
        self.store.record_task_run(&run).await?;
        // A failure frees the task at once for the next attempt.
        let keep = if result.is_ok() {
            self.keep
        } else {
            Duration::ZERO
        };
        self.store.release_lease(&name, self.holder, keep).await?;
        Ok(match result {
            Ok(c) => Outcome::Done(c),
            Err(e) => Outcome::Failed(e),
        })
    }
}
