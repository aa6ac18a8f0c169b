//! Search and context assembly (tenant keys with `read`).

use axum::Json;
use axum::extract::State;

use engram_core::query::{ContextRequest, ContextResponse, SearchRequest, SearchResponse};

use crate::AppState;
use crate::auth::Reader;
use crate::extract::Body;
use crate::problem::{ApiResult, Problem};

/// Find the memories that best answer a query: lexical (BM25) and dense
/// (embedding) retrieval fused, near-duplicates removed, best first.
#[utoipa::path(post, path = "/v1/search", tag = "retrieval", request_body = SearchRequest,
    security(("tenant_key" = ["read"])),
    responses((status = 200, body = SearchResponse), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn search(
    Reader(p): Reader,
    State(s): State<AppState>,
    Body(req): Body<SearchRequest>,
) -> ApiResult<Json<SearchResponse>> {
    Ok(Json(s.engine.search(&p.tenant_id, &req).await?))
}

/// Build a prompt-ready block of the most relevant memories that never
/// exceeds `token_budget` tokens, each line citing its time and id.
#[utoipa::path(post, path = "/v1/context", tag = "retrieval", request_body = ContextRequest,
    security(("tenant_key" = ["read"])),
    responses((status = 200, body = ContextResponse), (status = 400, body = Problem)))]
pub async fn context(
    Reader(p): Reader,
    State(s): State<AppState>,
    Body(req): Body<ContextRequest>,
) -> ApiResult<Json<ContextResponse>> {
    Ok(Json(s.engine.context(&p.tenant_id, &req).await?))
}
