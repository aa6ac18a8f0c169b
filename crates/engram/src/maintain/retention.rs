//! `engram maintain retention`: every tenant's retention policies applied
//! (docs/LIFECYCLE.md). A dry run prints, per tenant, the ids that would
//! go, and deletes nothing.

use chrono::Utc;
use serde_json::json;

use engram_engine::Engine;

use super::Counts;
use crate::config::Config;

pub async fn run(engine: &Engine, _: &Config, dry_run: bool) -> anyhow::Result<Counts> {
    let now = Utc::now();
    let mut total = 0u64;
    for tenant in engine.store().list_tenants().await? {
        let ids = engine.apply_retention(&tenant.id, now, dry_run).await?;
        if ids.is_empty() {
            continue;
        }
        total += ids.len() as u64;
        // Ids and counts only: a log line must not carry memory content.
        tracing::info!(tenant = %tenant.id, memories = ids.len(), dry_run, "retention applied");
        if dry_run {
            println!("{}", json!({ "tenant": tenant.id, "would_remove": ids }));
        }
    }
    Ok(vec![(
        if dry_run { "would_remove" } else { "removed" },
        total,
    )])
}
