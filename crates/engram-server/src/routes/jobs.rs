//! Background jobs: reading one, and queuing the re-embedding of memories
//! (tenant keys).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use engram_engine::jobs::{Job, REEMBED, ReembedRequest};

use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::extract::{Body, Path};
use crate::problem::{ApiResult, Problem};

/// A background job as its tenant sees it.
#[derive(Serialize, ToSchema)]
pub struct JobView {
    id: String,
    /// What it does (`reembed`, ...).
    kind: String,
    /// `queued` (waiting), `running`, `done`, `failed` (an attempt failed;
    /// retried from `run_after`) or `dead` (every attempt failed).
    #[schema(pattern = "^(queued|running|done|failed|dead)$")]
    status: String,
    /// Attempts started so far.
    attempts: u32,
    max_attempts: u32,
    /// Why the last attempt failed.
    last_error: Option<String>,
    /// What the job produced, once `done`.
    result: Option<Value>,
    /// When it is (or was) due.
    run_after: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> JobView {
        JobView {
            id: j.id,
            kind: j.kind,
            status: j.status.as_str().to_string(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error,
            result: j.result,
            run_after: j.run_after,
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reembed {
    /// 1 to 1000 memory ids; ids not found are counted as `missing`.
    ids: Vec<String>,
}

/// Read a background job: its status, attempts, last error and result.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", security(("tenant_key" = ["read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = JobView), (status = 404, body = Problem)))]
pub async fn get(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    Ok(Json(s.engine.job(&p.tenant_id, &id).await?.into()))
}

/// Queue the re-embedding of memories: their vectors computed again as a
/// new memory's would be now (after changing `session_context` or
/// `context_blend`). Answers at once with the job; `GET /v1/jobs/{id}`
/// follows it.
#[utoipa::path(post, path = "/v1/memories/reembed", tag = "jobs", request_body = Reembed,
    security(("tenant_key" = ["write"])),
    responses((status = 202, body = JobView), (status = 400, body = Problem)))]
pub async fn reembed(
    Writer(p): Writer,
    State(s): State<AppState>,
    Body(b): Body<Reembed>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let req = ReembedRequest { ids: b.ids };
    req.validate()?;
    let payload = serde_json::to_value(&req).map_err(engram_core::Error::internal)?;
    let job = s
        .engine
        .enqueue(&p.tenant_id, REEMBED, payload, None, None)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}
