//! The temporal model over HTTP, on the backend ENGRAM_TEST_BACKEND picks
//! (docs/FACTS.md): validity set and invalidated through the API, searches
//! and context for now and `as_of` the past, new versions keeping the old
//! state, histories, cited sources, and the tenant wall around all of it.

mod common;

use std::collections::HashSet;

use common::{Opts, Server, ids_of};
use serde_json::{Value, json};

/// Every memory valid at `as_of` (now when `Null`) in vector mode with a
/// limit above the tenant's size: what validity leaves in, whatever ranks.
fn valid(s: &Server, key: &str, as_of: Value) -> HashSet<String> {
    let mut body =
        json!({ "query": "where does she live and work", "mode": "vector", "limit": 100 });
    if !as_of.is_null() {
        body["as_of"] = as_of;
    }
    s.search_ids(key, &body).into_iter().collect()
}

fn ids(v: &[&str]) -> HashSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn id(m: &Value) -> String {
    m["id"].as_str().unwrap().to_string()
}

/// Every `$ref` under `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn the_openapi_document_declares_the_temporal_routes_and_fields() {
    let s = Server::start(Opts::default());
    let doc = s.get_open("/openapi.json").expect(200).clone();
    assert!(doc["paths"]["/v1/memories/{id}/versions"]["post"].is_object());
    assert!(doc["paths"]["/v1/memories/{id}/history"]["get"].is_object());
    let schemas = &doc["components"]["schemas"];
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(schemas[name].is_object(), "{r} does not resolve");
    }
    let text = doc.to_string();
    for field in ["valid_from", "valid_to", "sources", "version_of", "as_of"] {
        assert!(text.contains(field), "{field} is not in the document");
    }
}

