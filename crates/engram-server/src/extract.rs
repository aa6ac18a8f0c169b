//! Request body and query-string extractors whose errors name the field.
//!
//! axum's own extractors answer in plain text; these answer with
//! problem+json and the JSON path of the offending value (`items[3].kind`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use engram_core::Code;

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
                Code::UnsupportedMediaType,
                "send the body as JSON with the header Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    Code::PayloadTooLarge,
                    "request body is larger than the server accepts (ENGRAM_MAX_BODY_BYTES); split the request",
                )
            } else {
                ApiError::new(Code::UnreadableBody, e.body_text())
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
                let mut e = ApiError::field(
                    "body",
                    format!(
                        "is not valid JSON ({message} at line {}, column {})",
                        inner.line(),
                        inner.column()
                    ),
                );
                e.code = Code::MalformedJson;
                e
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

/// Path segments, as axum's `Path` but refusing a segment that does not
/// decode (`/v1/memories/%FF`) as a problem naming `path`.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            // A route whose handler expects segments its path lacks.
            Err(e) if e.status().is_server_error() => {
                Err(ApiError::new(Code::Internal, e.body_text()))
            }
            Err(e) => Err(ApiError::field("path", e.body_text())),
        }
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
    fn syntax_errors_are_malformed_json_and_the_rest_invalid_fields() {
        let code = |body: &str| parse_json::<Req>(body.as_bytes()).unwrap_err().code;
        assert_eq!(code(r#"{"query": "#), Code::MalformedJson);
        assert_eq!(code(r#"{"query": 1}"#), Code::InvalidField);
        assert_eq!(code(r#"{"query": "q", "bogus": 1}"#), Code::InvalidField);
    }

    #[test]
    fn invalid_utf8_is_a_body_error() {
        let err = parse_json::<Req>(b"{\"query\": \"\xff\"}").unwrap_err();
        assert_eq!(
            (err.code, err.status()),
            (Code::MalformedJson, StatusCode::BAD_REQUEST)
        );
        assert!(
            err.detail.contains("unicode") || err.detail.contains("UTF-8"),
            "{}",
            err.detail
        );
    }
}
