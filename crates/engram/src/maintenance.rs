//! One-shot commands: migrate, backup, restore, healthcheck.

use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::components::open_store;
use crate::config::Config;
use crate::progress::{Progress, Reading, Unit, Writing};

pub async fn migrate(c: &Config) -> anyhow::Result<()> {
    // Opening a store applies its pending migrations.
    let store = open_store(c).await?;
    store.ping().await.ok();
    tracing::info!(backend = store.backend(), "schema is up to date");
    Ok(())
}

pub async fn backup(c: &Config, out: &Path) -> anyhow::Result<()> {
    let store = open_store(c).await?;
    let Some((model, dim)) = store.embedding_space().await? else {
        bail!("the store holds no embeddings yet (it was never served); nothing to back up");
    };
    let tmp = out.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut progress = Progress::new("backing up", Unit::Bytes, None);
    let counted = Writing {
        inner: BufWriter::new(file),
        progress: &mut progress,
    };
    let mut gz = GzEncoder::new(counted, Compression::default());
    let counts = engram_store::backup::export(store.as_ref(), &model, dim, &mut gz).await?;
    let file = gz
        .finish()?
        .inner
        .into_inner()
        .map_err(|e| e.into_error())?;
    file.sync_all()?;
    progress.finish();
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    tracing::info!(
        path = %out.display(),
        tenants = counts.tenants,
        keys = counts.keys,
        conversations = counts.conversations,
        memories = counts.memories,
        "backup written"
    );
    println!("{}", out.display());
    Ok(())
}

pub async fn restore(c: &Config, from: &Path) -> anyhow::Result<()> {
    let store = open_store(c).await?;
    let file = std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let mut progress = Progress::new("restoring", Unit::Bytes, Some(file.metadata()?.len()));
    let counted = Reading {
        inner: file,
        progress: &mut progress,
    };
    let mut input = BufReader::new(GzDecoder::new(counted));
    let counts = engram_store::backup::restore(store.as_ref(), &mut input).await?;
    progress.finish();
    store.flush().await?;
    tracing::info!(
        tenants = counts.tenants,
        keys = counts.keys,
        conversations = counts.conversations,
        memories = counts.memories,
        "restore complete"
    );
    Ok(())
}

pub fn healthcheck(url: &str) -> anyhow::Result<()> {
    let resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?
        .get(url)
        .send()
        .with_context(|| format!("GET {url}"))?;
    if !resp.status().is_success() {
        bail!("GET {url} answered {}", resp.status());
    }
    std::io::stdout().write_all(b"ok\n")?;
    Ok(())
}
