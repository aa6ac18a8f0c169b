//! A tenant's retention policies (admin key only; docs/LIFECYCLE.md).
//! `engram maintain retention` applies them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use engram_engine::core::retention::Policy;

use crate::AppState;
use crate::auth::Admin;
use crate::extract::{Body, Path};
use crate::problem::{ApiResult, Problem};

/// The tenant's policies, in order: each memory is governed by the first
/// whose `kind` and `label` match it; a memory none matches is kept.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    policies: Vec<Policy>,
}

/// Set (replace) a tenant's retention policies.
#[utoipa::path(put, path = "/v1/tenants/{id}/retention", tag = "admin", request_body = Retention,
    security(("admin_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Retention), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn set(
    _: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<Retention>,
) -> ApiResult<Json<Retention>> {
    s.engine.set_retention(&id, &b.policies).await?;
    Ok(Json(b))
}

/// A tenant's retention policies (an empty list: it keeps everything).
#[utoipa::path(get, path = "/v1/tenants/{id}/retention", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Retention), (status = 404, body = Problem)))]
pub async fn get(
    _: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Retention>> {
    Ok(Json(Retention {
        policies: s.engine.retention(&id).await?,
    }))
}

/// Delete a tenant's retention policies: it keeps everything from now on.
#[utoipa::path(delete, path = "/v1/tenants/{id}/retention", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    _: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_retention(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
