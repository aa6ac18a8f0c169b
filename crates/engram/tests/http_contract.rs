//! The error contract: every kind of bad input, bad key and missing scope
//! is answered with the documented status as `application/problem+json`
//! naming the field at fault, and none of it hurts the server.

mod common;

use common::{ADMIN_KEY, Opts, Server};
use serde_json::{Value, json};

const MAX_BODY: usize = 64 * 1024;

#[test]
fn bad_input_is_refused_with_a_problem_naming_the_field() {
    let s = Server::start(Opts::default().env("ENGRAM_MAX_BODY_BYTES", &MAX_BODY.to_string()));
    let tenant = s.create_tenant("contract");
    let rw = s.create_key(&tenant, &["read", "write"]);
    let ro = s.create_key(&tenant, &["read"]);
    let json_ct = [
        ("content-type", "application/json"),
        ("authorization", &format!("Bearer {rw}")),
    ];
    let post = |path: &str, body: Value| s.post(path, &rw, &body);

    // Malformed JSON.
    s.raw("POST", "/v1/memories", &json_ct, r#"{"content": "x""#)
        .expect_problem(400, Some("body"));
    s.raw("POST", "/v1/search", &json_ct, "not json at all")
        .expect_problem(400, Some("body"));

    // Wrong types.
    post("/v1/memories", json!({ "content": 5 })).expect_problem(400, Some("content"));
    post("/v1/search", json!({ "query": "x", "limit": "ten" })).expect_problem(400, Some("limit"));

    // Missing required field.
    post("/v1/memories", json!({ "user_id": "u" })).expect_problem(400, Some("content"));

    // Empty and oversized content.
    post("/v1/memories", json!({ "content": "   " })).expect_problem(400, Some("content"));
    post("/v1/memories", json!({ "content": "a".repeat(32_769) }))
        .expect_problem(400, Some("content"));
    // The limit itself is accepted.
    post("/v1/memories", json!({ "content": "a".repeat(32_768) })).expect(201);

    // Unknown mode, out-of-range limits.
    post("/v1/search", json!({ "query": "x", "mode": "fuzzy" })).expect_problem(400, Some("mode"));
    post("/v1/search", json!({ "query": "x", "limit": 0 })).expect_problem(400, Some("limit"));
    post("/v1/search", json!({ "query": "x", "limit": 10000 })).expect_problem(400, Some("limit"));
    s.get("/v1/memories?limit=0", &rw)
        .expect_problem(400, Some("limit"));
    s.get("/v1/memories?limit=10000", &rw)
        .expect_problem(400, Some("limit"));
    s.get("/v1/memories?limit=ten", &rw)
        .expect_problem(400, Some("limit"));
    post("/v1/search", json!({ "query": "   " })).expect_problem(400, Some("query"));
    post("/v1/context", json!({ "query": "x", "token_budget": 0 }))
        .expect_problem(400, Some("token_budget"));

    // Invalid UTF-8 inside a JSON string.
    s.raw(
        "POST",
        "/v1/memories",
        &json_ct,
        b"{\"content\": \"caf\xc3\x28 \xff\"}".to_vec(),
    )
    .expect_problem(400, Some("body"));

    // Unknown fields, at the top level and nested.
    post("/v1/memories", json!({ "content": "x", "colour": "red" }))
        .expect_problem(400, Some("colour"));
    post(
        "/v1/search",
        json!({ "query": "x", "filters": { "user": "alice" } }),
    )
    .expect_problem(400, Some("filters.user"));

    // Batches: the failing item is named; the size is bounded.
    post(
        "/v1/memories/batch",
        json!({ "items": [{ "content": "fine" }, { "content": " " }] }),
    )
    .expect_problem(400, Some("items[1].content"));
    post(
        "/v1/memories/batch",
        json!({ "items": [{ "content": "fine" }, { "content": "x", "kind": "weird" }] }),
    )
    .expect_problem(400, Some("items[1].kind"));
    let many: Vec<Value> = (0..1001).map(|_| json!({ "content": "x" })).collect();
    post("/v1/memories/batch", json!({ "items": many })).expect_problem(400, Some("items"));
    post("/v1/memories/batch", json!({ "items": [] })).expect_problem(400, Some("items"));

    // A body larger than ENGRAM_MAX_BODY_BYTES.
    let big = format!(r#"{{"content": "{}"}}"#, "b".repeat(MAX_BODY + 10));
    s.raw("POST", "/v1/memories", &json_ct, big)
        .expect_problem(413, None);

    // No Content-Type, or the wrong one.
    s.raw(
        "POST",
        "/v1/memories",
        &[("authorization", &format!("Bearer {rw}"))],
        r#"{"content": "x"}"#,
    )
    .expect_problem(415, None);
    s.raw(
        "POST",
        "/v1/memories",
        &[
            ("authorization", &format!("Bearer {rw}")),
            ("content-type", "text/plain"),
        ],
        r#"{"content": "x"}"#,
    )
    .expect_problem(415, None);

    // Keys: missing, unknown, malformed header.
    s.call("GET", "/v1/memories", None, None)
        .expect_problem(401, None);
    s.call(
        "POST",
        "/v1/search",
        None,
        Some(&json!({ "query": "anything" })),
    )
    .expect_problem(401, None);
    s.get(
        "/v1/memories",
        "egk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .expect_problem(401, None);
    s.get("/v1/memories", "not-even-a-key")
        .expect_problem(401, None);
    for auth in [
        format!("Basic {rw}"),
        "Bearer".to_string(),
        "Bearer    ".to_string(),
        rw.clone(),
    ] {
        s.raw(
            "GET",
            "/v1/memories",
            &[("authorization", auth.as_str())],
            "",
        )
        .expect_problem(401, None);
    }

    // Scopes: a read-only key cannot write; tenant keys are not admin keys
    // and the admin key is not a tenant key.
    let r = s.post(
        "/v1/memories",
        &ro,
        &json!({ "content": "should not be written" }),
    );
    r.expect_problem(403, None);
    s.post(
        "/v1/memories/batch",
        &ro,
        &json!({ "items": [{ "content": "no" }] }),
    )
    .expect_problem(403, None);
    s.delete("/v1/memories?user_id=u", &ro)
        .expect_problem(403, None);
    s.get("/v1/memories", &ro).expect(200);
    s.post("/v1/search", &ro, &json!({ "query": "anything" }))
        .expect(200);
    s.post("/v1/tenants", &rw, &json!({ "name": "sneaky" }))
        .expect_problem(403, None);
    s.get("/v1/tenants", &ro).expect_problem(403, None);
    s.get("/v1/memories", ADMIN_KEY).expect_problem(403, None);
    s.post("/v1/search", ADMIN_KEY, &json!({ "query": "x" }))
        .expect_problem(403, None);
    s.get(
        "/v1/tenants",
        "egk_unknownunknownunknownunknownunknown0000000",
    )
    .expect_problem(401, None);

    // Unknown route and method.
    s.get("/v1/nothing-here", &rw).expect_problem(404, None);
    s.get_open("/nope").expect_problem(404, None);
    s.call("PUT", "/v1/search", Some(&rw), Some(&json!({})))
        .expect_problem(405, None);

    // Bulk delete needs a scope.
    s.delete("/v1/memories", &rw).expect_problem(400, None);
    s.delete("/v1/memories?label=x", &rw)
        .expect_problem(400, Some("label"));

    // A cursor this server never issued.
    s.get("/v1/memories?cursor=zzzz", &rw)
        .expect_problem(400, Some("cursor"));
    s.get("/v1/memories?cursor=41424344", &rw)
        .expect_problem(400, Some("cursor"));

    // Patches.
    let id = s.add_text(&rw, "u", "A memory to patch badly.");
    let path = format!("/v1/memories/{id}");
    s.patch(&path, &rw, &json!({})).expect_problem(400, None);
    s.patch(&path, &rw, &json!({ "importance": 1.5 }))
        .expect_problem(400, Some("importance"));
    s.patch(&path, &rw, &json!({ "content": "" }))
        .expect_problem(400, Some("content"));
    s.patch(&path, &rw, &json!({ "user_id": "v" }))
        .expect_problem(400, Some("user_id"));
    post("/v1/memories", json!({ "content": "x", "importance": 1.5 }))
        .expect_problem(400, Some("importance"));
    post(
        "/v1/memories",
        json!({ "content": "x", "importance": -0.1 }),
    )
    .expect_problem(400, Some("importance"));
    s.patch(
        "/v1/memories/00000000-0000-0000-0000-000000000000",
        &rw,
        &json!({ "importance": 0.2 }),
    )
    .expect_problem(404, None);
    s.get("/v1/memories/no-such-id", &rw)
        .expect_problem(404, None);
    s.delete("/v1/memories/no-such-id", &rw)
        .expect_problem(404, None);

    // Client-supplied vectors must match the index.
    post(
        "/v1/memories",
        json!({ "content": "x", "embedding": [0.1, 0.2, 0.3] }),
    )
    .expect_problem(400, Some("embedding"));
    post(
        "/v1/memories/batch",
        json!({ "items": [{ "content": "x" }, { "content": "y", "embedding": [1.0] }] }),
    )
    .expect_problem(400, Some("items[1].embedding"));
    post("/v1/memories", json!({ "content": "x", "embedding": [] }))
        .expect_problem(400, Some("embedding"));

    // Idempotency-Key reused with a different body.
    let idem = |body: Value| {
        s.raw(
            "POST",
            "/v1/memories",
            &[
                ("content-type", "application/json"),
                ("authorization", &format!("Bearer {rw}")),
                ("idempotency-key", "contract-key-1"),
            ],
            body.to_string(),
        )
    };
    idem(json!({ "content": "first body" })).expect(201);
    idem(json!({ "content": "second body" })).expect_problem(409, None);

    // Bad filters in search.
    post(
        "/v1/search",
        json!({ "query": "x", "filters": { "after": "yesterday" } }),
    )
    .expect_problem(400, Some("filters.after"));
    post(
        "/v1/search",
        json!({ "query": "x", "filters": {
            "after": "2024-01-02T00:00:00Z", "before": "2024-01-01T00:00:00Z" } }),
    )
    .expect_problem(400, Some("filters.after"));

    // Admin input.
    s.post("/v1/tenants", ADMIN_KEY, &json!({ "name": "" }))
        .expect_problem(400, Some("name"));
    s.post(
        &format!("/v1/tenants/{tenant}/keys"),
        ADMIN_KEY,
        &json!({ "name": "k", "scopes": ["root"] }),
    )
    .expect_problem(400, Some("scopes[0]"));
    s.post(
        &format!("/v1/tenants/{tenant}/keys"),
        ADMIN_KEY,
        &json!({ "name": "k", "scopes": [] }),
    )
    .expect_problem(400, Some("scopes"));
    s.post(
        "/v1/tenants/no-such-tenant/keys",
        ADMIN_KEY,
        &json!({ "name": "k", "scopes": ["read"] }),
    )
    .expect_problem(404, None);
    s.delete("/v1/tenants/no-such-tenant", ADMIN_KEY)
        .expect_problem(404, None);

    // None of it hurt the server, and nothing refused was written.
    s.get_open("/health").expect(200);
    s.get_open("/ready").expect(200);
    let all = s.list_all(&rw, "");
    let contents: Vec<&str> = all.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(all.len(), 3, "only the accepted writes exist: {contents:?}");
    assert!(contents.contains(&"first body"));
    assert!(!contents.iter().any(|c| *c == "x" || *c == "fine"));
    let metrics = s.get_open("/metrics");
    assert!(
        !metrics.text.contains("status=\"500\""),
        "bad input caused a 500:\n{}",
        metrics.text
    );
}

#[test]
fn rate_limit_and_disabled_admin_routes() {
    let s = Server::start(
        Opts::no_admin()
            .env("ENGRAM_RATE_LIMIT_PER_SECOND", "1")
            .env("ENGRAM_RATE_LIMIT_BURST", "2"),
    );
    let key = std::fs::read_to_string(s.data_dir.join("default-tenant.key"))
        .expect("first run writes default-tenant.key");
    let key = key.trim();

    // Without ENGRAM_ADMIN_KEY the admin routes answer 401 to any key.
    let disabled = s.get("/v1/tenants", key);
    disabled.expect_problem(401, None);
    assert_eq!(disabled.json["code"], json!("admin_disabled"));
    s.post(
        "/v1/tenants",
        "some-key-that-is-long-enough-000000000000",
        &json!({ "name": "t" }),
    )
    .expect_problem(401, None);
    s.call("GET", "/v1/tenants", None, None)
        .expect_problem(401, None);

    // The key's bucket holds two requests; the third is refused.
    let first = s.get("/v1/memories", key);
    let second = s.get("/v1/memories", key);
    let third = s.get("/v1/memories", key);
    first.expect(200);
    second.expect(200);
    third.expect_problem(429, None);
    assert_eq!(third.json["code"], json!("rate_limited"));
    let retry: u64 = third
        .header("retry-after")
        .expect("a 429 carries Retry-After")
        .parse()
        .expect("Retry-After is a number of seconds");
    assert!((1..=2).contains(&retry), "Retry-After: {retry}");

    // Operations routes are not rate limited, and the bucket refills.
    for _ in 0..5 {
        s.get_open("/health").expect(200);
    }
    std::thread::sleep(std::time::Duration::from_millis(1100 * retry));
    s.get("/v1/memories", key).expect(200);
}
