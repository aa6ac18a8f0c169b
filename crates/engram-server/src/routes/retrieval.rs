//! Search, context assembly and answers (tenant keys with `read`).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use engram_core::Filter;
use engram_core::query::{ContextRequest, ContextResponse, SearchRequest, SearchResponse};

use crate::AppState;
use crate::auth::Reader;
use crate::extract::Body;
use crate::problem::{ApiResult, Problem};
use crate::project::Project;

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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    query: String,
    /// Upper bound on the tokens of the memories given to the LLM; default
    /// 1000 (a local CPU model reads ~30 tokens/s).
    #[serde(default)]
    token_budget: Option<usize>,
    #[serde(default)]
    filters: Filter,
    /// Most tokens of the answer, 1 to 2000; default 200.
    #[serde(default)]
    max_tokens: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenUsage {
    input_tokens: u64,
    output_tokens: u64,
}

#[derive(Serialize, ToSchema)]
pub struct AnswerResponse {
    /// The LLM's answer, citing memories by their number in `context`.
    answer: String,
    model: String,
    /// Tokens as the LLM counted them (what `/v1/usage` records).
    usage: TokenUsage,
    context: ContextResponse,
}

/// Answer a question from the tenant's memories with the configured LLM
/// (docs/LLM.md). Metered and budgeted under `X-Project-ID`; over a hard
/// budget 402 `budget_exceeded`, with no LLM 409 `llm_not_configured`.
#[utoipa::path(post, path = "/v1/answer", tag = "retrieval", request_body = AnswerRequest,
    security(("tenant_key" = ["read"])),
    params(("X-Project-ID" = Option<String>, Header, description = "the project the call is metered and budgeted under")),
    responses((status = 200, body = AnswerResponse), (status = 400, body = Problem),
        (status = 402, body = Problem), (status = 409, body = Problem)))]
pub async fn answer(
    Reader(p): Reader,
    State(s): State<AppState>,
    Project(project): Project,
    Body(req): Body<AnswerRequest>,
) -> ApiResult<Json<AnswerResponse>> {
    let context = ContextRequest {
        query: req.query,
        token_budget: req.token_budget,
        filters: req.filters,
        // What holds now: the answer is not built from replaced facts.
        ..Default::default()
    };
    let a = s
        .engine
        .answer(&p.tenant_id, project.as_deref(), &context, req.max_tokens)
        .await?;
    Ok(Json(AnswerResponse {
        answer: a.answer,
        model: a.model,
        usage: TokenUsage {
            input_tokens: a.usage.input_tokens,
            output_tokens: a.usage.output_tokens,
        },
        context: a.context,
    }))
}
