//! Every error names its cause with a stable `code` (docs/ERRORS.md), so a
//! client tells apart errors that share a status: an idempotency key
//! reused with another body and a taken name are both 409s.

mod common;

use common::{ADMIN_KEY, Opts, Resp, Server};
use serde_json::{Value, json};

/// A problem+json with this status, code and (when given) field.
#[track_caller]
fn expect_code(r: &Resp, status: u16, code: &str, field: Option<&str>) {
    r.expect_problem(status, field);
    assert_eq!(r.json["code"], json!(code), "{}", r.text);
}

#[test]
fn each_error_carries_the_code_of_its_cause() {
    let s = Server::start(Opts::default().env("ENGRAM_MAX_BODY_BYTES", "4096"));
    let tenant = s.create_tenant("codes");
    let rw = s.create_key(&tenant, &["read", "write"]);
    let ro = s.create_key(&tenant, &["read"]);
    let bearer = format!("Bearer {rw}");
    let json_ct = [
        ("content-type", "application/json"),
        ("authorization", &bearer),
    ];

    // Two conflicts, two codes.
    let idem = |body: Value| {
        s.raw(
            "POST",
            "/v1/memories",
            &[
                ("content-type", "application/json"),
                ("authorization", &bearer),
                ("idempotency-key", "codes-key-1"),
            ],
            body.to_string(),
        )
    };
    idem(json!({ "content": "first body" })).expect(201);
    idem(json!({ "content": "first body" })).expect(201);
    expect_code(
        &idem(json!({ "content": "second body" })),
        409,
        "idempotency_key_reused",
        None,
    );
    let taken = s.post("/v1/tenants", ADMIN_KEY, &json!({ "name": "codes" }));
    expect_code(&taken, 409, "tenant_name_taken", None);

    // Bad input: a field, the JSON itself, the path, the body's size and type.
    let r = s.post("/v1/search", &rw, &json!({ "query": "x", "limit": 0 }));
    expect_code(&r, 400, "invalid_field", Some("limit"));
    let r = s.post("/v1/memories", &rw, &json!({ "content": 5 }));
    expect_code(&r, 400, "invalid_field", Some("content"));
    let r = s.raw("POST", "/v1/memories", &json_ct, r#"{"content": "#);
    expect_code(&r, 400, "malformed_json", Some("body"));
    expect_code(
        &s.get("/v1/memories/%FF", &rw),
        400,
        "invalid_field",
        Some("path"),
    );
    let big = format!(r#"{{"content": "{}"}}"#, "b".repeat(5000));
    let r = s.raw("POST", "/v1/memories", &json_ct, big);
    expect_code(&r, 413, "payload_too_large", None);
    let r = s.raw(
        "POST",
        "/v1/memories",
        &[("authorization", &bearer), ("content-type", "text/plain")],
        r#"{"content": "x"}"#,
    );
    expect_code(&r, 415, "unsupported_media_type", None);

    // Keys and scopes.
    expect_code(
        &s.call("GET", "/v1/memories", None, None),
        401,
        "missing_key",
        None,
    );
    let r = s.raw(
        "GET",
        "/v1/memories",
        &[("authorization", &format!("Basic {rw}"))],
        "",
    );
    expect_code(&r, 401, "missing_key", None);
    let unknown = "egk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    expect_code(&s.get("/v1/memories", unknown), 401, "invalid_key", None);
    expect_code(&s.get("/v1/tenants", unknown), 401, "invalid_key", None);
    let r = s.post("/v1/memories", &ro, &json!({ "content": "no" }));
    expect_code(&r, 403, "missing_scope", None);
    expect_code(&s.get("/v1/tenants", &rw), 403, "admin_only", None);
    expect_code(&s.get("/v1/memories", ADMIN_KEY), 403, "tenant_only", None);
    // MCP is refused before the transport, the same way.
    let r = s.call("POST", "/mcp", None, Some(&json!({})));
    expect_code(&r, 401, "missing_key", None);

    // Things and routes that do not exist.
    let r = s.get("/v1/memories/no-such-id", &rw);
    expect_code(&r, 404, "not_found", None);
    let r = s.delete("/v1/tenants/no-such-tenant", ADMIN_KEY);
    expect_code(&r, 404, "not_found", None);
    expect_code(
        &s.get("/v1/nothing-here", &rw),
        404,
        "route_not_found",
        None,
    );
    expect_code(&s.get_open("/nope"), 404, "route_not_found", None);
    let r = s.call("PUT", "/v1/search", Some(&rw), Some(&json!({})));
    expect_code(&r, 405, "method_not_allowed", None);

    // The OpenAPI document lists the codes a problem can carry.
    let doc = s.get_open("/openapi.json");
    let codes = &doc.expect(200)["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
    for c in [
        "idempotency_key_reused",
        "tenant_name_taken",
        "timeout",
        "internal",
    ] {
        assert!(
            codes.as_array().is_some_and(|a| a.contains(&json!(c))),
            "{c} not in {codes}"
        );
    }
}
