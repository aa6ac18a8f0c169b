//! `X-Project-ID`: the project within a tenant that LLM calls are metered
//! and budgeted under (like RAE's header of the same name).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use engram_core::budget::validate_project;

use crate::problem::ApiError;

pub const HEADER: &str = "x-project-id";

/// The request's project, if it names one.
pub struct Project(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Project {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get(HEADER) else {
            return Ok(Project(None));
        };
        let v = v
            .to_str()
            .map_err(|_| ApiError::field("X-Project-ID", "must be visible ASCII text"))?;
        validate_project(v).map_err(|e| ApiError::field("X-Project-ID", e))?;
        Ok(Project(Some(v.to_string())))
    }
}
