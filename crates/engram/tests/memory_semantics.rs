//! What writes and reads mean: imported times are kept, edits re-embed,
//! batches are all or nothing, and every filter of list and search holds.

mod common;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use common::{Opts, Server, ids_of};
use serde_json::{Value, json};

fn set(ids: &[String]) -> HashSet<String> {
    ids.iter().cloned().collect()
}

fn search_set(s: &Server, key: &str, mode: &str, query: &str, filters: Value) -> HashSet<String> {
    set(&s.search_ids(
        key,
        &json!({ "query": query, "mode": mode, "limit": 100, "filters": filters }),
    ))
}

#[test]
fn writes_and_reads_mean_what_the_contract_says() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("semantics");
    let key = s.create_key(&tenant, &["read", "write"]);

    // --- occurred_at given on import is kept exactly.
    let imported = s.add(
        &key,
        &json!({ "content": "Imported note about the 2019 harvest festival.",
                 "occurred_at": "2019-10-05T14:30:15.123456Z" }),
    );
    assert_eq!(
        imported["occurred_at"],
        json!("2019-10-05T14:30:15.123456Z")
    );
    let id = imported["id"].as_str().unwrap();
    let read = s.get(&format!("/v1/memories/{id}"), &key);
    assert_eq!(
        read.expect(200),
        &imported,
        "a read returns what the write did"
    );
    let created: DateTime<Utc> = imported["created_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (Utc::now() - created).num_minutes() < 5,
        "created_at is now"
    );
    // An offset is the same instant; a batch import keeps its times too.
    let offset = s.add(
        &key,
        &json!({ "content": "Note written in Lisbon time.",
                 "occurred_at": "2020-06-01T12:00:00+01:00" }),
    );
    let at: DateTime<Utc> = offset["occurred_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, "2020-06-01T11:00:00Z".parse::<DateTime<Utc>>().unwrap());
    let r = s.post(
        "/v1/memories/batch",
        &key,
        &json!({ "items": [
            { "content": "Batch import one.", "occurred_at": "2018-01-01T00:00:00Z" },
            { "content": "Batch import two.", "occurred_at": "2017-07-07T07:07:07.000007Z" },
        ] }),
    );
    let ids: Vec<String> = r.expect(201)["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let m = s.get(&format!("/v1/memories/{}", ids[1]), &key);
    assert_eq!(
        m.expect(200)["occurred_at"],
        json!("2017-07-07T07:07:07.000007Z")
    );
    assert_eq!(m.json["content"], json!("Batch import two."));

    // --- PATCH of content re-embeds and re-indexes.
    let before = s.add(
        &key,
        &json!({ "content": "The quarterly report is due on Friday.", "labels": ["work"],
                 "metadata": { "source": "email" }, "importance": 0.7 }),
    );
    let pid = before["id"].as_str().unwrap().to_string();
    let _decoys: Vec<String> = [
        "The car needs new winter tyres before December.",
        "Grandma's birthday dinner is at the Italian place.",
        "The dentist appointment moved to Tuesday at noon.",
    ]
    .iter()
    .map(|c| s.add_text(&key, "someone", c))
    .collect();
    let fruit_query = "which tropical fruit do I like best";
    let patched = s.patch(
        &format!("/v1/memories/{pid}"),
        &key,
        &json!({ "content": "My favourite fruit is mango, especially ripe Alphonso mangoes." }),
    );
    let patched = patched.expect(200).clone();
    assert_eq!(patched["id"], before["id"]);
    assert_eq!(patched["created_at"], before["created_at"]);
    assert_eq!(patched["occurred_at"], before["occurred_at"]);
    assert_eq!(patched["labels"], json!(["work"]), "untouched fields stay");
    assert_eq!(patched["metadata"], json!({ "source": "email" }));
    assert_ne!(patched["updated_at"], before["updated_at"]);
    let read = s.get(&format!("/v1/memories/{pid}"), &key);
    assert_eq!(read.expect(200), &patched);
    let kw_old = s.search_ids(
        &key,
        &json!({ "query": "quarterly report", "mode": "keyword" }),
    );
    assert!(!kw_old.contains(&pid), "old text still indexed: {kw_old:?}");
    let kw_new = s.search_ids(&key, &json!({ "query": "mango", "mode": "keyword" }));
    assert_eq!(kw_new.first(), Some(&pid), "new text not indexed");
    let vec_new = s.search_ids(&key, &json!({ "query": fruit_query, "mode": "vector" }));
    assert_eq!(
        vec_new.first(),
        Some(&pid),
        "new vector not indexed: {vec_new:?}"
    );
    let vec_old = s.search_ids(
        &key,
        &json!({ "query": "quarterly report deadline at work", "mode": "vector", "limit": 3 }),
    );
    assert_ne!(vec_old.first(), Some(&pid), "old vector still ranks first");
    // A patch of other fields keeps the content and its vector.
    let r = s.patch(
        &format!("/v1/memories/{pid}"),
        &key,
        &json!({ "importance": 0.2, "kind": "semantic", "labels": ["food", "food", " likes"] }),
    );
    let m = r.expect(200);
    assert_eq!(m["kind"], json!("semantic"));
    assert_eq!(m["labels"], json!(["food", "likes"]));
    assert!((m["importance"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    let vec_new = s.search_ids(&key, &json!({ "query": fruit_query, "mode": "vector" }));
    assert_eq!(vec_new.first(), Some(&pid));

    // --- A batch with one invalid item writes nothing.
    let count = s.list_all(&key, "").len();
    let r = s.post(
        "/v1/memories/batch",
        &key,
        &json!({ "items": [
            { "content": "Batch canary zebracorn one." },
            { "content": "Batch canary zebracorn two.", "importance": 3.0 },
            { "content": "Batch canary zebracorn three." },
        ] }),
    );
    r.expect_problem(400, Some("items[1].importance"));
    let r = s.post(
        "/v1/memories/batch",
        &key,
        &json!({ "items": [
            { "content": "Batch canary zebracorn four." },
            { "content": "Batch canary zebracorn five.", "labels": [""] },
        ] }),
    );
    r.expect_problem(400, Some("items[1].labels[0]"));
    assert_eq!(
        s.list_all(&key, "").len(),
        count,
        "a failed batch wrote something"
    );
    let canary = s.search_ids(&key, &json!({ "query": "zebracorn", "mode": "keyword" }));
    assert!(canary.is_empty(), "{canary:?}");

    // --- kind, labels, time and scope filters in list and search.
    let tk = s.create_key(&s.create_tenant("filters"), &["read", "write"]);
    // Distinct texts (near-duplicates would be folded together in results),
    // all about printers.
    let specs = [
        (
            "a",
            "semantic",
            vec!["work", "urgent"],
            "2021-01-10T00:00:00Z",
            "u1",
            "s1",
            "The office printer jams whenever someone uses glossy paper.",
        ),
        (
            "b",
            "semantic",
            vec!["work"],
            "2021-06-10T00:00:00Z",
            "u1",
            "s2",
            "Printer toner is ordered from the supplier every quarter.",
        ),
        (
            "c",
            "procedural",
            vec!["urgent"],
            "2022-01-10T00:00:00Z",
            "u2",
            "s1",
            "To clear a printer jam, open tray two and pull the sheet gently.",
        ),
        (
            "d",
            "episodic",
            vec![],
            "2022-06-10T00:00:00Z",
            "u2",
            "s2",
            "Yesterday the printer in the lobby printed forty blank pages.",
        ),
        (
            "e",
            "episodic",
            vec!["work", "urgent"],
            "2023-01-10T00:00:00Z",
            "u1",
            "s1",
            "Maria asked IT to replace the broken colour printer on floor three.",
        ),
    ];
    let mut by_name = std::collections::HashMap::new();
    for (name, kind, labels, at, user, session, content) in &specs {
        let m = s.add(
            &tk,
            &json!({ "content": content,
                     "kind": kind, "labels": labels, "occurred_at": at,
                     "user_id": user, "session_id": session, "agent_id": "agent-x" }),
        );
        by_name.insert(*name, m["id"].as_str().unwrap().to_string());
    }
    let want =
        |names: &[&str]| -> HashSet<String> { names.iter().map(|n| by_name[n].clone()).collect() };
    let list = |q: &str| set(&ids_of(&s.list_all(&tk, q)));
    assert_eq!(list(""), want(&["a", "b", "c", "d", "e"]));
    assert_eq!(list("kind=semantic"), want(&["a", "b"]));
    assert_eq!(list("kind=episodic"), want(&["d", "e"]));
    assert_eq!(list("label=urgent"), want(&["a", "c", "e"]));
    assert_eq!(list("label=work&kind=semantic"), want(&["a", "b"]));
    assert_eq!(list("label=nothing"), want(&[]));
    assert_eq!(list("user_id=u1&session_id=s1"), want(&["a", "e"]));
    assert_eq!(list("agent_id=agent-x"), want(&["a", "b", "c", "d", "e"]));
    assert_eq!(
        list("after=2021-06-10T00:00:00Z&before=2022-06-10T00:00:00Z"),
        want(&["b", "c"]),
        "after is inclusive, before exclusive"
    );
    assert_eq!(list("after=2022-01-01T00:00:00Z"), want(&["c", "d", "e"]));
    assert_eq!(list("before=2021-06-10T00:00:00Z"), want(&["a"]));
    s.get("/v1/memories?kind=weird", &tk)
        .expect_problem(400, Some("kind"));
    s.get("/v1/memories?after=last-week", &tk)
        .expect_problem(400, Some("after"));

    let q = "printer";
    for mode in ["hybrid", "keyword", "vector"] {
        let f = |filters: Value| search_set(&s, &tk, mode, q, filters);
        assert_eq!(f(json!({})), want(&["a", "b", "c", "d", "e"]), "{mode}");
        assert_eq!(
            f(json!({ "kind": "semantic" })),
            want(&["a", "b"]),
            "{mode}"
        );
        assert_eq!(f(json!({ "kind": "procedural" })), want(&["c"]), "{mode}");
        assert_eq!(
            f(json!({ "labels": ["work"] })),
            want(&["a", "b", "e"]),
            "{mode}"
        );
        assert_eq!(
            f(json!({ "labels": ["work", "urgent"] })),
            want(&["a", "e"]),
            "{mode}: labels must all match"
        );
        assert_eq!(
            f(json!({ "after": "2021-06-10T00:00:00Z", "before": "2022-06-10T00:00:00Z" })),
            want(&["b", "c"]),
            "{mode}"
        );
        assert_eq!(
            f(json!({ "user_id": "u2", "kind": "episodic" })),
            want(&["d"]),
            "{mode}"
        );
        assert_eq!(
            f(
                json!({ "session_id": "s1", "labels": ["urgent"], "before": "2022-06-01T00:00:00Z" })
            ),
            want(&["a", "c"]),
            "{mode}"
        );
        assert_eq!(f(json!({ "user_id": "nobody" })), want(&[]), "{mode}");
    }
    let ctx = s.post(
        "/v1/context",
        &tk,
        &json!({ "query": q, "filters": { "kind": "procedural" } }),
    );
    let items = ctx.expect(200)["items"].as_array().unwrap();
    let got: HashSet<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want(&["c"]));

    // The fixtures are paged newest first.
    let ordered = ids_of(&s.list_all(&tk, ""));
    let expected: Vec<String> = ["e", "d", "c", "b", "a"]
        .iter()
        .map(|n| by_name[n].clone())
        .collect();
    assert_eq!(ordered, expected);
}
