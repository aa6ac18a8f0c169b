//! Who is calling: extractors that turn the bearer key into a tenant
//! principal or the admin, apply the rate limit, and check scopes.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use engram_core::Code;
use engram_core::tenant::Scope;
use engram_engine::{Principal, hash_secret};

use crate::AppState;
use crate::problem::ApiError;

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            Code::MissingKey,
            "missing Authorization header; send `Authorization: Bearer <key>`",
        )
    })?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::new(Code::MissingKey, "Authorization header is not valid text"))?;
    match value.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty() => {
            Ok(key.trim())
        }
        _ => Err(ApiError::new(
            Code::MissingKey,
            "Authorization must be `Bearer <key>`",
        )),
    }
}

async fn rate_limit(state: &AppState, who: &str) -> Result<(), ApiError> {
    state
        .limiter
        .admit(&state.engine, who)
        .await
        .map_err(|secs| {
            let mut e = ApiError::new(
                Code::RateLimited,
                format!("rate limit exceeded for this key; retry in {secs} s"),
            );
            e.retry_after = Some(secs);
            e
        })
}

/// The tenant key of a request, rate-limited; scopes are the caller's to
/// check (per route for REST, per tool for MCP).
pub async fn tenant_key(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let key = bearer(parts)?;
    if state.is_admin(key) {
        return Err(ApiError::new(
            Code::TenantOnly,
            "the admin key manages tenants and keys only; use a tenant key for memories",
        ));
    }
    let principal = state
        .engine
        .authenticate(key)
        .await?
        .ok_or_else(|| ApiError::new(Code::InvalidKey, "unknown or revoked key"))?;
    rate_limit(state, &principal.key_id).await?;
    Ok(principal)
}

async fn tenant_principal(
    parts: &Parts,
    state: &AppState,
    scope: Scope,
) -> Result<Principal, ApiError> {
    let principal = tenant_key(parts, state).await?;
    if !principal.scopes.contains(&scope) {
        return Err(ApiError::new(
            Code::MissingScope,
            format!("this key lacks the '{}' scope", scope.as_str()),
        ));
    }
    Ok(principal)
}

/// A request made with a tenant key that may read. Checked before the body
/// is read, so a refused caller learns nothing from validation errors.
pub struct Reader(pub Principal);

/// A request made with a tenant key that may write.
pub struct Writer(pub Principal);

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        tenant_principal(parts, state, Scope::Read)
            .await
            .map(Reader)
    }
}

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        tenant_principal(parts, state, Scope::Write)
            .await
            .map(Writer)
    }
}

/// A request made with the admin key.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        if state.admin_key_hash.is_none() {
            return Err(ApiError::new(
                Code::AdminDisabled,
                "admin routes are disabled: start the server with ENGRAM_ADMIN_KEY set",
            ));
        }
        if state.is_admin(key) {
            rate_limit(state, "admin").await?;
            return Ok(Admin);
        }
        if state.engine.authenticate(key).await?.is_some() {
            return Err(ApiError::new(
                Code::AdminOnly,
                "tenant keys cannot manage tenants; use the admin key",
            ));
        }
        Err(ApiError::new(Code::InvalidKey, "unknown key"))
    }
}

/// A request made with any valid key: the admin key, or a tenant key of
/// whatever scopes, for the routes that tell a client who it is.
pub enum Caller {
    Admin,
    Tenant(Principal),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.is_admin(bearer(parts)?) {
            rate_limit(state, "admin").await?;
            return Ok(Caller::Admin);
        }
        tenant_key(parts, state).await.map(Caller::Tenant)
    }
}

impl AppState {
    /// Compares hashes rather than secrets, so timing reveals nothing about
    /// the admin key.
    pub fn is_admin(&self, key: &str) -> bool {
        self.admin_key_hash.as_deref() == Some(hash_secret(key).as_str())
    }
}
