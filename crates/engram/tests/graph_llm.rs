//! Entity and relation extraction with the real local LLM of
//! `scripts/dev-llm` (`ENGRAM_TEST_LLM_URL`), `ENGRAM_GRAPH=llm`, on the
//! backend `ENGRAM_TEST_BACKEND` picks: a short message yields the person
//! and the place with a relation between them; a later message moving the
//! person closes that relation (`valid_to`) and the new one holds. Two
//! calls of a few hundred tokens: the local model makes ~10 tokens/s.

mod common;

use std::time::Duration;

use common::{Opts, Server, llm_url};
use serde_json::{Value, json};

/// Writes one message of alice and waits for its graph job.
#[track_caller]
fn say(s: &Server, key: &str, content: &str, at: &str) -> Value {
    let r = s.post(
        "/v1/memories",
        key,
        &json!({ "content": content, "user_id": "alice", "role": "alice", "occurred_at": at }),
    );
    r.expect(201);
    let job = r.header("engram-jobs").expect("the graph job").to_string();
    let done = s.job_done(key, &job, Duration::from_secs(900));
    assert_eq!(done["kind"], json!("graph"));
    done
}

/// The entity of alice's named like `name`.
#[track_caller]
fn entity(s: &Server, key: &str, name: &str) -> String {
    let page = s
        .get(&format!("/v1/entities?name={name}&user_id=alice"), key)
        .expect(200)
        .clone();
    page["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no entity named like {name}: {page}"))
        .to_string()
}

#[test]
fn a_chat_yields_a_relation_that_a_later_move_closes() {
    let s = Server::start(
        Opts::default()
            .env("ENGRAM_GRAPH", "llm")
            .env("ENGRAM_LLM_URL", &llm_url())
            .env("ENGRAM_LLM_MODEL", common::llm::MODEL)
            .env("ENGRAM_LLM_TIMEOUT_SECONDS", "600"),
    );
    let tenant = s.create_tenant("graph-llm");
    let key = s.create_key(&tenant, &["read", "write"]);

    let first = say(&s, &key, "I live in Lisbon.", "2024-01-10T09:00:00Z");
    let llm = &first["result"]["llm"];
    assert_eq!(llm["prompt"], json!("graph/1"), "{first}");
    assert!(llm["input_tokens"].as_u64().unwrap() > 0, "{first}");
    let lisbon = entity(&s, &key, "lisbon");
    let held = s
        .get(&format!("/v1/entities/{lisbon}"), &key)
        .expect(200)
        .clone();
    let lives: Vec<&Value> = held["relations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["relation"]["predicate"]
                .as_str()
                .unwrap()
                .contains("live")
        })
        .collect();
    assert_eq!(lives.len(), 1, "alice lives in Lisbon: {held} ({first})");
    let old = lives[0]["relation"]["id"].clone();
    let person = lives[0]["relation"]["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        lives[0]["subject"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("alice"),
        "{held}"
    );

    let second = say(&s, &key, "I live in Porto now.", "2024-03-01T09:00:00Z");
    let history = s
        .get(&format!("/v1/entities/{person}/relations?all=true"), &key)
        .expect(200)
        .clone();
    let items = history["items"].as_array().unwrap();
    let closed = items
        .iter()
        .find(|r| r["relation"]["id"] == old)
        .unwrap_or_else(|| panic!("{history}"));
    assert_eq!(
        closed["relation"]["valid_to"],
        json!("2024-03-01T09:00:00Z"),
        "the move closed Lisbon: {history} ({second})"
    );
    let now = s
        .get(&format!("/v1/entities/{person}/relations"), &key)
        .expect(200)
        .clone();
    assert!(
        now["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["object"].as_str().unwrap().contains("Porto")),
        "{now}"
    );
    let then = s
        .get(
            &format!("/v1/entities/{person}/relations?as_of=2024-02-01T00:00:00Z"),
            &key,
        )
        .expect(200)
        .clone();
    assert!(
        then["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["relation"]["id"] == old),
        "what held in February: {then}"
    );
    // The calls were metered.
    let usage = s.get("/v1/usage?group_by=kind", &key).expect(200).clone();
    let graph = usage["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["group"] == json!("graph"))
        .unwrap_or_else(|| panic!("{usage}"));
    assert!(graph["calls"].as_u64().unwrap() >= 2, "{usage}");
}
