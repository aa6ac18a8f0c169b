//! `engram backup` and `engram restore`: a round trip keeps tenants, keys,
//! memories (ids, times, vectors) and search.

mod common;

use std::collections::HashMap;

use common::{ADMIN_KEY, Opts, Server, Workdir, run_engram};
use serde_json::{Value, json};

fn by_id(items: Vec<Value>) -> HashMap<String, Value> {
    items
        .into_iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m))
        .collect()
}

#[test]
fn backup_then_restore_into_a_fresh_data_dir() {
    let work = Workdir::new();
    let data = work.data("data");
    let opts = Opts::default();
    let mut s = Server::start_in(&work, &data, opts.clone());

    let t1 = s.create_tenant("first");
    let t2 = s.create_tenant("second");
    let k1 = s.create_key(&t1, &["read", "write"]);
    let k1_ro = s.create_key(&t1, &["read"]);
    let k2 = s.create_key(&t2, &["read", "write"]);
    let bakery = s.add(
        &k1,
        &json!({ "content": "Alice works as a baker at the Acme bakery on Main Street.",
                 "user_id": "alice", "kind": "semantic", "labels": ["job"],
                 "metadata": { "source": "chat", "turn": 3 }, "importance": 0.9,
                 "occurred_at": "2023-05-06T07:08:09.123456Z" }),
    );
    let tennis = s.add_text(
        &k1,
        "alice",
        "Alice plays tennis with her sister every Sunday.",
    );
    // A fact with a second version (its first kept as a memory of its
    // own) and cited sources: validity, sources and lineage come along.
    let bakery = s
        .post(
            &format!("/v1/memories/{}/versions", bakery["id"].as_str().unwrap()),
            &k1,
            &json!({ "content": "Alice runs the Acme bakery on Main Street.",
                     "valid_from": "2024-01-01T00:00:00Z", "sources": [tennis] }),
        )
        .expect(201)
        .clone();
    assert_eq!(bakery["version"], json!(2));
    let r = s.post(
        "/v1/memories/batch",
        &k1,
        &json!({ "items": [
            { "content": "Bob prefers green tea over coffee.", "user_id": "bob" },
            { "content": "Bob is learning to play the cello.", "user_id": "bob",
              "occurred_at": "2020-01-01T00:00:00Z" },
        ] }),
    );
    r.expect(201);
    s.add_text(
        &k2,
        "carol",
        "Carol's team offsite will be held in Lisbon in October.",
    );
    s.add_text(&k2, "carol", "Carol is allergic to peanuts.");
    // A deleted memory stays deleted.
    let gone = s.add_text(&k2, "carol", "This memory is deleted before the backup.");
    assert_eq!(s.delete(&format!("/v1/memories/{gone}"), &k2).status, 204);
    // A conversation, whose message is a memory.
    let thread = s
        .post(
            "/v1/conversations",
            &k2,
            &json!({ "title": "Garden", "folder": "home", "pinned": true }),
        )
        .expect(201)
        .clone();
    let thread_id = thread["id"].as_str().unwrap().to_string();
    s.post(
        &format!("/v1/conversations/{thread_id}/messages"),
        &k2,
        &json!({ "role": "user", "content": "Carol's garden needs more tomato plants." }),
    )
    .expect(201);
    let thread = s
        .get(&format!("/v1/conversations/{thread_id}"), &k2)
        .expect(200)
        .clone();

    let tenants_before = s.get("/v1/tenants", ADMIN_KEY).expect(200).clone();
    let keys_before = s
        .get(&format!("/v1/tenants/{t1}/keys"), ADMIN_KEY)
        .expect(200)
        .clone();
    let mem1 = by_id(s.list_all(&k1, ""));
    let mem2 = by_id(s.list_all(&k2, ""));
    assert_eq!((mem1.len(), mem2.len()), (5, 3));

    // Back up the live server's store.
    let file = work.path().join("engram-backup.jsonl.gz");
    let out = run_engram(
        &opts,
        &data,
        "127.0.0.1:1",
        &["backup", "--out", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "backup failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(file.exists(), "no backup file");
    s.terminate();

    // Restore into a fresh data directory and serve it.
    let fresh = work.data("restored");
    let out = run_engram(
        &opts,
        &fresh,
        "127.0.0.1:1",
        &["restore", "--from", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "restore failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    // Restoring twice into the same store is refused, not merged.
    let again = run_engram(
        &opts,
        &fresh,
        "127.0.0.1:1",
        &["restore", "--from", file.to_str().unwrap()],
    );
    assert!(!again.status.success(), "a second restore was accepted");

    let r = Server::start_in(&work, &fresh, opts.clone());
    assert_eq!(r.get("/v1/tenants", ADMIN_KEY).expect(200), &tenants_before);
    assert_eq!(
        r.get(&format!("/v1/tenants/{t1}/keys"), ADMIN_KEY)
            .expect(200),
        &keys_before
    );
    // The same secrets work: the hashes came along.
    assert_eq!(by_id(r.list_all(&k1, "")), mem1, "tenant 1 memories differ");
    assert_eq!(by_id(r.list_all(&k2, "")), mem2, "tenant 2 memories differ");
    assert_eq!(by_id(r.list_all(&k1_ro, "")), mem1);
    r.post("/v1/memories", &k1_ro, &json!({ "content": "no" }))
        .expect_problem(403, None);
    let id = bakery["id"].as_str().unwrap();
    let m = r.get(&format!("/v1/memories/{id}"), &k1);
    assert_eq!(m.expect(200), &bakery, "a memory changed in the round trip");
    r.get(&format!("/v1/memories/{gone}"), &k2)
        .expect_problem(404, None);
    assert_eq!(
        r.get(&format!("/v1/conversations/{thread_id}"), &k2)
            .expect(200),
        &thread
    );
    let messages = r
        .get(&format!("/v1/conversations/{thread_id}/messages"), &k2)
        .expect(200)
        .clone();
    assert_eq!(
        messages["items"][0]["content"],
        json!("Carol's garden needs more tomato plants.")
    );
    r.get(&format!("/v1/conversations/{thread_id}"), &k1)
        .expect_problem(404, None);
    r.get(&format!("/v1/memories/{id}"), &k2)
        .expect_problem(404, None);

    // Search works on the restored vectors and text.
    let hybrid = r.search_ids(&k1, &json!({ "query": "Where is Alice employed?" }));
    assert_eq!(hybrid.first().map(String::as_str), Some(id));
    let vector = r.search_ids(
        &k2,
        &json!({ "query": "a city in Portugal for the company trip", "mode": "vector" }),
    );
    let lisbon = r.search_ids(&k2, &json!({ "query": "Lisbon", "mode": "keyword" }));
    assert_eq!(lisbon.len(), 1);
    assert_eq!(vector.first(), lisbon.first());
    let other = r.search_ids(&k2, &json!({ "query": "baker", "mode": "keyword" }));
    assert!(other.is_empty(), "tenants mixed up: {other:?}");
    // And the restored store takes new writes.
    let new = r.add_text(&k2, "carol", "Written after the restore.");
    r.get(&format!("/v1/memories/{new}"), &k2).expect(200);
    r.get_open("/ready").expect(200);
}

/// The backup CronJob's script as the Helm chart runs it, with its paths
/// (the binary, the backup volume) pointed at this test's.
fn cronjob_script(backup_dir: &std::path::Path) -> String {
    let chart = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/helm/engram/templates/backup-cronjob.yaml"
    ));
    let start = chart.find("- |\n").expect("the CronJob's script block") + 4;
    let script: Vec<&str> = chart[start..]
        .lines()
        .take_while(|l| l.starts_with("                  "))
        .map(|l| &l[18..])
        .collect();
    assert!(
        script.iter().any(|l| l.contains("engram backup --out")),
        "the CronJob no longer runs engram backup: {script:?}"
    );
    script
        .join("\n")
        .replace("/usr/local/bin/engram", env!("CARGO_BIN_EXE_engram"))
        .replace("/backup", backup_dir.to_str().unwrap())
}

#[test]
fn the_backup_cronjobs_file_restores_to_the_same_search_results() {
    let work = Workdir::new();
    let data = work.data("data");
    let opts = Opts::default();
    let mut s = Server::start_in(&work, &data, opts.clone());
    let t = s.create_tenant("searched");
    let key = s.create_key(&t, &["read", "write"]);
    let notes = [
        (
            "ann",
            "Ann moved to Porto last spring and works at a bike shop.",
        ),
        ("ann", "Ann's daughter started violin lessons on Tuesdays."),
        (
            "ann",
            "Ann is allergic to shellfish and avoids seafood restaurants.",
        ),
        (
            "ben",
            "Ben runs the night shift at the central hospital pharmacy.",
        ),
        (
            "ben",
            "Ben is saving for a trip to Japan in the cherry blossom season.",
        ),
        (
            "ben",
            "Ben's car is a blue 2014 hatchback that needs new brakes.",
        ),
        (
            "cid",
            "Cid teaches chemistry at the high school near the river.",
        ),
        ("cid", "Cid plays bass in a jazz trio on Friday evenings."),
    ];
    for (user, text) in notes {
        s.add_text(&key, user, text);
    }
    let queries = [
        json!({ "query": "Where does Ann live?" }),
        json!({ "query": "music hobbies", "mode": "vector" }),
        json!({ "query": "hospital", "mode": "keyword" }),
        json!({ "query": "food allergies", "filters": { "user_id": "ann" } }),
        json!({ "query": "travel plans", "limit": 3 }),
    ];
    let before: Vec<Vec<String>> = queries.iter().map(|q| s.search_ids(&key, q)).collect();
    let memories = by_id(s.list_all(&key, ""));

    // The CronJob's own script, beside the running server.
    let backups = work.path().join("backup");
    std::fs::create_dir_all(&backups).unwrap();
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(cronjob_script(&backups))
        .env("RETENTION_DAYS", "14")
        .env("ENGRAM_DATA_DIR", &data)
        .env("ENGRAM_MODEL_DIR", common::model_dir())
        .env_remove("DATABASE_URL");
    if common::pg::backend_is_postgres() {
        cmd.env("DATABASE_URL", common::pg::database_for(&data));
    }
    let out = cmd.output().expect("running the CronJob's script");
    assert!(
        out.status.success(),
        "the backup CronJob's script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one backup file: {files:?}");
    s.terminate();

    let fresh = work.data("restored");
    let restored = run_engram(
        &opts,
        &fresh,
        "127.0.0.1:1",
        &["restore", "--from", files[0].to_str().unwrap()],
    );
    assert!(
        restored.status.success(),
        "restore failed: {}",
        restored.stderr
    );
    let r = Server::start_in(&work, &fresh, opts);
    assert_eq!(by_id(r.list_all(&key, "")), memories);
    let after: Vec<Vec<String>> = queries.iter().map(|q| r.search_ids(&key, q)).collect();
    assert!(before.iter().all(|ids| !ids.is_empty()), "{before:?}");
    assert_eq!(
        after, before,
        "search results (ids and order) differ after the restore"
    );
}
