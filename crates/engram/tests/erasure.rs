//! Exact erasure on the real binary (docs/LIFECYCLE.md), on the embedded
//! store and (ENGRAM_TEST_BACKEND=postgres) PostgreSQL: after
//! `DELETE /v1/users/{user_id}` no byte of the user's text is left in any
//! file of the data directory, or in any row of any PostgreSQL table; the
//! other user and the other tenant (with the same user id) keep theirs.

mod common;

use std::path::Path;

use common::{Opts, Server, ids_of, llm_url, pg};
use serde_json::{Value, json};

/// Every text of the erased user carries this, so finding it anywhere is a
/// byte left behind; the other user's and other tenant's carry theirs.
const ERASED: &str = "quokka";
const KEPT: &str = "wombat";
const OTHER_TENANT: &str = "numbat";

fn idempotent_add(s: &Server, key: &str, idem: &str, body: &Value) -> Value {
    s.raw(
        "POST",
        "/v1/memories",
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", "application/json"),
            ("idempotency-key", idem),
        ],
        body.to_string(),
    )
    .expect(201)
    .clone()
}

/// Writes the user's memories, a conversation, an idempotent write and a
/// fact citing only the user's memory; returns the id of one memory.
fn write_user(s: &Server, key: &str, user: &str, marker: &str) -> String {
    let id = s.add_text(
        key,
        user,
        &format!("{user} keeps the spare key under the {marker}plant7731 pot"),
    );
    s.add_text(
        key,
        user,
        &format!("{user} is allergic to {marker}berries7731"),
    );
    idempotent_add(
        s,
        key,
        &format!("retry-{user}"),
        &json!({"content": format!("{user} flies to {marker}ville7731 on Monday"), "user_id": user}),
    );
    let conv = s
        .post(
            "/v1/conversations",
            key,
            &json!({"title": format!("{marker}trip7731 planning"), "user_id": user}),
        )
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(
        &format!("/v1/conversations/{conv}/messages"),
        key,
        &json!({"role": "user", "content": format!("book a room in {marker}harbour7731")}),
    )
    .expect(201);
    s.add(
        key,
        &json!({"content": format!("a fact drawn from {marker}notes7731"), "kind": "semantic", "sources": [id]}),
    );
    id
}

/// An inferring write in a session (a facts job and the session's summary
/// job) and a reflection over the user; returns the three job ids.
fn queue_jobs(s: &Server, key: &str, user: &str, marker: &str) -> Vec<String> {
    let r = s.post(
        "/v1/memories",
        key,
        &json!({"content": format!("{user} moved to {marker}town7731"), "user_id": user,
                "session_id": format!("{user}-session"), "infer": true}),
    );
    r.expect(201);
    let mut jobs: Vec<String> = r
        .header("engram-jobs")
        .unwrap_or_else(|| panic!("no Engram-Jobs header: {}", r.text))
        .split(',')
        .map(str::to_string)
        .collect();
    let reflection = s.post("/v1/reflections", key, &json!({"user_id": user}));
    jobs.push(reflection.expect(202)["id"].as_str().unwrap().to_string());
    jobs
}

