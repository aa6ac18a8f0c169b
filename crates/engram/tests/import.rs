//! Imports of ChatGPT and Claude exports over HTTP and with `engram
//! import`, against the real binary, model and (with
//! ENGRAM_TEST_BACKEND=postgres) PostgreSQL. Fixtures: tests/fixtures/import/.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{Opts, Server, run_engram};
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn start_import(s: &Server, key: &str, query: &str, body: Vec<u8>) -> common::Resp {
    let auth = format!("Bearer {key}");
    s.raw(
        "POST",
        &format!("/v1/import?{query}"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body,
    )
}

/// Imports `body` and waits for the job to end; returns the finished job.
#[track_caller]
fn import(s: &Server, key: &str, query: &str, body: Vec<u8>) -> Value {
    let r = start_import(s, key, query, body);
    let job = r.expect(202).clone();
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/import/{}", job["id"].as_str().unwrap()).as_str())
    );
    wait(s, key, job["id"].as_str().unwrap())
}

fn wait(s: &Server, key: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = s.get(&format!("/v1/import/{id}"), key).expect(200).clone();
        if job["status"] != "running" {
            assert_eq!(job["status"], "done", "{job}");
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the import did not finish: {job}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn conversations(s: &Server, key: &str, query: &str) -> Vec<Value> {
    s.get(&format!("/v1/conversations?{query}"), key)
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn chatgpt_and_claude_exports_import_once_and_are_searchable_with_their_times() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("importer");
    let key = s.create_key(&tenant, &["read", "write"]);

    let job = import(
        &s,
        &key,
        "format=chatgpt&folder=imports/chatgpt",
        fixture("chatgpt-conversations.json"),
    );
    assert_eq!(
        (
            job["total"].clone(),
            job["conversations"].clone(),
            job["messages"].clone(),
            job["skipped"].clone()
        ),
        (json!(2), json!(2), json!(8), json!(2)),
        "{job}"
    );
    let job = import(
        &s,
        &key,
        "format=claude&folder=imports/claude&label=claude",
        fixture("claude-conversations.json"),
    );
    assert_eq!(
        (job["messages"].clone(), job["skipped"].clone()),
        (json!(5), json!(1)),
        "{job}"
    );

    // The same files again: nothing new, everything counted as skipped.
    let again = import(
        &s,
        &key,
        "format=chatgpt&folder=imports/chatgpt",
        fixture("chatgpt-conversations.json"),
    );
    assert_eq!(
        (
            again["conversations"].clone(),
            again["messages"].clone(),
            again["skipped"].clone()
        ),
        (json!(2), json!(0), json!(10)),
        "{again}"
    );
    import(
        &s,
        &key,
        "format=claude&folder=imports/claude",
        fixture("claude-conversations.json"),
    );
    assert_eq!(conversations(&s, &key, "limit=100").len(), 4);
    assert_eq!(
        s.list_all(&key, "kind=episodic").len(),
        13,
        "no message twice"
    );

    // Listed by folder (and below), with their source times.
    let chatgpt = conversations(&s, &key, "folder=imports/chatgpt");
    assert_eq!(chatgpt.len(), 2);
    let sourdough = chatgpt
        .iter()
        .find(|c| c["title"] == "Sourdough troubleshooting")
        .unwrap();
    assert_eq!(sourdough["source"], "chatgpt");
    assert_eq!(
        time(&sourdough["created_at"]).timestamp_micros(),
        1_700_000_000_123_456
    );
    assert_eq!(conversations(&s, &key, "folder=imports").len(), 4);
    assert_eq!(conversations(&s, &key, "label=claude").len(), 2);
    let folders = s.get("/v1/folders", &key).expect(200)["folders"].clone();
    assert_eq!(
        folders,
        json!([
            {"path": "imports", "depth": 1, "conversations": 0, "total": 4},
            {"path": "imports/chatgpt", "depth": 2, "conversations": 2, "total": 2},
            {"path": "imports/claude", "depth": 2, "conversations": 2, "total": 2},
        ])
    );

    // The live branch only, in order, with roles.
    let id = sourdough["id"].as_str().unwrap();
    let page = s
        .get(&format!("/v1/conversations/{id}/messages?limit=4"), &key)
        .expect(200)
        .clone();
    let roles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    let rest = s
        .get(
            &format!(
                "/v1/conversations/{id}/messages?cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            &key,
        )
        .expect(200)
        .clone();
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert_eq!(rest["items"][0]["role"], "tool");
    assert!(rest["next_cursor"].is_null());

    // Found by keyword and by meaning through /v1/search, at the time it was said.
    let hit =
        |body: Value| s.post("/v1/search", &key, &body).expect(200)["results"][0]["memory"].clone();
    let by_word = hit(json!({"query": "acetone", "mode": "keyword"}));
    assert!(
        by_word["content"].as_str().unwrap().contains("acetone"),
        "{by_word}"
    );
    assert_eq!(time(&by_word["occurred_at"]).timestamp(), 1_700_000_020);
    assert_eq!(by_word["session_id"], json!(id));
    assert_eq!(by_word["kind"], "episodic");
    let by_meaning =
        hit(json!({"query": "my bread yeast culture has a chemical odor", "mode": "vector"}));
    assert!(
        by_meaning["content"]
            .as_str()
            .unwrap()
            .contains("nail polish remover"),
        "{by_meaning}"
    );
    assert_eq!(
        time(&by_meaning["occurred_at"]).timestamp_micros(),
        1_700_000_010_250_000
    );
    let claude = hit(json!({"query": "venue for the team offsite in Lisbon"}));
    assert_eq!(
        time(&claude["occurred_at"]),
        "2024-03-01T09:00:01Z".parse::<DateTime<Utc>>().unwrap(),
        "{claude}"
    );

    // The abandoned branch is not there.
    let abandoned = s.post(
        "/v1/search",
        &key,
        &json!({"query": "regenerated first draft answer", "mode": "keyword"}),
    );
    assert!(
        abandoned.expect(200)["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["memory"]["content"]
                .as_str()
                .unwrap()
                .contains("first draft"))
    );

    // Export: JSON reads back as the JSON lines import, Markdown is a transcript.
    let exported = s
        .get(&format!("/v1/conversations/{id}/export"), &key)
        .expect(200)
        .clone();
    assert_eq!(exported["messages"].as_array().unwrap().len(), 6);
    let md = s.get(
        &format!("/v1/conversations/{id}/export?format=markdown"),
        &key,
    );
    assert!(
        md.header("content-type")
            .unwrap()
            .starts_with("text/markdown")
    );
    assert!(
        md.text.starts_with("# Sourdough troubleshooting"),
        "{}",
        md.text
    );
    let other = s.create_tenant("copy");
    let copy_key = s.create_key(&other, &["read", "write"]);
    let line = format!("{}\n", serde_json::to_string(&exported).unwrap());
    let job = import(&s, &copy_key, "format=jsonl", line.into_bytes());
    assert_eq!(job["messages"], 6);
    let copied = conversations(&s, &copy_key, "");
    assert_eq!(
        (copied[0]["title"].clone(), copied[0]["folder"].clone()),
        (json!("Sourdough troubleshooting"), json!("imports/chatgpt"))
    );
}

#[test]
fn a_truncated_or_malformed_file_is_refused_with_nothing_written_and_jobs_are_per_tenant() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("careful");
    let key = s.create_key(&tenant, &["read", "write"]);
    let whole = fixture("chatgpt-conversations.json");
    let second = String::from_utf8_lossy(&whole).find("Übersetzung").unwrap();

    // Cut inside the second conversation: the first is whole, yet nothing is written.
    let r = start_import(&s, &key, "format=chatgpt", whole[..second + 50].to_vec());
    r.expect_problem(422, Some("conversations[1]"));
    assert_eq!(r.json["code"], "malformed_import");
    assert!(
        r.json["detail"].as_str().unwrap().contains("cut short"),
        "{}",
        r.text
    );
    let broken = br#"[{"id": "c9", "title": "t", "mapping": {"n1": {"message": null, "parent": "gone"}}, "current_node": "n1"}]"#;
    start_import(&s, &key, "format=chatgpt", broken.to_vec())
        .expect_problem(422, Some("conversations[0] (id c9).mapping.n1.parent"));
    start_import(
        &s,
        &key,
        "format=claude",
        b"{\"not\": \"an export\"}".to_vec(),
    )
    .expect_problem(422, Some("conversations[0]"));
    start_import(&s, &key, "format=word", whole.clone()).expect_problem(400, Some("format"));
    start_import(&s, &key, "format=chatgpt&folder=a//b", whole.clone())
        .expect_problem(400, Some("folder"));
    assert!(conversations(&s, &key, "").is_empty());
    assert!(s.list_all(&key, "").is_empty());

    // Another tenant sees neither the job nor what it imported.
    let job = import(&s, &key, "format=chatgpt", whole);
    let other = s.create_tenant("other");
    let other_key = s.create_key(&other, &["read", "write"]);
    s.get(
        &format!("/v1/import/{}", job["id"].as_str().unwrap()),
        &other_key,
    )
    .expect_problem(404, None);
    assert!(conversations(&s, &other_key, "").is_empty());
    assert!(s.list_all(&other_key, "").is_empty());
    let found = s.post(
        "/v1/search",
        &other_key,
        &json!({"query": "sourdough starter"}),
    );
    assert!(found.expect(200)["results"].as_array().unwrap().is_empty());

    // A multipart upload: the export in the field `file`.
    let boundary = "engram-test-boundary";
    let form = |file: Option<&[u8]>| {
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n"
        )
        .into_bytes();
        if let Some(f) = file {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"conversations.json\"\r\nContent-Type: application/json\r\n\r\n").as_bytes());
            body.extend(f);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        body
    };
    let auth = format!("Bearer {other_key}");
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let upload = |body: Vec<u8>| {
        s.raw(
            "POST",
            "/v1/import?format=claude",
            &[("authorization", &auth), ("content-type", &content_type)],
            body,
        )
    };
    upload(form(None)).expect_problem(400, Some("file"));
    let job = upload(form(Some(&fixture("claude-conversations.json"))))
        .expect(202)
        .clone();
    let job = wait(&s, &other_key, job["id"].as_str().unwrap());
    assert_eq!(
        (job["conversations"].clone(), job["messages"].clone()),
        (json!(2), json!(5)),
        "{job}"
    );
}

