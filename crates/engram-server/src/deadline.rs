//! The request timeout, answered like every other error: a 503 problem
//! with code `timeout` and `Retry-After` (tower-http's timeout layer
//! answers with an empty body a client cannot tell from a crash).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use engram_core::Code;

use crate::problem::ApiError;

/// Abandons the request when it runs longer than `limit`.
pub async fn enforce(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            Code::Timeout,
            format!(
                "{method} {path} took longer than {} s and was abandoned; retry, with a smaller request if it persists",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_request_past_the_deadline_is_a_timeout_problem() {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/fast", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_millis(50),
                enforce,
            ));
        let call = |path: &'static str| {
            app.clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
        };
        assert_eq!(call("/fast").await.unwrap().status(), 200);
        let resp = call("/slow").await.unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "1");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(p["code"], "timeout");
        assert_eq!(p["type"], "https://engram.dev/problems/timeout");
    }
}
