//! Tenants and their keys (admin key only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use engram_core::tenant::{Scope, Tenant};

use crate::AppState;
use crate::auth::Admin;
use crate::extract::{Body, Path};
use crate::problem::{ApiResult, Problem};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct TenantList {
    items: Vec<Tenant>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    name: String,
    scopes: Vec<Scope>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    id: String,
    tenant_id: String,
    name: String,
    /// The secret. Shown only in this response; store it now.
    key: String,
    scopes: Vec<Scope>,
    created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyInfo {
    id: String,
    name: String,
    scopes: Vec<Scope>,
    created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    items: Vec<KeyInfo>,
}

/// Create a tenant.
#[utoipa::path(post, path = "/v1/tenants", tag = "admin", request_body = NewTenant,
    security(("admin_key" = [])),
    responses((status = 201, body = Tenant), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_tenant(
    _: Admin,
    State(s): State<AppState>,
    Body(b): Body<NewTenant>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.engine.create_tenant(&b.name).await?),
    ))
}

/// List tenants.
#[utoipa::path(get, path = "/v1/tenants", tag = "admin", security(("admin_key" = [])),
    responses((status = 200, body = TenantList), (status = 401, body = Problem)))]
pub async fn list_tenants(_: Admin, State(s): State<AppState>) -> ApiResult<Json<TenantList>> {
    Ok(Json(TenantList {
        items: s.engine.list_tenants().await?,
    }))
}

/// Delete a tenant with every memory and key it has.
#[utoipa::path(delete, path = "/v1/tenants/{id}", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_tenant(
    _: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_tenant(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a key for a tenant. The secret is returned once.
#[utoipa::path(post, path = "/v1/tenants/{id}/keys", tag = "admin", request_body = NewKey,
    security(("admin_key" = [])), params(("id" = String, Path)),
    responses((status = 201, body = CreatedKey), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn create_key(
    _: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let (key, secret) = s.engine.create_key(&id, &b.name, &b.scopes).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            id: key.id,
            tenant_id: key.tenant_id,
            name: key.name,
            key: secret,
            scopes: key.scopes,
            created_at: key.created_at,
        }),
    ))
}

/// List a tenant's keys (never their secrets).
#[utoipa::path(get, path = "/v1/tenants/{id}/keys", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = KeyList), (status = 404, body = Problem)))]
pub async fn list_keys(
    _: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyList>> {
    let keys = s.engine.list_keys(&id).await?;
    Ok(Json(KeyList {
        items: keys
            .into_iter()
            .map(|k| KeyInfo {
                id: k.id,
                name: k.name,
                scopes: k.scopes,
                created_at: k.created_at,
            })
            .collect(),
    }))
}

/// Revoke a key; it stops working at once.
#[utoipa::path(delete, path = "/v1/tenants/{id}/keys/{key_id}", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path), ("key_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_key(
    _: Admin,
    State(s): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.engine.delete_key(&id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