#[test]
fn the_cli_imports_with_a_progress_bar_and_a_summary() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("cli");
    let key = s.create_key(&tenant, &["read", "write"]);
    let file = s.data_dir.parent().unwrap().join("conversations.json");
    std::fs::write(&file, fixture("chatgpt-conversations.json")).unwrap();
    let file = file.to_str().unwrap();
    let run = |args: &[&str]| run_engram(&s.opts, &s.data_dir, "127.0.0.1:0", args);
    let out = run(&[
        "import",
        "--format",
        "chatgpt",
        file,
        "--folder",
        "from-cli",
        "--url",
        &s.base,
        "--api-key",
        &key,
    ]);
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("imported 2 conversations, 8 messages, 2 skipped"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("] 2/2 conversations"), "{}", out.stderr);
    let listed = conversations(&s, &key, "folder=from-cli");
    assert_eq!(listed.len(), 2);

    let again = run(&[
        "import",
        "--format",
        "chatgpt",
        file,
        "--url",
        &s.base,
        "--api-key",
        &key,
    ]);
    assert!(
        again
            .stdout
            .contains("imported 2 conversations, 0 messages, 10 skipped"),
        "{}",
        again.stdout
    );

    let id = listed[0]["id"].as_str().unwrap();
    let md = run(&[
        "export",
        id,
        "--format",
        "markdown",
        "--url",
        &s.base,
        "--api-key",
        &key,
    ]);
    assert!(md.status.success(), "{}", md.stderr);
    assert!(
        md.stdout
            .starts_with(&format!("# {}", listed[0]["title"].as_str().unwrap())),
        "{}",
        md.stdout
    );

    let bad = run(&[
        "import",
        "--format",
        "chatgpt",
        file,
        "--url",
        &s.base,
        "--api-key",
        "wrong",
    ]);
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("401"), "{}", bad.stderr);
}
