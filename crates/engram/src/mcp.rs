//! `engram mcp`: the MCP tools over stdin/stdout for desktop clients
//! (Claude Desktop, Claude Code, Cursor), acting as the tenant whose key is
//! in `ENGRAM_API_KEY`, on the store `engram serve` would use.
//!
//! stdout carries the protocol only; logs go to stderr (see `main`).

use anyhow::{Context, bail};

use crate::config::Config;
use crate::{components, datadir, serve};

pub async fn run(c: Config) -> anyhow::Result<()> {
    let key = match c.api_key.as_deref().map(str::trim) {
        Some(k) if !k.is_empty() => k.to_string(),
        _ => bail!(
            "ENGRAM_API_KEY is not set: `engram mcp` acts as one tenant and needs that tenant's key \
             (the key `engram serve` printed on its first run, kept in {}, or one created with \
             POST /v1/tenants/{{id}}/keys)",
            c.data_dir.join("default-tenant.key").display()
        ),
    };
    let _lock = datadir::lock(&c)?;
    let engine = components::engine(&c).await?;
    let principal = engine.authenticate(&key).await?.context(
        "ENGRAM_API_KEY is not a tenant key of this store: it is unknown or was revoked \
         (the admin key cannot be used here; check ENGRAM_DATA_DIR / DATABASE_URL point at the \
         store the key was made in)",
    )?;
    tracing::info!(
        tenant = %principal.tenant_id,
        scopes = ?principal.scopes,
        "serving MCP over stdio"
    );
    let served = tokio::select! {
        r = engram_server::serve_stdio(engine.clone(), principal) => r.context("MCP over stdio"),
        _ = serve::shutdown_signal() => Ok(()),
    };
    engine.flush().await.context("saving indexes at exit")?;
    tracing::info!("engram mcp stopped");
    served
}
