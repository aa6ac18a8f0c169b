//! The knowledge graph over HTTP without an LLM (`ENGRAM_GRAPH=rules`), on
//! the backend `ENGRAM_TEST_BACKEND` picks: writes queue the graph job,
//! whose LLM-free pass links names, e-mails and handles to entities; the
//! entity routes list, page, show sources, walk and delete them; a search
//! or context with `graph` brings linked memories in; merges are undone;
//! erasing a user erases their entities; another tenant sees none of it.
//! (Depth-2 neighbourhoods and contradictions on a hand-made graph are in
//! engram-store's graph_conformance, run on both backends.)

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Opts, Server};
use serde_json::{Value, json};

/// Writes a batch and waits for its graph job; returns the memory ids.
#[track_caller]
fn write(s: &Server, key: &str, items: Value) -> Vec<String> {
    let r = s.post("/v1/memories/batch", key, &json!({ "items": items }));
    let body = r.expect(201).clone();
    let jobs = body["jobs"].as_array().expect("jobs").clone();
    assert_eq!(jobs.len(), 1, "the graph job: {body}");
    let job = s.job_done(key, jobs[0].as_str().unwrap(), Duration::from_secs(120));
    assert_eq!(job["kind"], json!("graph"));
    body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[track_caller]
fn entities(s: &Server, key: &str, query: &str) -> Vec<Value> {
    s.get(&format!("/v1/entities?{query}"), key).expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn names(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn names_in_writes_become_entities_a_search_can_follow() {
    let s = Server::start(Opts::default().env("ENGRAM_GRAPH", "rules"));
    let a = s.create_key(&s.create_tenant("graph-a"), &["read", "write"]);
    let b = s.create_key(&s.create_tenant("graph-b"), &["read", "write"]);
    let ids = write(
        &s,
        &a,
        json!([
            { "content": "My friend Caroline adopted a puppy called Biscuit last spring.", "user_id": "u1" },
            { "content": "Our puppy Biscuit chewed my favourite shoes again!", "user_id": "u1" },
            { "content": "Write to ana@example.org about the Lisbon trip, ping @ana_b too.", "user_id": "u1" },
            { "content": "Lunch with Marcus at noon.", "user_id": "u2" }
        ]),
    );

    let all = entities(&s, &a, "limit=100");
    assert_eq!(
        names(&all),
        [
            "@ana_b",
            "Biscuit",
            "Caroline",
            "Lisbon",
            "Marcus",
            "ana@example.org"
        ]
        .map(String::from)
        .into(),
        "sentence openers are no names: {all:?}"
    );
    let email = entities(&s, &a, "type=email");
    assert_eq!(names(&email), ["ana@example.org".to_string()].into());
    assert_eq!(
        names(&entities(&s, &a, "user_id=u2")),
        ["Marcus".to_string()].into()
    );
    let biscuit = entities(&s, &a, "name=BISC");
    assert_eq!(biscuit.len(), 1, "{biscuit:?}");
    assert_eq!(biscuit[0]["type"], json!("name"));
    let id = biscuit[0]["id"].as_str().unwrap().to_string();

    // Pages: every entity once, in order.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = s
            .get(&format!("/v1/entities?limit=4{cursor}"), &a)
            .expect(200)
            .clone();
        paged.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged, all);

    // One entity: the memories that mention it, no relations (no LLM).
    let detail = s.get(&format!("/v1/entities/{id}"), &a).expect(200).clone();
    let sources: BTreeSet<&str> = detail["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(sources, [ids[0].as_str(), ids[1].as_str()].into());
    assert_eq!(detail["relations"], json!([]));
    let n = s
        .get(&format!("/v1/entities/{id}/neighbors?depth=2"), &a)
        .expect(200)
        .clone();
    assert_eq!(n["items"][0]["entity"]["id"], json!(id));
    assert_eq!(n["items"][0]["depth"], json!(0));
    let h = s
        .get(&format!("/v1/entities/{id}/relations?all=true"), &a)
        .expect(200)
        .clone();
    assert_eq!(h["items"], json!([]));

    // A search with the graph brings in the memories naming the query's
    // entities, whatever the case of the query.
    for depth in [0, 1, 2] {
        let found = s.search_ids(
            &a,
            &json!({ "query": "what did biscuit do", "limit": 3,
                     "filters": { "user_id": "u1" }, "graph": { "depth": depth } }),
        );
        assert!(
            found.contains(&ids[0]) && found.contains(&ids[1]),
            "depth {depth}: {found:?}"
        );
    }
    let c = s
        .post(
            "/v1/context",
            &a,
            &json!({ "query": "Biscuit", "graph": {}, "token_budget": 200 }),
        )
        .expect(200)
        .clone();
    assert!(c["context"].as_str().unwrap().contains("Biscuit"), "{c}");

    // Bad input names its field.
    s.post(
        "/v1/search",
        &a,
        &json!({ "query": "x", "graph": { "depth": 3 } }),
    )
    .expect_problem(400, Some("graph.depth"));
    s.post(
        "/v1/search",
        &a,
        &json!({ "query": "x", "graph": { "hops": 1 } }),
    )
    .expect_problem(400, None);
    s.get(&format!("/v1/entities/{id}/neighbors?depth=3"), &a)
        .expect_problem(400, Some("depth"));
    s.get("/v1/entities?limit=0", &a)
        .expect_problem(400, Some("limit"));
    s.get(
        &format!("/v1/entities/{id}/relations?all=true&as_of=2024-01-01T00:00:00Z"),
        &a,
    )
    .expect_problem(400, Some("as_of"));
    s.get("/v1/entities/nope", &a).expect_problem(404, None);
    s.post(&format!("/v1/entities/{id}/unmerge"), &a, &json!({}))
        .expect_problem(409, None);

    // The tenant wall.
    assert!(entities(&s, &b, "limit=100").is_empty());
    for path in [
        format!("/v1/entities/{id}"),
        format!("/v1/entities/{id}/neighbors"),
        format!("/v1/entities/{id}/relations"),
    ] {
        s.get(&path, &b).expect_problem(404, None);
    }
    s.delete(&format!("/v1/entities/{id}"), &b)
        .expect_problem(404, None);
    s.post(&format!("/v1/entities/{id}/unmerge"), &b, &json!({}))
        .expect_problem(404, None);
    let theirs = s.search_ids(&b, &json!({ "query": "Biscuit", "graph": { "depth": 2 } }));
    assert!(theirs.is_empty(), "{theirs:?}");

    // Deleting an entity leaves the memories.
    assert_eq!(s.delete(&format!("/v1/entities/{id}"), &a).status, 204);
    s.get(&format!("/v1/entities/{id}"), &a)
        .expect_problem(404, None);
    s.get(&format!("/v1/memories/{}", ids[1]), &a).expect(200);

    // Erasing a user erases their entities only.
    s.delete("/v1/memories?user_id=u1", &a).expect(200);
    assert!(entities(&s, &a, "user_id=u1").is_empty());
    assert_eq!(names(&entities(&s, &a, "")), ["Marcus".to_string()].into());
}

#[test]
fn a_merge_by_likeness_is_recorded_and_undone() {
    // A low threshold, so that two spellings of a name surely merge.
    let s = Server::start(
        Opts::default()
            .env("ENGRAM_GRAPH", "rules")
            .env("ENGRAM_GRAPH_MERGE_SIMILARITY", "0.6"),
    );
    let a = s.create_key(&s.create_tenant("merge"), &["read", "write"]);
    write(
        &s,
        &a,
        json!([{ "content": "I called Rosalind.", "user_id": "u" }]),
    );
    let later = write(
        &s,
        &a,
        json!([{ "content": "I met Rosalinde.", "user_id": "u" }]),
    );
    let listed = entities(&s, &a, "");
    assert_eq!(listed.len(), 1, "one canonical entity: {listed:?}");
    assert_eq!(listed[0]["name"], json!("Rosalind"));
    assert_eq!(listed[0]["aliases"], json!(["Rosalinde"]));
    let id = listed[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        entities(&s, &a, "name=rosalinde").len(),
        1,
        "found by its alias"
    );
    let detail = s.get(&format!("/v1/entities/{id}"), &a).expect(200).clone();
    let merged = detail["merged"].as_array().unwrap();
    assert_eq!(merged.len(), 1);
    assert!(
        merged[0]["merge_reason"]
            .as_str()
            .unwrap()
            .starts_with("embedding 0."),
        "{detail}"
    );
    assert!(
        detail["sources"]
            .as_array()
            .unwrap()
            .contains(&json!(later[0])),
        "the merged name's mention counts for it: {detail}"
    );
    let other = merged[0]["id"].as_str().unwrap().to_string();

    let undone = s
        .post(&format!("/v1/entities/{other}/unmerge"), &a, &json!({}))
        .expect(200)
        .clone();
    assert_eq!(undone["merged_into"], Value::Null);
    assert_eq!(names(&entities(&s, &a, "")).len(), 2);
    let detail = s.get(&format!("/v1/entities/{id}"), &a).expect(200).clone();
    assert_eq!(detail["merged"], json!([]));
    assert_eq!(detail["entity"]["aliases"], json!([]));
    let theirs = s
        .get(&format!("/v1/entities/{other}"), &a)
        .expect(200)
        .clone();
    assert_eq!(
        theirs["sources"],
        json!([later[0]]),
        "it keeps what it brought"
    );
    s.post(&format!("/v1/entities/{other}/unmerge"), &a, &json!({}))
        .expect_problem(409, None);
}