#[test]
fn facts_hold_for_a_time_keep_their_versions_and_cite_their_sources() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("facts");
    let key = s.create_key(&tenant, &["read", "write"]);

    // --- A message, and a fact citing it, valid from a given time.
    let said = s.add(
        &key,
        &json!({ "content": "I live in Lisbon now.", "user_id": "alice",
                 "occurred_at": "2020-01-01T10:00:00Z" }),
    );
    assert_eq!(said["version"], json!(1));
    assert_eq!(said["valid_from"], Value::Null);
    assert_eq!(said["sources"], json!([]));
    let lisbon = s.add(
        &key,
        &json!({ "content": "Alice lives in Lisbon.", "kind": "semantic", "user_id": "alice",
                 "valid_from": "2020-01-01T10:00:00Z", "sources": [id(&said)] }),
    );
    assert_eq!(lisbon["valid_from"], json!("2020-01-01T10:00:00Z"));
    assert_eq!(lisbon["valid_to"], Value::Null);
    assert_eq!(lisbon["sources"], json!([id(&said)]));
    assert_eq!(lisbon["version_of"], Value::Null);
    let read = s.get(&format!("/v1/memories/{}", id(&lisbon)), &key);
    assert_eq!(
        read.expect(200),
        &lisbon,
        "a read returns what the write did"
    );

    // --- Bad temporal input names its field.
    s.post(
        "/v1/memories",
        &key,
        &json!({ "content": "x", "valid_from": "2021-01-01T00:00:00Z",
                 "valid_to": "2021-01-01T00:00:00Z" }),
    )
    .expect_problem(400, Some("valid_to"));
    s.post(
        "/v1/memories",
        &key,
        &json!({ "content": "x", "sources": [id(&said), "no-such-memory"] }),
    )
    .expect_problem(400, Some("sources[1]"));
    s.post(
        "/v1/memories/batch",
        &key,
        &json!({ "items": [{ "content": "ok" }, { "content": "x", "sources": [""] }] }),
    )
    .expect_problem(400, Some("items[1].sources[0]"));
    s.patch(
        &format!("/v1/memories/{}", id(&lisbon)),
        &key,
        &json!({ "valid_to": "2019-01-01T00:00:00Z" }),
    )
    .expect_problem(400, Some("valid_to"));
    s.post(
        "/v1/search",
        &key,
        &json!({ "query": "x", "as_of": "yesterday" }),
    )
    .expect_problem(400, Some("as_of"));
    assert_eq!(
        valid(&s, &key, Value::Null),
        ids(&[&id(&said), &id(&lisbon)])
    );

    // --- The move: the old fact is invalidated (kept), the new one holds.
    let moved = s.add(
        &key,
        &json!({ "content": "I moved to Porto.", "user_id": "alice",
                 "occurred_at": "2024-06-01T09:00:00Z" }),
    );
    let r = s.patch(
        &format!("/v1/memories/{}", id(&lisbon)),
        &key,
        &json!({ "valid_to": "2024-06-01T09:00:00Z" }),
    );
    assert_eq!(r.expect(200)["valid_to"], json!("2024-06-01T09:00:00Z"));
    let porto = s.add(
        &key,
        &json!({ "content": "Alice lives in Porto.", "kind": "semantic", "user_id": "alice",
                 "valid_from": "2024-06-01T09:00:00Z", "sources": [id(&moved)] }),
    );
    let now = valid(&s, &key, Value::Null);
    assert!(
        now.contains(&id(&porto)) && !now.contains(&id(&lisbon)),
        "{now:?}"
    );
    let then = valid(&s, &key, json!("2023-01-01T00:00:00Z"));
    assert!(
        then.contains(&id(&lisbon)) && !then.contains(&id(&porto)),
        "{then:?}"
    );
    // valid_to is exclusive, valid_from inclusive: at the instant of the
    // move only the new fact holds.
    let at_move = valid(&s, &key, json!("2024-06-01T09:00:00Z"));
    assert!(at_move.contains(&id(&porto)) && !at_move.contains(&id(&lisbon)));
    let before = valid(&s, &key, json!("2019-06-01T00:00:00Z"));
    assert!(
        !before.contains(&id(&lisbon)),
        "not valid before valid_from"
    );
    // Nothing was deleted: the list still holds both, `as_of` narrows it.
    let all = ids_of(&s.list_all(&key, "user_id=alice&kind=semantic"));
    assert_eq!(all.len(), 2);
    let listed = ids_of(&s.list_all(&key, "kind=semantic&as_of=2023-01-01T00:00:00Z"));
    assert_eq!(listed, vec![id(&lisbon)]);
    // Context follows the same rule.
    let ctx = s.post(
        "/v1/context",
        &key,
        &json!({ "query": "Where does Alice live?", "as_of": "2023-01-01T00:00:00Z",
                 "filters": { "kind": "semantic" } }),
    );
    let ctx = ctx.expect(200);
    assert!(ctx["context"].as_str().unwrap().contains("Lisbon"), "{ctx}");
    assert!(!ctx["context"].as_str().unwrap().contains("Porto"), "{ctx}");
    let ctx = s.post(
        "/v1/context",
        &key,
        &json!({ "query": "Where does Alice live?", "filters": { "kind": "semantic" } }),
    );
    let text = ctx.expect(200)["context"].as_str().unwrap().to_string();
    assert!(text.contains("Porto") && !text.contains("Lisbon"), "{text}");

    // --- A new version keeps the fact's id; the old state is kept.
    let acme = s.add(
        &key,
        &json!({ "content": "Alice works at Acme.", "kind": "semantic", "user_id": "alice",
                 "valid_from": "2021-02-01T00:00:00Z", "labels": ["work"] }),
    );
    let r = s.post(
        &format!("/v1/memories/{}/versions", id(&acme)),
        &key,
        &json!({ "content": "Alice works at Globex.", "valid_from": "2023-03-01T00:00:00Z",
                 "sources": [id(&moved)] }),
    );
    let globex = r.expect(201).clone();
    assert_eq!(id(&globex), id(&acme));
    assert_eq!(globex["version"], json!(2));
    assert_eq!(globex["content"], json!("Alice works at Globex."));
    assert_eq!(globex["valid_from"], json!("2023-03-01T00:00:00Z"));
    assert_eq!(globex["labels"], json!(["work"]));
    assert_eq!(globex["sources"], json!([id(&moved)]));
    let history = s.get(&format!("/v1/memories/{}/history", id(&acme)), &key);
    let versions = history.expect(200)["versions"].as_array().unwrap().clone();
    assert_eq!(versions.len(), 2);
    let earlier = &versions[0];
    assert_eq!(earlier["content"], json!("Alice works at Acme."));
    assert_eq!(earlier["version"], json!(1));
    assert_eq!(earlier["version_of"], json!(id(&acme)));
    assert_eq!(earlier["valid_from"], json!("2021-02-01T00:00:00Z"));
    assert_eq!(earlier["valid_to"], json!("2023-03-01T00:00:00Z"));
    assert_eq!(versions[1], globex, "the current version last, as read");
    let by_earlier = s.get(&format!("/v1/memories/{}/history", id(earlier)), &key);
    assert_eq!(
        by_earlier.expect(200)["versions"].as_array().unwrap(),
        &versions
    );
    let now = valid(&s, &key, Value::Null);
    assert!(now.contains(&id(&acme)) && !now.contains(&id(earlier)));
    let then = valid(&s, &key, json!("2022-01-01T00:00:00Z"));
    assert!(then.contains(&id(earlier)) && !then.contains(&id(&acme)));
    // A new version is written on the fact, after its current version.
    s.post(
        &format!("/v1/memories/{}/versions", id(earlier)),
        &key,
        &json!({ "content": "Alice works at Initech." }),
    )
    .expect_problem(400, Some("id"));
    s.post(
        &format!("/v1/memories/{}/versions", id(&acme)),
        &key,
        &json!({ "content": "Alice works at Initech.", "valid_from": "2022-01-01T00:00:00Z" }),
    )
    .expect_problem(400, Some("valid_from"));
    s.post(
        &format!("/v1/memories/{}/versions", id(&acme)),
        &key,
        &json!({ "content": " " }),
    )
    .expect_problem(400, Some("content"));
    s.post(
        "/v1/memories/nope/versions",
        &key,
        &json!({ "content": "x" }),
    )
    .expect_problem(404, None);
    s.get("/v1/memories/nope/history", &key)
        .expect_problem(404, None);
    // A third version: the history grows, in order.
    let third = s.post(
        &format!("/v1/memories/{}/versions", id(&acme)),
        &key,
        &json!({ "content": "Alice works at Initech." }),
    );
    assert_eq!(third.expect(201)["version"], json!(3));
    let history = s.get(&format!("/v1/memories/{}/history", id(&acme)), &key);
    let contents: Vec<Value> = history.expect(200)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["content"].clone())
        .collect();
    assert_eq!(
        contents,
        [
            json!("Alice works at Acme."),
            json!("Alice works at Globex."),
            json!("Alice works at Initech.")
        ]
    );

    // --- Summaries and reflections are kinds of their own.
    let summary = s.add(
        &key,
        &json!({ "content": "Alice moved from Lisbon to Porto in June 2024.", "kind": "summary",
                 "user_id": "alice", "sources": [id(&said), id(&moved)] }),
    );
    assert_eq!(summary["kind"], json!("summary"));
    let reflection = s.add(
        &key,
        &json!({ "content": "Alice changes jobs every two years.", "kind": "reflection",
                 "sources": [id(&acme)] }),
    );
    assert_eq!(
        ids_of(&s.list_all(&key, "kind=summary")),
        vec![id(&summary)]
    );
    assert_eq!(
        ids_of(&s.list_all(&key, "kind=reflection")),
        vec![id(&reflection)]
    );

    // --- The tenant wall: nothing of it is seen, cited or versioned.
    let other = s.create_tenant("facts-other");
    let okey = s.create_key(&other, &["read", "write"]);
    s.get(&format!("/v1/memories/{}/history", id(&acme)), &okey)
        .expect_problem(404, None);
    s.post(
        &format!("/v1/memories/{}/versions", id(&acme)),
        &okey,
        &json!({ "content": "Alice works nowhere." }),
    )
    .expect_problem(404, None);
    s.post(
        "/v1/memories",
        &okey,
        &json!({ "content": "stolen", "sources": [id(&said)] }),
    )
    .expect_problem(400, Some("sources[0]"));
    assert!(valid(&s, &okey, json!("2022-01-01T00:00:00Z")).is_empty());
    assert!(s.list_all(&okey, "").is_empty());
    let history = s.get(&format!("/v1/memories/{}/history", id(&acme)), &key);
    assert_eq!(history.expect(200)["versions"].as_array().unwrap().len(), 3);
}

