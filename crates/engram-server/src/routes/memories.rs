//! Writing, reading, listing and deleting memories (tenant keys).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use engram_core::query::Page;
use engram_core::{Filter, Kind, Memory, MemoryPatch, NewMemory};

use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::extract::{Body, Path, QueryParams};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::project::Project;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// 1 to 1000 memories, written all or none.
    items: Vec<NewMemory>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchCreated {
    ids: Vec<String>,
    /// Jobs queued for the items with `"infer": true`, and the knowledge
    /// graph's when it is on (`GET /v1/jobs/{id}`).
    jobs: Vec<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    user_id: Option<String>,
    agent_id: Option<String>,
    session_id: Option<String>,
    /// Only memories carrying this label.
    label: Option<String>,
    kind: Option<Kind>,
    /// Only memories that occurred at or after this time (RFC 3339).
    after: Option<DateTime<Utc>>,
    /// Only memories that occurred before this time (RFC 3339).
    before: Option<DateTime<Utc>>,
    /// Only memories valid at this time (RFC 3339); default: all, current
    /// or not (docs/FACTS.md).
    as_of: Option<DateTime<Utc>>,
    /// 1 to 1000; default 50.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScopeParams {
    user_id: Option<String>,
    agent_id: Option<String>,
    session_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    deleted: u64,
}

/// Add a memory. With `Idempotency-Key`, a retry of the same request returns
/// the first result (header `Idempotent-Replayed: true`) instead of adding
/// a second memory. The jobs it queued (`"infer": true`, the knowledge
/// graph's when it is on) are named in the `Engram-Jobs` header
/// (comma-separated ids).
#[utoipa::path(post, path = "/v1/memories", tag = "memories", request_body = NewMemory,
    security(("tenant_key" = ["write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe"),
        ("X-Project-ID" = Option<String>, Header, description = "the project the extraction of `infer: true` items is metered and budgeted under")),
    responses((status = 201, body = Memory), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 429, body = Problem)))]
pub async fn create(
    Writer(p): Writer,
    State(s): State<AppState>,
    headers: HeaderMap,
    Project(project): Project,
    Body(item): Body<NewMemory>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let added = s
        .engine
        .add(&p.tenant_id, item, key, project.as_deref())
        .await?;
    let mut resp = (StatusCode::CREATED, Json(added.memory)).into_response();
    if added.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    // Ids are UUIDs: always a valid header value.
    if !added.jobs.is_empty()
        && let Ok(v) = HeaderValue::from_str(&added.jobs.join(","))
    {
        resp.headers_mut().insert("engram-jobs", v);
    }
    Ok(resp)
}

/// The `Idempotency-Key` header, if sent.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<&str>> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::field("Idempotency-Key", "must be visible ASCII text"))
        })
        .transpose()
}

/// Add up to 1000 memories in one all-or-nothing write. With
/// `Idempotency-Key`, a retry of the same batch answers the first write's
/// ids (header `Idempotent-Replayed: true`) and writes nothing.
#[utoipa::path(post, path = "/v1/memories/batch", tag = "memories", request_body = Batch,
    security(("tenant_key" = ["write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe"),
        ("X-Project-ID" = Option<String>, Header, description = "the project the extraction of `infer: true` items is metered and budgeted under")),
    responses((status = 201, body = BatchCreated), (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem)))]
pub async fn batch(
    Writer(p): Writer,
    State(s): State<AppState>,
    headers: HeaderMap,
    Project(project): Project,
    Body(b): Body<Batch>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let added = s
        .engine
        .add_batch_inferring(&p.tenant_id, b.items, key, project.as_deref())
        .await?;
    let body = BatchCreated {
        ids: added.ids,
        jobs: added.jobs,
    };
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if added.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// Read one memory.
#[utoipa::path(get, path = "/v1/memories/{id}", tag = "memories", security(("tenant_key" = ["read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = Memory), (status = 404, body = Problem)))]
pub async fn get(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Memory>> {
    Ok(Json(s.engine.get(&p.tenant_id, &id).await?))
}

/// Change a memory's content, labels, metadata, importance, kind or
/// validity in place (a correction); a change in the world is a new
/// version (`POST /v1/memories/{id}/versions`).
#[utoipa::path(patch, path = "/v1/memories/{id}", tag = "memories", request_body = MemoryPatch,
    security(("tenant_key" = ["write"])), params(("id" = String, Path)),
    responses((status = 200, body = Memory), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn update(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(patch): Body<MemoryPatch>,
) -> ApiResult<Json<Memory>> {
    Ok(Json(s.engine.update(&p.tenant_id, &id, patch).await?))
}

/// Delete one memory.
#[utoipa::path(delete, path = "/v1/memories/{id}", tag = "memories", security(("tenant_key" = ["write"])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete(&p.tenant_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List memories, newest (by `occurred_at`) first, a page at a time.
#[utoipa::path(get, path = "/v1/memories", tag = "memories", security(("tenant_key" = ["read"])),
    params(ListParams),
    responses((status = 200, body = Page), (status = 400, body = Problem)))]
pub async fn list(
    Reader(p): Reader,
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page>> {
    let filter = Filter {
        user_id: q.user_id,
        agent_id: q.agent_id,
        session_id: q.session_id,
        kind: q.kind,
        labels: q.label.into_iter().collect(),
        after: q.after,
        before: q.before,
        valid_at: q.as_of,
        ..Default::default()
    };
    Ok(Json(
        s.engine
            .list(&p.tenant_id, &filter, q.limit, q.cursor.as_deref())
            .await?,
    ))
}

/// Delete every memory of a user, agent or session (at least one is
/// required; other users are untouched).
#[utoipa::path(delete, path = "/v1/memories", tag = "memories", security(("tenant_key" = ["write"])),
    params(ScopeParams),
    responses((status = 200, body = Deleted), (status = 400, body = Problem)))]
pub async fn delete_where(
    Writer(p): Writer,
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ScopeParams>,
) -> ApiResult<Json<Deleted>> {
    let filter = Filter {
        user_id: q.user_id,
        agent_id: q.agent_id,
        session_id: q.session_id,
        ..Default::default()
    };
    Ok(Json(Deleted {
        deleted: s.engine.delete_where(&p.tenant_id, &filter).await?,
    }))
}
