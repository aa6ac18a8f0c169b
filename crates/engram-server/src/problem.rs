//! Every error leaves the server as `application/problem+json` (RFC 9457)
//! naming what to fix.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use engram_core::Error;

#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: detail.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        let field = field.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            detail: format!("{field}: {}", detail.into()),
            field: Some(field),
            retry_after: None,
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, detail)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Invalid { field, message } => ApiError::field(field, message),
            Error::NotFound(what) => {
                ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
            }
            Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            Error::Unavailable(m) => {
                tracing::warn!(error = %m, "dependency unavailable");
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m);
                err.retry_after = Some(1);
                err
            }
            e @ Error::Inconsistent { .. } => {
                tracing::error!(error = %e, "inconsistent storage");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the server log has the details",
                )
            }
            Error::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the server log has the details",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self
            .status
            .canonical_reason()
            .unwrap_or("Error")
            .to_string();
        let body = Problem {
            kind: format!(
                "https://engram.dev/problems/{}",
                title.to_lowercase().replace(' ', "-")
            ),
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            field: self.field,
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