/// The files under `dir` holding `needle`.
fn files_with(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

/// Every row of every table of the server's database, as text (a
/// superuser's dump: row-level security does not hide any tenant's rows).
fn dump(s: &Server) -> String {
    let url = pg::superuser_url(&pg::database_for(&s.data_dir));
    let out = std::process::Command::new("pg_dump")
        .args(["--data-only", "--no-owner", &url])
        .output()
        .expect("running pg_dump (install postgresql-client)");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn erasing_a_user_leaves_no_byte_of_their_text_and_keeps_everyone_else() {
    // An LLM is configured (so inference and reflections queue jobs) but
    // no worker runs them: the jobs wait in the queue with their payloads.
    let s = Server::start(
        Opts::default()
            .env("ENGRAM_LLM_URL", &llm_url())
            .env("ENGRAM_LLM_MODEL", "qwen2.5-coder-1.5b-instruct")
            .env("ENGRAM_JOB_WORKERS", "0"),
    );
    let t1 = s.create_tenant("erasure");
    let key = s.create_key(&t1, &["read", "write"]);
    let t2 = s.create_tenant("bystander");
    let key2 = s.create_key(&t2, &["read", "write"]);

    let alice_memory = write_user(&s, &key, "alice", ERASED);
    let bob_memory = write_user(&s, &key, "bob", KEPT);
    write_user(&s, &key2, "alice", OTHER_TENANT);
    // A fact citing both users is not derived only from alice: it stays.
    let mixed = s.add(
        &key,
        &json!({"content": format!("{KEPT}mixed7731 summary of both"), "kind": "semantic",
                "sources": [alice_memory, bob_memory]}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Enough of bob that alice's rows are under a quarter of the text
    // index: its compaction is the erasure's doing, not the dead share's.
    let items: Vec<Value> = (0..30)
        .map(|i| json!({"content": format!("bob note {i} about {KEPT}s"), "user_id": "bob"}))
        .collect();
    s.post("/v1/memories/batch", &key, &json!({ "items": items }))
        .expect(201);
    let alice_jobs = queue_jobs(&s, &key, "alice", ERASED);
    let bob_jobs = queue_jobs(&s, &key, "bob", KEPT);
    let other_jobs = queue_jobs(&s, &key2, "alice", OTHER_TENANT);
    let before_bob = ids_of(&s.list_all(&key, "user_id=bob"));

    let reader = s.create_key(&t1, &["read"]);
    s.delete("/v1/users/alice", &reader)
        .expect_problem(403, None);
    let r = s.delete("/v1/users/alice", &key);
    let receipt = r.expect(200);
    assert_eq!(receipt["tenant_id"], json!(t1));
    assert_eq!(receipt["user_id"], json!("alice"));
    assert!(receipt["erased_at"].is_string(), "{receipt}");
    let counts = &receipt["erased"];
    assert_eq!(
        counts["memories"],
        json!(5),
        "3 memories, the idempotent one, the message: {receipt}"
    );
    assert_eq!(counts["derived"], json!(1), "{receipt}");
    assert_eq!(counts["conversations"], json!(1), "{receipt}");
    assert_eq!(counts["idempotency_records"], json!(1), "{receipt}");
    assert_eq!(
        counts["jobs"],
        json!(3),
        "facts, summary, reflection: {receipt}"
    );
    assert!(
        !r.text.contains(ERASED),
        "the receipt holds no content: {}",
        r.text
    );
    assert!(
        !s.log_text().contains(ERASED),
        "the log holds no erased content"
    );
    assert!(
        s.log_text().contains("user erased"),
        "the receipt is logged"
    );

    // Alice is gone from every read; bob, the mixed fact and the other
    // tenant's alice are untouched.
    assert!(s.list_all(&key, "user_id=alice").is_empty());
    assert!(
        s.search_ids(
            &key,
            &json!({"query": format!("{ERASED}plant7731 spare key")})
        )
        .iter()
        .all(|id| *id != alice_memory)
    );
    assert_eq!(ids_of(&s.list_all(&key, "user_id=bob")), before_bob);
    s.get(&format!("/v1/memories/{mixed}"), &key).expect(200);
    assert_eq!(s.list_all(&key2, "user_id=alice").len(), 5);
    for job in &alice_jobs {
        s.get(&format!("/v1/jobs/{job}"), &key)
            .expect_problem(404, None);
    }
    for job in &bob_jobs {
        s.get(&format!("/v1/jobs/{job}"), &key).expect(200);
    }
    for job in &other_jobs {
        s.get(&format!("/v1/jobs/{job}"), &key2).expect(200);
    }
    // The idempotency key answers afresh (its record went with the memory).
    let again = idempotent_add(
        &s,
        &key,
        "retry-alice",
        &json!({"content": "alice starts over", "user_id": "alice"}),
    );
    assert_eq!(again["content"], json!("alice starts over"));
    // Erasing again erases nothing more.
    let twice = s.delete("/v1/users/alice", &key);
    assert_eq!(twice.expect(200)["erased"]["memories"], json!(1));
    let too_long = "u".repeat(1000);
    s.delete(&format!("/v1/users/{too_long}"), &key)
        .expect_problem(400, Some("user_id"));

    let doc = s.get_open("/openapi.json");
    let doc = doc.expect(200);
    assert!(doc["paths"]["/v1/users/{user_id}"]["delete"].is_object());
    let receipt_schema = &doc["components"]["schemas"]["Receipt"]["properties"];
    assert!(receipt_schema["erased"].is_object(), "{receipt_schema}");

    if pg::backend_is_postgres() {
        // Deleted tuples are invisible to every query and dump at commit
        // (VACUUM only reclaims their space), so no VACUUM before the dump.
        let rows = dump(&s);
        assert!(
            !rows.contains(ERASED),
            "a PostgreSQL row still holds alice's text"
        );
        assert!(rows.contains(KEPT) && rows.contains(OTHER_TENANT));
    } else {
        // While the server runs: the erasure itself left nothing behind.
        assert_eq!(files_with(&s.data_dir, ERASED), Vec::<String>::new());
        assert!(!files_with(&s.data_dir, KEPT).is_empty());
        assert!(!files_with(&s.data_dir, OTHER_TENANT).is_empty());
    }
    let mut s = s;
    s.terminate();
    if !pg::backend_is_postgres() {
        assert_eq!(files_with(&s.data_dir, ERASED), Vec::<String>::new());
        assert!(!files_with(&s.data_dir, KEPT).is_empty());
    }
}
