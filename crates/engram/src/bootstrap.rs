//! First run on a laptop: with no admin key and a loopback address, engram
//! creates a `default` tenant and a read-write key once, keeps the key in
//! the data directory, and prints it, so `engram serve` alone is usable.

use std::path::Path;

use anyhow::Context;
use engram_core::tenant::Scope;
use engram_engine::Engine;

const KEY_FILE: &str = "default-tenant.key";

/// Returns the default tenant's key, creating tenant and key when needed.
pub async fn default_key(engine: &Engine, data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(KEY_FILE);
    if let Ok(key) = std::fs::read_to_string(&path) {
        let key = key.trim().to_string();
        if engine.authenticate(&key).await?.is_some() {
            return Ok(key);
        }
    }
    let tenant = match engine.find_tenant_by_name("default").await? {
        Some(t) => t,
        None => engine.create_tenant("default").await?,
    };
    let (_, secret) = engine
        .create_key(
            &tenant.id,
            "default (first run)",
            &[Scope::Read, Scope::Write],
        )
        .await?;
    std::fs::create_dir_all(data_dir)?;
    write_private(&path, &secret)
        .with_context(|| format!("saving the key to {}", path.display()))?;
    Ok(secret)
}

fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(secret.as_bytes())?;
    f.sync_all()
}
