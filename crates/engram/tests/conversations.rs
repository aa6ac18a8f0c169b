//! Conversations over HTTP against the real binary and model (and
//! PostgreSQL with ENGRAM_TEST_BACKEND=postgres): the thread model, its
//! messages as memories, pin and archive in search, deletion, and the
//! tenant wall.

mod common;

use common::{Opts, Server};
use serde_json::{Value, json};

fn create(s: &Server, key: &str, body: Value) -> Value {
    s.post("/v1/conversations", key, &body).expect(201).clone()
}

fn say(s: &Server, key: &str, conv: &str, role: &str, content: &str) -> Value {
    s.post(
        &format!("/v1/conversations/{conv}/messages"),
        key,
        &json!({"role": role, "content": content}),
    )
    .expect(201)
    .clone()
}

fn search(s: &Server, key: &str, body: Value) -> Vec<Value> {
    s.post("/v1/search", key, &body).expect(200)["results"]
        .as_array()
        .unwrap()
        .clone()
}

fn score_of(results: &[Value], id: &str) -> Option<f64> {
    results
        .iter()
        .find(|r| r["memory"]["id"] == id)
        .and_then(|r| r["score"].as_f64())
}

#[test]
fn conversations_are_threads_of_memories_with_label_folder_pin_and_archive() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("threads");
    let key = s.create_key(&tenant, &["read", "write"]);

    let trip = create(
        &s,
        &key,
        json!({"title": "Trip to Kyoto", "folder": "/travel/japan/", "label": "personal", "user_id": "ana"}),
    );
    assert_eq!(
        (
            trip["folder"].clone(),
            trip["importance"].clone(),
            trip["pinned"].clone()
        ),
        (json!("travel/japan"), json!(5), json!(false))
    );
    let work = create(
        &s,
        &key,
        json!({"title": "Quarterly planning", "folder": "work/clients", "label": "work", "importance": 8}),
    );
    let (trip_id, work_id) = (trip["id"].as_str().unwrap(), work["id"].as_str().unwrap());

    // Messages are memories: episodic, session = the conversation, role kept.
    let m = say(
        &s,
        &key,
        trip_id,
        "user",
        "Which temples in Kyoto are best at sunrise?",
    );
    let memory = s
        .get(&format!("/v1/memories/{}", m["id"].as_str().unwrap()), &key)
        .expect(200)
        .clone();
    assert_eq!(
        (
            memory["kind"].clone(),
            memory["session_id"].clone(),
            memory["role"].clone(),
            memory["user_id"].clone()
        ),
        (
            json!("episodic"),
            json!(trip_id),
            json!("user"),
            json!("ana")
        )
    );
    let batch = s.post(&format!("/v1/conversations/{trip_id}/messages/batch"), &key, &json!({"items": [
        {"role": "assistant", "content": "Fushimi Inari before dawn is quiet and the torii glow at sunrise.", "occurred_at": "2025-05-01T05:00:00Z"},
        {"role": "tool", "content": "weather: clear, 14°C"}
    ]})).expect(201).clone();
    assert_eq!(batch["items"].as_array().unwrap().len(), 2);
    let answer_id = batch["items"][0]["id"].as_str().unwrap().to_string();
    let plan = say(
        &s,
        &key,
        work_id,
        "user",
        "Plan the quarterly budget review for the Acme client.",
    );
    let plan_id = plan["id"].as_str().unwrap();

    // An append retried with its Idempotency-Key is answered, not repeated.
    let auth = format!("Bearer {key}");
    let once = |body: &str| {
        s.raw(
            "POST",
            &format!("/v1/conversations/{work_id}/messages"),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
                ("idempotency-key", "k-1"),
            ],
            body.to_string(),
        )
    };
    let first = once(r#"{"role": "assistant", "content": "The review is set for Friday."}"#);
    let retry = once(r#"{"role": "assistant", "content": "The review is set for Friday."}"#);
    assert_eq!(retry.expect(201)["id"], first.expect(201)["id"]);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    once(r#"{"role": "assistant", "content": "Something else"}"#).expect_problem(409, None);

    // Messages list in order; bad input names the field.
    let listed = s
        .get(&format!("/v1/conversations/{trip_id}/messages"), &key)
        .expect(200)
        .clone();
    let roles: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["assistant", "user", "tool"],
        "oldest first by occurred_at"
    );
    s.post(
        &format!("/v1/conversations/{trip_id}/messages"),
        &key,
        &json!({"role": "narrator", "content": "x"}),
    )
    .expect_problem(400, Some("role"));
    s.post(
        &format!("/v1/conversations/{trip_id}/messages/batch"),
        &key,
        &json!({"items": [{"role": "user", "content": " "}]}),
    )
    .expect_problem(400, Some("items[0].content"));
    s.post(
        "/v1/conversations",
        &key,
        &json!({"title": "x", "importance": 11}),
    )
    .expect_problem(400, Some("importance"));
    s.post(
        "/v1/conversations",
        &key,
        &json!({"title": "x", "folder": "a//b"}),
    )
    .expect_problem(400, Some("folder"));
    s.get("/v1/conversations?limit=0", &key)
        .expect_problem(400, Some("limit"));
    s.post(
        "/v1/conversations/nope/messages",
        &key,
        &json!({"role": "user", "content": "hi"}),
    )
    .expect_problem(404, None);

    // Listing filters, text query over titles, cursor pagination.
    let ids = |q: &str| -> Vec<String> {
        s.get(&format!("/v1/conversations?{q}"), &key).expect(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("folder=travel"), [trip_id]);
    assert_eq!(ids("folder=work/clients"), [work_id]);
    assert!(
        ids("folder=wor").is_empty(),
        "a folder prefix is whole segments"
    );
    assert_eq!(ids("label=work"), [work_id]);
    assert_eq!(ids("q=KYOTO"), [trip_id]);
    assert_eq!(ids("user_id=ana"), [trip_id]);
    let page = s.get("/v1/conversations?limit=1", &key).expect(200).clone();
    assert_eq!(page["items"][0]["id"], json!(work_id), "newest first");
    let next = s
        .get(
            &format!(
                "/v1/conversations?limit=1&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            &key,
        )
        .expect(200)
        .clone();
    assert_eq!(next["items"][0]["id"], json!(trip_id));
    assert!(next["next_cursor"].is_null());

    // Rename, move, relabel; the folder tree counts.
    let moved = s
        .patch(
            &format!("/v1/conversations/{trip_id}"),
            &key,
            &json!({"title": "Kyoto 2025", "folder": "travel", "label": ""}),
        )
        .expect(200)
        .clone();
    assert_eq!(
        (
            moved["title"].clone(),
            moved["folder"].clone(),
            moved["label"].clone()
        ),
        (json!("Kyoto 2025"), json!("travel"), Value::Null)
    );
    s.patch(&format!("/v1/conversations/{trip_id}"), &key, &json!({}))
        .expect_problem(400, Some("body"));
    assert_eq!(
        s.get("/v1/folders", &key).expect(200)["folders"],
        json!([
            {"path": "travel", "depth": 1, "conversations": 1, "total": 1},
            {"path": "work", "depth": 1, "conversations": 0, "total": 1},
            {"path": "work/clients", "depth": 2, "conversations": 1, "total": 1},
        ])
    );

    // Scoped search: one conversation, a folder.
    let scoped = |body: Value| -> Vec<String> {
        s.post("/v1/conversations/search", &key, &body).expect(200)["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["memory"]["session_id"].as_str().unwrap().to_string())
            .collect()
    };
    let in_work = scoped(json!({"query": "sunrise temples budget review", "folder": "work"}));
    assert!(
        !in_work.is_empty() && in_work.iter().all(|c| c == work_id),
        "{in_work:?}"
    );
    let in_trip =
        scoped(json!({"query": "sunrise temples budget review", "conversation_id": trip_id}));
    assert!(
        !in_trip.is_empty() && in_trip.iter().all(|c| c == trip_id),
        "{in_trip:?}"
    );

    // A pin lifts a conversation's messages as full importance would.
    let query = json!({"query": "sunrise at Fushimi Inari", "mode": "vector", "limit": 10});
    let before = score_of(&search(&s, &key, query.clone()), &answer_id).unwrap();
    s.patch(
        &format!("/v1/conversations/{trip_id}"),
        &key,
        &json!({"pinned": true}),
    )
    .expect(200);
    let after = score_of(&search(&s, &key, query.clone()), &answer_id).unwrap();
    assert!(
        (after - before - 0.1).abs() < 1e-3,
        "pinned: {before} -> {after}"
    );
    s.patch(
        &format!("/v1/conversations/{trip_id}"),
        &key,
        &json!({"pinned": false}),
    )
    .expect(200);
    let unpinned = score_of(&search(&s, &key, query.clone()), &answer_id).unwrap();
    assert!((unpinned - before).abs() < 1e-3);

    // Archived: out of search and context unless asked for.
    s.patch(
        &format!("/v1/conversations/{trip_id}"),
        &key,
        &json!({"archived": true}),
    )
    .expect(200);
    assert!(score_of(&search(&s, &key, query.clone()), &answer_id).is_none());
    let mut with_archived = query.clone();
    with_archived["include_archived"] = json!(true);
    assert!(score_of(&search(&s, &key, with_archived), &answer_id).is_some());
    let context = |include: bool| -> Vec<String> {
        s.post(
            "/v1/context",
            &key,
            &json!({"query": "Fushimi Inari sunrise", "include_archived": include}),
        )
        .expect(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!context(false).contains(&answer_id));
    assert!(context(true).contains(&answer_id));
    assert_eq!(ids("archived=true"), [trip_id]);
    assert_eq!(ids("archived=false"), [work_id]);
    assert!(
        score_of(
            &search(
                &s,
                &key,
                json!({"query": "quarterly budget review Acme", "mode": "vector"})
            ),
            plan_id
        )
        .is_some(),
        "others stay searchable"
    );

    // Deleting a conversation deletes its memories.
    s.delete(&format!("/v1/conversations/{trip_id}"), &key)
        .expect(204);
    s.get(&format!("/v1/conversations/{trip_id}"), &key)
        .expect_problem(404, None);
    s.get(&format!("/v1/memories/{answer_id}"), &key)
        .expect_problem(404, None);
    assert!(
        s.list_all(&key, &format!("session_id={trip_id}"))
            .is_empty()
    );
    assert_eq!(
        s.list_all(&key, "").len(),
        2,
        "the other conversation's messages stay"
    );
    s.delete(&format!("/v1/conversations/{trip_id}"), &key)
        .expect_problem(404, None);
}

#[test]
fn another_tenant_sees_no_conversation_message_or_folder() {
    let s = Server::start(Opts::default());
    let a = s.create_tenant("a");
    let b = s.create_tenant("b");
    let ka = s.create_key(&a, &["read", "write"]);
    let kb = s.create_key(&b, &["read", "write"]);
    let c = create(
        &s,
        &ka,
        json!({"title": "Secret plans", "folder": "private"}),
    );
    let id = c["id"].as_str().unwrap();
    let m = say(&s, &ka, id, "user", "The launch code word is marmalade.");

    s.get(&format!("/v1/conversations/{id}"), &kb)
        .expect_problem(404, None);
    s.get(&format!("/v1/conversations/{id}/messages"), &kb)
        .expect_problem(404, None);
    s.get(&format!("/v1/conversations/{id}/export"), &kb)
        .expect_problem(404, None);
    s.patch(
        &format!("/v1/conversations/{id}"),
        &kb,
        &json!({"pinned": true}),
    )
    .expect_problem(404, None);
    s.post(
        &format!("/v1/conversations/{id}/messages"),
        &kb,
        &json!({"role": "user", "content": "hi"}),
    )
    .expect_problem(404, None);
    s.post(
        "/v1/conversations/search",
        &kb,
        &json!({"query": "marmalade", "conversation_id": id}),
    )
    .expect_problem(404, None);
    s.delete(&format!("/v1/conversations/{id}"), &kb)
        .expect_problem(404, None);
    assert!(
        s.get("/v1/conversations", &kb).expect(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.get("/v1/folders", &kb).expect(200)["folders"], json!([]));
    assert!(search(&s, &kb, json!({"query": "marmalade launch code"})).is_empty());
    let scoped = s.post(
        "/v1/conversations/search",
        &kb,
        &json!({"query": "marmalade", "folder": "private"}),
    );
    assert!(scoped.expect(200)["results"].as_array().unwrap().is_empty());

    // All of it still there for its own tenant.
    s.get(&format!("/v1/conversations/{id}"), &ka).expect(200);
    assert!(
        score_of(
            &search(&s, &ka, json!({"query": "marmalade", "mode": "keyword"})),
            m["id"].as_str().unwrap()
        )
        .is_some()
    );
}
