//! The acceptance scenario of the issue, end to end over HTTP against the
//! real binary and the real embedding model.

mod common;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use common::{ADMIN_KEY, Opts, Server, Workdir, ids_of};
use serde_json::{Value, json};

const BAKERY: &str = "Alice works as a baker at the Acme bakery on Main Street.";
const TENNIS: &str = "Alice plays tennis with her sister every Sunday morning.";
const LISBON: &str = "Alice's team will hold this year's company offsite in Lisbon in October.";
const BOB: [&str; 3] = [
    "Bob prefers green tea over coffee in the afternoon.",
    "Bob is learning to play the cello at a music school.",
    "Bob's daughter started primary school in September.",
];

fn first(ids: &[String]) -> &str {
    ids.first().map(String::as_str).unwrap_or("<no results>")
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .expect("a timestamp")
        .parse()
        .expect("an RFC 3339 timestamp")
}

#[test]
fn acceptance_scenario() {
    let work = Workdir::new();
    let data = work.data("data");
    let mut s = Server::start_in(&work, &data, Opts::default());

    // Two tenants with keys.
    let t1 = s.create_tenant("acme");
    let t2 = s.create_tenant("globex");
    let k1 = s.create_key(&t1, &["read", "write"]);
    let k1_ro = s.create_key(&t1, &["read"]);
    let k2 = s.create_key(&t2, &["write", "read"]);
    let tenants = s.get("/v1/tenants", ADMIN_KEY);
    let listed: HashSet<&str> = tenants.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, HashSet::from([t1.as_str(), t2.as_str()]));

    // A read-only key cannot write; missing or unknown keys are refused;
    // malformed JSON is a 400 problem.
    s.post("/v1/memories", &k1_ro, &json!({ "content": "nope" }))
        .expect_problem(403, None);
    s.call(
        "POST",
        "/v1/memories",
        None,
        Some(&json!({ "content": "nope" })),
    )
    .expect_problem(401, None);
    s.post(
        "/v1/memories",
        "egk_thisKeyWasNeverIssuedByThisServer000000000",
        &json!({ "content": "nope" }),
    )
    .expect_problem(401, None);
    s.raw(
        "POST",
        "/v1/memories",
        &[
            ("authorization", &format!("Bearer {k1}")),
            ("content-type", "application/json"),
        ],
        "{\"content\": ",
    )
    .expect_problem(400, Some("body"));

    // Alice's three memories (at distinct, known times) and Bob's.
    let alice: Vec<String> = [
        (BAKERY, "2024-03-01T09:00:00Z"),
        (TENNIS, "2024-03-02T09:00:00Z"),
        (LISBON, "2024-03-03T09:00:00Z"),
    ]
    .iter()
    .map(|(content, at)| {
        let m = s.add(
            &k1,
            &json!({ "content": content, "user_id": "alice", "occurred_at": at }),
        );
        assert_eq!(m["user_id"], json!("alice"));
        assert_eq!(
            time(&m["occurred_at"]),
            at.parse::<DateTime<Utc>>().unwrap()
        );
        m["id"].as_str().unwrap().to_string()
    })
    .collect();
    let (bakery, tennis, lisbon) = (&alice[0], &alice[1], &alice[2]);
    let bob: Vec<String> = BOB.iter().map(|c| s.add_text(&k1, "bob", c)).collect();

    // Hybrid, keyword and vector search each rank the right memory first.
    let hybrid = s.search_ids(&k1, &json!({ "query": "Where is Alice employed?" }));
    assert_eq!(first(&hybrid), bakery, "hybrid: {hybrid:?}");
    let hybrid = s.search_ids(
        &k1,
        &json!({ "query": "Where is Alice employed?", "mode": "hybrid" }),
    );
    assert_eq!(first(&hybrid), bakery, "explicit hybrid: {hybrid:?}");
    let keyword = s.search_ids(&k1, &json!({ "query": "tennis", "mode": "keyword" }));
    assert_eq!(first(&keyword), tennis, "keyword: {keyword:?}");
    let vector = s.search_ids(
        &k1,
        &json!({ "query": "a city in Portugal for the company trip", "mode": "vector" }),
    );
    assert_eq!(first(&vector), lisbon, "vector: {vector:?}");
    // The answer carries scores, best first, and the time taken.
    let r = s.post(
        "/v1/search",
        &k1,
        &json!({ "query": "Where is Alice employed?" }),
    );
    let body = r.expect(200);
    let scores: Vec<f64> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(body["took_ms"].as_f64().is_some());
    assert_eq!(body["results"][0]["memory"]["content"], json!(BAKERY));

    // A user filter keeps Bob's memories out, and Alice's out of Bob's.
    let only_alice = s.search_ids(
        &k1,
        &json!({ "query": "what does this person do", "filters": { "user_id": "alice" } }),
    );
    assert!(!only_alice.is_empty());
    assert!(
        only_alice.iter().all(|id| alice.contains(id)),
        "{only_alice:?}"
    );
    let only_bob = s.search_ids(
        &k1,
        &json!({ "query": "Alice baker tennis Lisbon", "filters": { "user_id": "bob" } }),
    );
    assert!(only_bob.iter().all(|id| bob.contains(id)), "{only_bob:?}");
    let listed = ids_of(&s.list_all(&k1, "user_id=alice"));
    assert_eq!(
        listed.iter().collect::<HashSet<_>>(),
        alice.iter().collect::<HashSet<_>>()
    );

    // The other tenant sees none of it, and cannot touch it.
    for mode in ["hybrid", "keyword", "vector"] {
        let other = s.search_ids(
            &k2,
            &json!({ "query": "Alice baker Acme bakery", "mode": mode }),
        );
        assert!(other.is_empty(), "tenant 2 found {other:?} in {mode} mode");
    }
    assert!(s.list_all(&k2, "").is_empty());
    let ctx = s.post("/v1/context", &k2, &json!({ "query": "Alice" }));
    assert!(ctx.expect(200)["items"].as_array().unwrap().is_empty());
    for id in alice.iter().chain(&bob) {
        let path = format!("/v1/memories/{id}");
        s.get(&path, &k2).expect_problem(404, None);
        s.patch(&path, &k2, &json!({ "content": "hijacked" }))
            .expect_problem(404, None);
        s.delete(&path, &k2).expect_problem(404, None);
    }
    let r = s.delete("/v1/memories?user_id=alice", &k2);
    assert_eq!(r.expect(200)["deleted"], json!(0));
    let m = s.get(&format!("/v1/memories/{bakery}"), &k1);
    assert_eq!(m.expect(200)["content"], json!(BAKERY));
    assert_eq!(s.list_all(&k1, "").len(), 6);

    // An Idempotency-Key replay returns the first memory and adds nothing.
    let send_idem = || {
        s.raw(
            "POST",
            "/v1/memories",
            &[
                ("authorization", &format!("Bearer {k1}")),
                ("content-type", "application/json"),
                ("idempotency-key", "acceptance-retry-1"),
            ],
            json!({ "content": "Carol joined the bakery as an apprentice.", "user_id": "carol" })
                .to_string(),
        )
    };
    let first_try = send_idem();
    let created = first_try.expect(201).clone();
    assert_eq!(first_try.header("idempotent-replayed"), None);
    let retry = send_idem();
    assert_eq!(retry.expect(201)["id"], created["id"]);
    assert_eq!(retry.json, created);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(s.list_all(&k1, "user_id=carol").len(), 1);
    // The same key in another tenant is another request.
    let elsewhere = s.raw(
        "POST",
        "/v1/memories",
        &[
            ("authorization", &format!("Bearer {k2}")),
            ("content-type", "application/json"),
            ("idempotency-key", "acceptance-retry-1"),
        ],
        json!({ "content": "Globex keeps its own memories." }).to_string(),
    );
    assert_ne!(elsewhere.expect(201)["id"], created["id"]);
    assert_eq!(elsewhere.header("idempotent-replayed"), None);
    let carol = created["id"].as_str().unwrap().to_string();

    // Context under a small budget.
    let ctx = s.post(
        "/v1/context",
        &k1,
        &json!({ "query": "Where does Alice work?", "token_budget": 40 }),
    );
    let ctx = ctx.expect(200);
    let tokens = ctx["tokens"].as_u64().expect("tokens");
    assert!(
        tokens <= 40,
        "context of {tokens} tokens exceeds the budget"
    );
    let text = ctx["context"].as_str().unwrap();
    assert!(!text.trim().is_empty(), "empty context: {ctx}");
    let items = ctx["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{ctx}");
    let all_ids: HashSet<String> = alice.iter().chain(&bob).chain([&carol]).cloned().collect();
    // Line n cites item n (which carries the id) and its time.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), items.len(), "{ctx}");
    for (n, (it, line)) in items.iter().zip(&lines).enumerate() {
        let id = it["id"].as_str().expect("item id");
        assert!(all_ids.contains(id), "unknown id {id} in context");
        assert!(line.starts_with(&format!("[{}] (", n + 1)), "{line}");
        let content = it["content"].as_str().unwrap();
        assert!(
            line.ends_with(content),
            "{line} does not end with {content}"
        );
    }
    assert_eq!(items[0]["id"].as_str(), Some(bakery.as_str()), "{ctx}");

    // Pages of one walk every memory newest-first, without repeats.
    let mut walked: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/memories?limit=1&cursor={c}"),
            None => "/v1/memories?limit=1".to_string(),
        };
        let page = s.get(&path, &k1);
        let page = page.expect(200);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 1);
        walked.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(walked.len() <= all_ids.len(), "the walk does not end");
    }
    let walked_ids = ids_of(&walked);
    assert_eq!(
        walked_ids.iter().cloned().collect::<HashSet<_>>(),
        all_ids,
        "the walk visits every memory"
    );
    assert_eq!(
        walked_ids.len(),
        all_ids.len(),
        "no repeats: {walked_ids:?}"
    );
    let times: Vec<DateTime<Utc>> = walked.iter().map(|m| time(&m["occurred_at"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {times:?}"
    );
    assert_eq!(
        &walked_ids[walked_ids.len() - 3..],
        [lisbon.clone(), tennis.clone(), bakery.clone()]
    );

    // Operations.
    let metrics = s.get_open("/metrics");
    metrics.expect(200);
    assert!(
        metrics.text.contains("engram_http_requests_total"),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains("engram_http_request_duration_seconds")
    );
    let doc = s.get_open("/openapi.json");
    let doc = doc.expect(200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "not OpenAPI 3: {}",
        doc["openapi"]
    );
    for path in ["/v1/search", "/v1/context", "/v1/memories", "/v1/tenants"] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    let health = s.get_open("/health");
    assert_eq!(health.expect(200)["status"], json!("ok"));
    let ready = s.get_open("/ready");
    assert_eq!(ready.expect(200)["status"], json!("ready"));

    // A graceful restart keeps everything.
    s.terminate();
    s.restart();
    for id in &all_ids {
        s.get(&format!("/v1/memories/{id}"), &k1).expect(200);
    }
    let hybrid = s.search_ids(&k1, &json!({ "query": "Where is Alice employed?" }));
    assert_eq!(first(&hybrid), bakery, "after restart: {hybrid:?}");
    let vector = s.search_ids(
        &k1,
        &json!({ "query": "a city in Portugal for the company trip", "mode": "vector" }),
    );
    assert_eq!(first(&vector), lisbon, "after restart: {vector:?}");
    s.get_open("/ready").expect(200);

    // Delete one memory.
    let path = format!("/v1/memories/{carol}");
    let r = s.delete(&path, &k1);
    assert_eq!(r.status, 204, "{}", r.text);
    s.get(&path, &k1).expect_problem(404, None);
    s.delete(&path, &k1).expect_problem(404, None);
    assert!(
        !s.search_ids(&k1, &json!({ "query": "apprentice", "mode": "keyword" }))
            .contains(&carol)
    );

    // Delete all of Bob's: Alice's stay.
    let r = s.delete("/v1/memories?user_id=bob", &k1);
    assert_eq!(r.expect(200)["deleted"], json!(bob.len()));
    assert!(s.list_all(&k1, "user_id=bob").is_empty());
    for id in &bob {
        s.get(&format!("/v1/memories/{id}"), &k1)
            .expect_problem(404, None);
    }
    let left = ids_of(&s.list_all(&k1, ""));
    assert_eq!(
        left.iter().collect::<HashSet<_>>(),
        alice.iter().collect::<HashSet<_>>()
    );
    let r = s.delete("/v1/memories?user_id=bob", &k1);
    assert_eq!(r.expect(200)["deleted"], json!(0));
    let cello = s.search_ids(
        &k1,
        &json!({ "query": "cello music school", "mode": "vector" }),
    );
    assert!(cello.iter().all(|id| alice.contains(id)), "{cello:?}");

    // A revoked key stops working at once.
    let (extra_id, extra) = s.create_key_full(&t1, &["read"]);
    s.get("/v1/memories", &extra).expect(200);
    let r = s.delete(&format!("/v1/tenants/{t1}/keys/{extra_id}"), ADMIN_KEY);
    assert_eq!(r.status, 204, "{}", r.text);
    s.get("/v1/memories", &extra).expect_problem(401, None);
    s.get("/v1/memories", &k1).expect(200);

    // Deleting a tenant revokes its keys and erases its memories.
    let r = s.delete(&format!("/v1/tenants/{t2}"), ADMIN_KEY);
    assert_eq!(r.status, 204, "{}", r.text);
    s.get("/v1/memories", &k2).expect_problem(401, None);
    s.post("/v1/search", &k2, &json!({ "query": "Globex" }))
        .expect_problem(401, None);
    s.post(
        &format!("/v1/tenants/{t2}/keys"),
        ADMIN_KEY,
        &json!({ "name": "again", "scopes": ["read"] }),
    )
    .expect_problem(404, None);
    let tenants = s.get("/v1/tenants", ADMIN_KEY);
    let ids: Vec<&str> = tenants.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [t1.as_str()]);
    s.terminate();
    s.restart();
    // A new tenant (even under the same name) inherits nothing.
    let t3 = s.create_tenant("globex");
    assert_ne!(t3, t2);
    let k3 = s.create_key(&t3, &["read", "write"]);
    assert!(s.list_all(&k3, "").is_empty());
    for mode in ["hybrid", "keyword", "vector"] {
        let found = s.search_ids(
            &k3,
            &json!({ "query": "Globex keeps its own memories", "mode": mode }),
        );
        assert!(found.is_empty(), "{mode}: {found:?}");
    }
    let own = s.add_text(&k3, "dave", "Dave repairs old clocks.");
    let found = s.search_ids(&k3, &json!({ "query": "Globex clocks memories" }));
    assert_eq!(found, [own]);
    // Tenant 1 is untouched.
    let hybrid = s.search_ids(&k1, &json!({ "query": "Where is Alice employed?" }));
    assert_eq!(first(&hybrid), bakery);
}
