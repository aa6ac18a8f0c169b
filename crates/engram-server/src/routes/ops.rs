//! Liveness, readiness, metrics and the API description (no auth).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    version: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Each component: `ok`, or the reason it is not.
    checks: BTreeMap<&'static str, String>,
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: the store and the embedder both answer.
#[utoipa::path(get, path = "/ready", tag = "operations", responses(
    (status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    let checks = s.engine.readiness().await;
    let ok = checks.iter().all(|(_, e)| e.is_none());
    metrics::gauge!("engram_ready").set(if ok { 1.0 } else { 0.0 });
    let body = Readiness {
        status: if ok { "ready" } else { "not_ready" },
        checks: checks
            .into_iter()
            .map(|(name, e)| (name, e.unwrap_or_else(|| "ok".into())))
            .collect(),
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    match s.engine.memories_stored().await {
        Ok(n) => metrics::gauge!("engram_memories_stored").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "could not count memories for /metrics"),
    }
    crate::maintenance_metrics::refresh(s.engine.store().as_ref()).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, content_type = "application/json")))]
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::ApiDoc::openapi())
}
