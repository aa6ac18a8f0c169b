//! The temporal model's routes (docs/FACTS.md): a new version of a fact,
//! a fact's history, and queuing summaries and reflections.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use engram_core::Memory;
use engram_core::summary::{ReflectionRequest, SummaryRequest};
use engram_core::temporal::{History, NewVersion};

use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::extract::{Body, Path};
use crate::problem::{ApiResult, Problem};
use crate::project::Project;
use crate::routes::jobs::JobView;

/// Write a new version of a fact: it keeps its id and holds the new content
/// from `valid_from` (default now); the state it replaces is kept as an
/// earlier version (`version_of` the fact, valid until the change), found
/// by `as_of` searches and in the history.
#[utoipa::path(post, path = "/v1/memories/{id}/versions", tag = "memories", request_body = NewVersion,
    security(("tenant_key" = ["write"])), params(("id" = String, Path)),
    responses((status = 201, body = Memory), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn new_version(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(change): Body<NewVersion>,
) -> ApiResult<(StatusCode, Json<Memory>)> {
    let m = s.engine.new_version(&p.tenant_id, &id, change).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// Every version of a fact, oldest first, the current one last (given the
/// id of an earlier version, that of its fact).
#[utoipa::path(get, path = "/v1/memories/{id}/history", tag = "memories",
    security(("tenant_key" = ["read"])), params(("id" = String, Path)),
    responses((status = 200, body = History), (status = 404, body = Problem)))]
pub async fn history(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<History>> {
    Ok(Json(s.engine.history(&p.tenant_id, &id).await?))
}

/// Queue a summary: of a session (`session_id`; refreshed as a new version
/// when it has one), or a user's daily, weekly or monthly roll-up
/// (`user_id` and `period`, the period holding `at`). Needs an LLM (409
/// `llm_not_configured` otherwise); `GET /v1/jobs/{id}` follows it.
#[utoipa::path(post, path = "/v1/summaries", tag = "memories", request_body = SummaryRequest,
    security(("tenant_key" = ["write"])),
    params(("X-Project-ID" = Option<String>, Header, description = "the project the LLM call is metered and budgeted under")),
    responses((status = 202, body = JobView), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn summarize(
    Writer(p): Writer,
    State(s): State<AppState>,
    Project(project): Project,
    Body(req): Body<SummaryRequest>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let job = s
        .engine
        .queue_summary(&p.tenant_id, project.as_deref(), &req)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}

/// Queue a reflection: up to three insights across the user's latest
/// memories, stored as kind `reflection` citing them. Needs an LLM.
#[utoipa::path(post, path = "/v1/reflections", tag = "memories", request_body = ReflectionRequest,
    security(("tenant_key" = ["write"])),
    params(("X-Project-ID" = Option<String>, Header, description = "the project the LLM call is metered and budgeted under")),
    responses((status = 202, body = JobView), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn reflect(
    Writer(p): Writer,
    State(s): State<AppState>,
    Project(project): Project,
    Body(req): Body<ReflectionRequest>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let job = s
        .engine
        .queue_reflection(&p.tenant_id, project.as_deref(), &req)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}
