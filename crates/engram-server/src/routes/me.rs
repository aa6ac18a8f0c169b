//! Who the caller is: lets a client (the console, a CLI) adapt to its key,
//! offering only what the key's scopes allow, without trial requests.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use engram_core::Code;
use engram_core::tenant::{Scope, Tenant};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::{ApiError, ApiResult, Problem};

#[derive(Serialize, ToSchema)]
pub struct Me {
    /// `tenant` for a tenant key, `admin` for the admin key.
    kind: &'static str,
    /// The key's tenant; absent for the admin key.
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<Tenant>,
    /// The key's id (as `GET /v1/tenants/{id}/keys` lists it); absent for
    /// the admin key.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    /// What the key may do with memories; empty for the admin key, which
    /// manages tenants and keys only.
    scopes: Vec<Scope>,
    server: ServerInfo,
}

/// What serves the tenant's data: which store and which embedding space.
#[derive(Serialize, ToSchema)]
pub struct ServerInfo {
    version: &'static str,
    /// `embedded` or `postgres`.
    store: &'static str,
    embedding_model: String,
    embedding_dimension: usize,
}

/// The calling key: its kind, tenant and scopes, and the server it talks to.
// The admin key is listed first so scripts/api-fuzz, which sends the first
// scheme's key and fuzzes the operations routes with the admin key, gets
// past authentication here too.
#[utoipa::path(get, path = "/v1/me", tag = "operations",
    security(("admin_key" = []), ("tenant_key" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(caller: Caller, State(s): State<AppState>) -> ApiResult<Json<Me>> {
    let embedder = s.engine.embedder();
    let server = ServerInfo {
        version: env!("CARGO_PKG_VERSION"),
        store: s.engine.store().backend(),
        embedding_model: embedder.model_id().to_string(),
        embedding_dimension: embedder.dimension(),
    };
    let me = match caller {
        Caller::Admin => Me {
            kind: "admin",
            tenant: None,
            key_id: None,
            scopes: Vec::new(),
            server,
        },
        Caller::Tenant(p) => {
            // Only a race with the tenant's deletion, which takes its
            // keys with it.
            let tenant = s
                .engine
                .tenant(&p.tenant_id)
                .await?
                .ok_or_else(|| ApiError::new(Code::InvalidKey, "unknown or revoked key"))?;
            Me {
                kind: "tenant",
                tenant: Some(tenant),
                key_id: Some(p.key_id),
                scopes: p.scopes,
                server,
            }
        }
    };
    Ok(Json(me))
}
