//! `engram bench ...`: measurements through the engine's real paths (the
//! same calls the HTTP handlers make), on a fresh store in a temporary
//! directory. Each prints a readable report, or with `--json` a single JSON
//! object as the last line of stdout.

pub mod embed;
pub mod facts;
pub mod locomo;
pub mod scale;
mod stats;

use std::sync::Arc;

use engram_engine::Engine;

use crate::components;
use crate::config::Config;

/// An engine over a new embedded store in a temporary directory, which is
/// removed when the returned guard is dropped.
pub async fn scratch_engine(c: &Config) -> anyhow::Result<(Arc<Engine>, tempfile::TempDir)> {
    let dir = tempfile::Builder::new().prefix("engram-bench-").tempdir()?;
    let mut c = c.clone();
    c.data_dir = dir.path().to_path_buf();
    c.database_url = None;
    Ok((components::engine(&c).await?, dir))
}

/// An engine for a benchmark that makes (and deletes) its own tenants: over
/// the configured PostgreSQL database when `DATABASE_URL` is set (so both
/// backends are measured by the same code), else over a scratch embedded
/// store as [`scratch_engine`].
pub async fn tenant_engine(c: &Config) -> anyhow::Result<(Arc<Engine>, Option<tempfile::TempDir>)> {
    if c.database_url.is_some() {
        return Ok((components::engine(c).await?, None));
    }
    let (engine, dir) = scratch_engine(c).await?;
    Ok((engine, Some(dir)))
}

/// A suffix that keeps this run's tenant names apart from any other run's
/// in a shared database.
pub fn run_tag() -> String {
    use rand::Rng;
    format!("{:016x}", rand::rng().random::<u64>())
}

/// Prints the JSON summary as the last line of stdout.
pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}
