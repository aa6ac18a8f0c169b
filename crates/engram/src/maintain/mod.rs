//! `engram maintain`: the periodic work, for a CronJob or a timer
//! (docs/LIFECYCLE.md). `engram maintain` runs every task of [`TASKS`] in
//! its order; `engram maintain <task>` runs one. Each runs exactly once
//! across replicas ([`once`]) and its run is recorded for `/metrics`.
//!
//! A task is an async function returning what it did as counts by outcome
//! (`[("removed", 3)]`); adding one is a line in [`TASKS`] (and its `mod`).

mod once;
mod retention;
mod summaries;
mod uploads;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::builder::PossibleValuesParser;
use serde_json::json;

use engram_engine::Engine;

use crate::config::Config;
use crate::{components, datadir};

/// What a task did, by outcome.
pub type Counts = Vec<(&'static str, u64)>;

type Work<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Counts>> + Send + 'a>>;

pub struct Task {
    pub name: &'static str,
    /// Skipped by `engram maintain` (all tasks) when no LLM is configured;
    /// asked for by name, it fails instead.
    needs_llm: bool,
    run: for<'a> fn(&'a Engine, &'a Config, &'a Args) -> Work<'a>,
}

/// A task whose function is `run(engine, config, dry_run)`.
macro_rules! task {
    ($name:literal, $run:path) => {
        Task {
            name: $name,
            needs_llm: false,
            run: |e, c, a| Box::pin($run(e, c, a.dry_run)),
        }
    };
}

/// Every task, in the order `engram maintain` runs them: retention first,
/// so nothing is summarized that is about to go; abandoned uploads next.
pub const TASKS: &[Task] = &[
    task!("retention", retention::run),
    task!("uploads", uploads::run),
    Task {
        name: "summaries",
        needs_llm: true,
        run: |e, _, a| Box::pin(summaries::run(e, a.at, a.dry_run)),
    },
];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One task instead of all of them, in order.
    #[arg(value_parser = PossibleValuesParser::new(TASKS.iter().map(|t| t.name)))]
    task: Option<String>,
    /// Report what would be done (ids, counts) and change nothing; a dry
    /// run takes no lease and is not recorded.
    #[arg(long)]
    dry_run: bool,
    /// The run's time instead of now (RFC 3339), e.g. to catch up on
    /// summaries.
    #[arg(long)]
    at: Option<DateTime<Utc>>,
}

pub async fn run(c: &Config, args: &Args) -> anyhow::Result<()> {
    // The embedded store's indexes live in one process: a `serve` running
    // on the directory would not see this one's deletes.
    let _lock = datadir::lock(c)?;
    let engine = components::engine(c).await?;
    let holder = once::holder();
    let lease = once::Lease {
        store: engine.store().as_ref(),
        holder: &holder,
        ttl: Duration::from_secs(c.maintain_lease_seconds),
        keep: Duration::from_secs(c.maintain_min_interval_seconds),
    };
    let mut failed = Vec::new();
    for task in TASKS {
        if args.task.as_deref().is_some_and(|t| t != task.name) {
            continue;
        }
        let report = |status: &str, extra: serde_json::Value| {
            println!(
                "{}",
                json!({ "task": task.name, "status": status, "result": extra })
            );
        };
        if args.task.is_none() && task.needs_llm && engine.llm().is_none() {
            tracing::info!(
                task = task.name,
                "skipped: no LLM configured (ENGRAM_LLM_URL)"
            );
            report("skipped", json!("no LLM configured"));
            continue;
        }
        let work = (task.run)(&engine, c, args);
        let outcome = if args.dry_run {
            match work.await {
                Ok(counts) => once::Outcome::Done(counts),
                Err(e) => once::Outcome::Failed(e),
            }
        } else {
            lease.run(task.name, work).await?
        };
        match outcome {
            once::Outcome::Done(counts) => {
                tracing::info!(
                    task = task.name,
                    ?counts,
                    dry_run = args.dry_run,
                    "maintenance task done"
                );
                report(
                    "ok",
                    counts
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), json!(v)))
                        .collect(),
                );
            }
            once::Outcome::Failed(e) => {
                tracing::error!(
                    task = task.name,
                    error = format!("{e:#}"),
                    "maintenance task failed"
                );
                report("failed", json!(format!("{e:#}")));
                failed.push(task.name);
            }
            once::Outcome::Skipped => {
                tracing::info!(
                    task = task.name,
                    "skipped: another engram maintain runs it now or did within ENGRAM_MAINTAIN_MIN_INTERVAL_SECONDS"
                );
                report("skipped", json!("another process runs it or just did"));
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "maintenance tasks failed: {} (see the log); the next run tries again",
            failed.join(", ")
        );
    }
    Ok(())
}
