//! Every error leaves the server as `application/problem+json` (RFC 9457)
//! naming what to fix, with the stable [`Code`] a program branches on.

use std::fmt::Display;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use engram_core::error::Log;
use engram_core::{Code, Error};

/// `type` is this followed by the code: one stable URI per code.
const TYPE_BASE: &str = "https://engram.dev/problems/";

/// What a 500 says; the cause chain goes to the log, not to the client.
const INTERNAL_DETAIL: &str = "internal error; the server log has the details";

#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `https://engram.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[schema(inline)]
    pub code: Code,
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub detail: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error the server makes itself; logged as its code says (and for
    /// a 500, `detail` goes only to the log).
    pub fn new(code: Code, detail: impl Into<String>) -> ApiError {
        let detail = detail.into();
        log(code, &detail, None);
        ApiError::unlogged(code, detail, None)
    }

    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        let field = field.into();
        let detail = format!("{field}: {}", detail.into());
        ApiError::unlogged(Code::InvalidField, detail, Some(field))
    }

    /// 503s may succeed a second later; 429s set their own wait.
    fn unlogged(code: Code, detail: String, field: Option<String>) -> ApiError {
        ApiError {
            code,
            detail: public_detail(code, detail),
            field,
            retry_after: (code.status() == 503).then_some(1),
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Writes the log line a code calls for (docs/ERRORS.md, "logged"), with
/// the MCP tool when the error came from one.
pub(crate) fn log(code: Code, error: &dyn Display, tool: Option<&str>) {
    let name = code.name();
    match code.log() {
        Log::Warn => tracing::warn!(code = name, tool, error = %error, "request failed"),
        Log::Error => tracing::error!(code = name, tool, error = %error, "request failed"),
        Log::No => {}
    }
}

/// What the client is told: a refusal's (or a 503's) own message, for a
/// 500 only where to look.
pub(crate) fn public_detail(code: Code, detail: String) -> String {
    if code.status() == 500 {
        INTERNAL_DETAIL.to_string()
    } else {
        detail
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        log(e.code(), &e.chain(), None);
        let field = e.field().map(str::to_string);
        ApiError::unlogged(e.code(), e.to_string(), field)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Problem {
            kind: format!("{TYPE_BASE}{}", self.code.name()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            code: self.code,
            detail: self.detail,
            field: self.field,
        };
        let mut resp = (status, axum::Json(body)).into_response();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_and_its_own_type() {
        let mut types = std::collections::HashSet::new();
        for &code in Code::ALL {
            let e = ApiError::unlogged(code, "d".into(), None);
            assert_eq!(e.status().as_u16(), code.status(), "{code}");
            assert!(types.insert(format!("{TYPE_BASE}{code}")));
        }
    }

    #[test]
    fn faults_hide_their_cause_and_refusals_keep_their_field() {
        let e = ApiError::from(Error::internal("disk on fire"));
        assert_eq!(
            (e.code, e.detail.as_str()),
            (Code::Internal, INTERNAL_DETAIL)
        );
        let e = ApiError::from(Error::inconsistent("memories row 1", "bad labels"));
        assert_eq!(e.code, Code::InconsistentStorage);
        assert!(!e.detail.contains("labels"), "{}", e.detail);
        let e = ApiError::from(Error::unavailable("database unavailable: refused"));
        assert_eq!((e.code, e.retry_after), (Code::Unavailable, Some(1)));
        assert!(e.detail.contains("refused"), "{}", e.detail);
        let e = ApiError::from(Error::invalid("limit", "must be 1 to 100"));
        assert_eq!(
            (e.code, e.field.as_deref(), e.detail.as_str()),
            (Code::InvalidField, Some("limit"), "limit: must be 1 to 100")
        );
    }
}