#[test]
fn without_an_llm_inferring_writes_and_summaries_are_refused_and_nothing_else_changes() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("no-llm");
    let key = s.create_key(&tenant, &["read", "write"]);
    let refused = |r: common::Resp| {
        r.expect_problem(409, None);
        assert_eq!(r.json["code"], json!("llm_not_configured"), "{}", r.text);
        assert!(r.text.contains("ENGRAM_LLM_URL"), "says how: {}", r.text);
    };
    refused(s.post(
        "/v1/memories",
        &key,
        &json!({ "content": "I moved to Porto.", "infer": true }),
    ));
    refused(s.post(
        "/v1/memories/batch",
        &key,
        &json!({ "items": [{ "content": "a" }, { "content": "b", "infer": true }] }),
    ));
    assert!(
        s.list_all(&key, "").is_empty(),
        "a refused write wrote nothing"
    );
    refused(s.post("/v1/summaries", &key, &json!({ "session_id": "s1" })));
    refused(s.post("/v1/reflections", &key, &json!({ "user_id": "alice" })));
    // Bad requests are told apart from a missing LLM.
    s.post("/v1/summaries", &key, &json!({ "period": "daily" }))
        .expect_problem(400, Some("user_id"));
    s.post(
        "/v1/summaries",
        &key,
        &json!({ "session_id": "s", "period": "weekly" }),
    )
    .expect_problem(400, Some("period"));
    s.post("/v1/reflections", &key, &json!({ "user_id": "" }))
        .expect_problem(400, Some("user_id"));
    // Writes without infer, search and context work as before.
    let m = s.add(
        &key,
        &json!({ "content": "Alice lives in Porto.", "infer": false }),
    );
    let r = s.post(
        "/v1/memories/batch",
        &key,
        &json!({ "items": [{ "content": "x" }] }),
    );
    assert_eq!(r.expect(201)["jobs"], json!([]));
    assert_eq!(valid(&s, &key, Value::Null).len(), 2);
    assert!(
        s.post("/v1/memories", &key, &json!({ "content": "y" }))
            .header("engram-jobs")
            .is_none()
    );
    assert_eq!(m["kind"], json!("episodic"));
}

