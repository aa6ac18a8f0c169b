//! `POST /v1/memories/batch` with `Idempotency-Key`: a retried batch (the
//! SDKs retry on 429 and 503) answers the first write's ids and writes
//! nothing; the key is per tenant.

mod common;

use common::{Opts, Resp, Server};
use serde_json::{Value, json};

fn batch(s: &Server, key: &str, idem: &str, body: &Value) -> Resp {
    s.raw(
        "POST",
        "/v1/memories/batch",
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", "application/json"),
            ("idempotency-key", idem),
        ],
        body.to_string(),
    )
}

#[test]
fn a_retried_batch_writes_once_and_answers_the_same_ids() {
    let s = Server::start(Opts::default());
    let k1 = s.create_key(&s.create_tenant("acme"), &["read", "write"]);
    let k2 = s.create_key(&s.create_tenant("globex"), &["read", "write"]);
    let body = json!({ "items": [
        { "content": "Rita ordered the blue sofa.", "user_id": "rita" },
        { "content": "Delivery is set for Friday.", "user_id": "rita" },
    ]});

    let first = batch(&s, &k1, "batch-retry-1", &body);
    let created = first.expect(201).clone();
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = batch(&s, &k1, "batch-retry-1", &body);
    assert_eq!(retry.expect(201)["ids"], created["ids"]);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(s.list_all(&k1, "user_id=rita").len(), 2);

    let other_body = json!({ "items": [{ "content": "something else" }] });
    batch(&s, &k1, "batch-retry-1", &other_body).expect_problem(409, None);
    assert_eq!(
        batch(&s, &k1, "batch-retry-1", &other_body).json["code"],
        "idempotency_key_reused"
    );

    // The same key in another tenant is another request.
    let elsewhere = batch(&s, &k2, "batch-retry-1", &body);
    let theirs = elsewhere.expect(201)["ids"].clone();
    assert_ne!(theirs, created["ids"]);
    assert_eq!(elsewhere.header("idempotent-replayed"), None);
    assert_eq!(s.list_all(&k2, "").len(), 2);
    assert_eq!(s.list_all(&k1, "").len(), 2);

    let empty_key = batch(&s, &k1, "", &body);
    empty_key.expect_problem(400, Some("Idempotency-Key"));
}
