//! `engram serve`: the HTTP server, its background upkeep and its shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use engram_engine::Engine;
use engram_server::{RateLimit, ServerConfig};
use tokio::sync::watch;

use crate::bootstrap;
use crate::components;
use crate::config::Config;
use crate::datadir;

/// How often in-memory index state is saved. Saving is only an
/// optimisation of restart time: acknowledged writes are already durable.
const FLUSH_EVERY: Duration = Duration::from_secs(30);

pub async fn run(c: Config) -> anyhow::Result<()> {
    let addr = c.listen;
    if c.admin_key.is_none() && !addr.ip().is_loopback() {
        bail!(
            "refusing to serve on {addr} without ENGRAM_ADMIN_KEY: set an admin key of at least 32 characters \
             (e.g. `openssl rand -hex 32`), or listen on 127.0.0.1"
        );
    }
    let _lock = datadir::lock(&c)?;
    let engine = components::engine(&c).await?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}; is another server using it? (ENGRAM_LISTEN)")
    })?;
    let local = listener.local_addr()?;
    if c.admin_key.is_none() {
        let key = bootstrap::default_key(&engine, &c.data_dir).await?;
        eprintln!(
            "\nengram is ready on http://{local} with a tenant `default`. Its read-write key:\n\n    {key}\n\n\
             Try:\n    curl -s http://{local}/v1/memories -H 'Authorization: Bearer {key}' \
             -H 'Content-Type: application/json' -d '{{\"content\": \"I like green tea\", \"user_id\": \"me\"}}'\n\n\
             Or open the web console at http://{local}/ui and paste the key.\n"
        );
    }
    let server_config = ServerConfig {
        admin_key: c.admin_key.clone(),
        max_body_bytes: c.max_body_bytes,
        rate_limit: RateLimit {
            per_second: c.rate_limit_per_second,
            burst: c.rate_limit_burst,
        },
        request_timeout: Duration::from_secs(c.request_timeout_seconds),
    };
    let app = engram_server::router(engine.clone(), &server_config);
    tracing::info!(address = %local, console = %format!("http://{local}/ui"), backend = engine.store().backend(), model = engine.embedder().model_id(), "engram serving");

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let flusher = tokio::spawn(flush_periodically(engine.clone(), stop_rx.clone()));
    let workers = engine.start_job_workers(stop_rx.clone());

    let server = engram_server::serve(listener, app, stopped(stop_rx.clone()));
    let deadline = Duration::from_secs(c.shutdown_timeout_seconds);
    tokio::select! {
        r = server => r.context("HTTP server failed")?,
        _ = async { stopped(stop_rx).await; tokio::time::sleep(deadline).await } => {
            tracing::warn!(seconds = deadline.as_secs(), "shutdown deadline passed; closing remaining connections");
        }
    }
    flusher.abort();
    // Requests are done; a job still running gets the rest of the
    // shutdown deadline, then its lease frees it for another worker.
    workers.join(deadline).await;
    engine.flush().await.context("saving indexes at shutdown")?;
    tracing::info!("engram stopped");
    Ok(())
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn flush_periodically(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = engine.flush().await {
                    tracing::warn!(error = %e, "periodic index save failed; will retry");
                }
            }
            _ = stopped(stop.clone()) => return,
        }
    }
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