#[test]
fn validity_and_versions_survive_a_kill_and_the_replay_that_follows() {
    let mut s = Server::start(Opts::default());
    let tenant = s.create_tenant("facts-kill");
    let key = s.create_key(&tenant, &["read", "write"]);
    let fact = s.add(
        &key,
        &json!({ "content": "Bob lives in Oslo.", "kind": "semantic",
                 "valid_from": "2020-01-01T00:00:00Z" }),
    );
    let r = s.post(
        &format!("/v1/memories/{}/versions", id(&fact)),
        &key,
        &json!({ "content": "Bob lives in Bergen.", "valid_from": "2022-01-01T00:00:00Z" }),
    );
    r.expect(201);
    let history = s.get(&format!("/v1/memories/{}/history", id(&fact)), &key);
    let before = history.expect(200).clone();
    let earlier = id(&before["versions"][0]);
    // No clean shutdown: the indexes come back from the log.
    s.kill();
    s.restart();
    let after = s.get(&format!("/v1/memories/{}/history", id(&fact)), &key);
    assert_eq!(after.expect(200), &before);
    assert_eq!(valid(&s, &key, Value::Null), ids(&[&id(&fact)]));
    assert_eq!(
        valid(&s, &key, json!("2021-01-01T00:00:00Z")),
        ids(&[&earlier])
    );
}
