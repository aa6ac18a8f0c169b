//! `engram maintain uploads`: the upload garbage collector, for a CronJob.
//! An upload that received no byte for `upload_abandon_after_seconds` and
//! is still unfinished is abandoned: its row and bytes are deleted, in
//! every tenant. Finished documents are never touched; a dry run only
//! counts what would go.

use std::time::Duration;

use engram_engine::Engine;

use super::Counts;
use crate::config::Config;

/// What the run did, as `(name, count)` pairs for its report.
pub async fn run(engine: &Engine, config: &Config, dry_run: bool) -> anyhow::Result<Counts> {
    let abandon_after = Duration::from_secs(config.upload_abandon_after_seconds);
    let n = engine
        .collect_abandoned_uploads(abandon_after, dry_run)
        .await?;
    let name = if dry_run {
        "uploads_abandoned"
    } else {
        "uploads_removed"
    };
    Ok(vec![(name, n)])
}
