//! `/mcp`: the Streamable HTTP transport, behind the same bearer keys, rate
//! limit and metrics as the REST API.
//!
//! The transport runs stateless with JSON responses: each POST is answered
//! on its own, so any replica can serve any request and nothing needs
//! sticky sessions. engram sends no server-initiated messages, so it loses
//! nothing by it.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::{Caller, MemoryServer};
use crate::AppState;
use crate::auth::tenant_key;

pub fn routes(state: AppState, max_body_bytes: usize) -> Router<AppState> {
    let engine = state.engine.clone();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(max_body_bytes)
        // The Host allow-list guards unauthenticated local servers against
        // DNS rebinding; every request here needs a bearer key a rebinding
        // page does not have, and deployments answer on their own names.
        .disable_allowed_hosts();
    let service = StreamableHttpService::new(
        move || {
            Ok(MemoryServer {
                engine: engine.clone(),
                caller: Caller::PerRequest,
            })
        },
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .route_service("/mcp", service)
        .route_layer(middleware::from_fn_with_state(state, authenticate))
}

/// Refuses requests without a valid tenant key (401/403 problem+json, as
/// the REST API does) and hands the key's principal to the tools, which
/// check each tool's scope.
async fn authenticate(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match tenant_key(&parts, &s).await {
        Ok(principal) => {
            parts.extensions.insert(principal);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => e.into_response(),
    }
}
