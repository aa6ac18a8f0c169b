//! Request body and query-string extractors whose errors name the field.
//!
//! axum's own extractors answer in plain text; these answer with
//! problem+json and the JSON path of the offending value (`items[3].kind`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json")
                    || v.to_ascii_lowercase().ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with the header Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body is larger than the server accepts (ENGRAM_MAX_BODY_BYTES); split the request",
                )
            } else {
                ApiError::new(e.status(), e.body_text())
            }
        })?;
        parse_json(&bytes).map(Body)
    }
}

/// Parses JSON, reporting the path of the first offending value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = strip_position(&inner.to_string());
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::field(
                    "body",
                    format!(
                        "is not valid JSON ({message} at line {}, column {})",
                        inner.line(),
                        inner.column()
                    ),
                )
            }
            _ if path == "." || path.is_empty() => {
                ApiError::field(field_from_message(&message), message)
            }
            _ => ApiError::field(path, message),
        }
    })
}

/// serde_json appends "at line X column Y"; the field path says more.
fn strip_position(m: &str) -> String {
    match m.rfind(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}

/// For errors on the top-level object ("missing field `query`", "unknown
/// field `foo`"), the field is in the message.
fn field_from_message(m: &str) -> String {
    m.split('`').nth(1).unwrap_or("body").to_string()
}

pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(QueryParams)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                let field = if path == "." || path.is_empty() {
                    field_from_message(&message)
                } else {
                    path
                };
                ApiError::field(field, message)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        query: String,
        limit: Option<u32>,
        items: Option<Vec<Item>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        kind: u8,
    }

    fn field_of(body: &str) -> Option<String> {
        parse_json::<Req>(body.as_bytes()).unwrap_err().field
    }

    #[test]
    fn names_the_field_of_each_kind_of_error() {
        assert_eq!(field_of(r#"{"query": 1}"#).as_deref(), Some("query"));
        assert_eq!(
            field_of(r#"{"query": "q", "limit": "x"}"#).as_deref(),
            Some("limit")
        );
        assert_eq!(field_of(r#"{"limit": 1}"#).as_deref(), Some("query"));
        assert_eq!(
            field_of(r#"{"query": "q", "bogus": 1}"#).as_deref(),
            Some("bogus")
        );
        assert_eq!(
            field_of(r#"{"query": "q", "items": [{"kind": 1}, {"kind": "x"}]}"#).as_deref(),
            Some("items[1].kind")
        );
        assert_eq!(field_of(r#"{"query": "#).as_deref(), Some("body"));
    }

    #[test]
    fn invalid_utf8_is_a_body_error() {
        let err = parse_json::<Req>(b"{\"query\": \"\xff\"}").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.detail.contains("unicode") || err.detail.contains("UTF-8"),
            "{}",
            err.detail
        );
    }
}
