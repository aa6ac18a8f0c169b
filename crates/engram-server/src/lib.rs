//! engram's HTTP interface. It authenticates, limits, validates shapes and
//! maps errors; everything else is a call into [`engram_engine::Engine`].

mod auth;
mod deadline;
mod extract;
mod maintenance_metrics;
mod mcp;
mod metrics;
mod openapi;
mod problem;
pub mod project;
mod ratelimit;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use engram_core::Code;
use engram_engine::Engine;

pub use mcp::serve_stdio;
pub use problem::{ApiError, Problem};
pub use ratelimit::RateLimit;

/// Server settings that are not the engine's business.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `None` disables the admin routes.
    pub admin_key: Option<String>,
    pub max_body_bytes: usize,
    pub rate_limit: RateLimit,
    /// Longest time one request may take before it is answered 503.
    pub request_timeout: Duration,
}

#[derive(Clone)]
pub struct AppState {
    engine: Arc<Engine>,
    admin_key_hash: Option<String>,
    limiter: Arc<ratelimit::Limiter>,
}

/// The whole HTTP application.
pub fn router(engine: Arc<Engine>, config: &ServerConfig) -> Router {
    let state = AppState {
        engine,
        admin_key_hash: config.admin_key.as_deref().map(engram_engine::hash_secret),
        limiter: Arc::new(ratelimit::Limiter::new(config.rate_limit)),
    };
    metrics::handle();
    routes::routes()
        .merge(mcp::routes(state.clone(), config.max_body_bytes))
        .fallback(|| async {
            ApiError::new(Code::RouteNotFound, "no such route; see /openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                Code::MethodNotAllowed,
                "method not allowed on this route; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            config.request_timeout,
            deadline::enforce,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |panic: Box<dyn std::any::Any + Send>| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let e = ApiError::new(Code::Internal, format!("request handler panicked: {what}"));
                axum::response::IntoResponse::into_response(e)
            },
        ))
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
