//! The durable job queue from outside, on both backends: a job queued over
//! HTTP runs in the background and is read back by its tenant only; jobs
//! queued when the server is killed complete after the restart, none run
//! twice. The job kind is the real `reembed` (no LLM needed).

mod common;

use std::time::{Duration, Instant};

use common::{Opts, Server};
use serde_json::{Value, json};

/// Polls the job until it is `done` or `dead`.
fn wait_final(s: &Server, key: &str, id: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let job = s.get(&format!("/v1/jobs/{id}"), key).expect(200).clone();
        if job["status"] == "done" || job["status"] == "dead" {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} not finished: {job}\nlog:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_queued_job_runs_and_only_its_tenant_sees_it() {
    let s = Server::start(Opts::default());
    let (t1, t2) = (s.create_tenant("jobs-a"), s.create_tenant("jobs-b"));
    let (k1, k2) = (
        s.create_key(&t1, &["read", "write"]),
        s.create_key(&t2, &["read", "write"]),
    );
    let a = s.add_text(&k1, "u", "Ana keeps bees on the roof.");
    let b = s.add_text(&k1, "u", "Ana cycles along the canal.");
    let before = s.get(&format!("/v1/memories/{a}"), &k1).expect(200).clone();

    let r = s.post(
        "/v1/memories/reembed",
        &k1,
        &json!({"ids": [a, b, "no-such-memory"]}),
    );
    let job = r.expect(202).clone();
    assert_eq!(
        (job["kind"].as_str(), job["status"].as_str()),
        (Some("reembed"), Some("queued"))
    );
    let id = job["id"].as_str().unwrap().to_string();

    let done = wait_final(&s, &k1, &id, Duration::from_secs(30));
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["result"], json!({"reembedded": 2, "missing": 1}));
    assert_eq!(done["last_error"], Value::Null);
    // Re-embedding changes the vector only, never what was stored.
    let after = s.get(&format!("/v1/memories/{a}"), &k1).expect(200).clone();
    assert_eq!(after["content"], before["content"]);
    let found = s.search_ids(&k1, &json!({"query": "who keeps bees?"}));
    assert_eq!(found.first(), Some(&a));

    // Another tenant: not found, as if it did not exist.
    s.get(&format!("/v1/jobs/{id}"), &k2)
        .expect_problem(404, None);
    s.get("/v1/jobs/00000000-0000-0000-0000-000000000000", &k1)
        .expect_problem(404, None);
    // Bad requests name the field.
    s.post("/v1/memories/reembed", &k1, &json!({"ids": []}))
        .expect_problem(400, Some("ids"));
    s.post("/v1/memories/reembed", &k1, &json!({"ids": [""]}))
        .expect_problem(400, Some("ids[0]"));
    let ro = s.create_key(&t1, &["read"]);
    s.post("/v1/memories/reembed", &ro, &json!({"ids": [a]}))
        .expect_problem(403, None);
}

#[test]
fn jobs_queued_when_the_server_is_killed_complete_after_restart_none_twice() {
    // Two workers and a 2 s lease: a job running at the kill is claimed
    // again 2 s after the restart.
    let mut s = Server::start(Opts::default().env("ENGRAM_JOB_LEASE_SECONDS", "2"));
    let t = s.create_tenant("crash");
    let key = s.create_key(&t, &["read", "write"]);
    let ids: Vec<String> = (0..20)
        .map(|i| s.add_text(&key, "u", &format!("Memory number {i} about the garden.")))
        .collect();
    let jobs: Vec<String> = (0..30)
        .map(|i| {
            let pick: Vec<&String> = ids.iter().cycle().skip(i).take(15).collect();
            let r = s.post("/v1/memories/reembed", &key, &json!({"ids": pick}));
            r.expect(202)["id"].as_str().unwrap().to_string()
        })
        .collect();
    // The last job is still waiting when the server dies.
    let last = s
        .get(&format!("/v1/jobs/{}", jobs[29]), &key)
        .expect(200)
        .clone();
    assert_ne!(
        last["status"], "done",
        "the jobs ran before the kill: {last}"
    );
    s.kill();
    s.restart();

    let mut reclaimed = 0;
    for id in &jobs {
        let job = wait_final(&s, &key, id, Duration::from_secs(60));
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!(
            job["result"],
            json!({"reembedded": 15, "missing": 0}),
            "{job}"
        );
        let attempts = job["attempts"].as_u64().unwrap();
        assert!((1..=2).contains(&attempts), "{job}");
        reclaimed += (attempts == 2) as usize;
    }
    // Only jobs a worker held at the kill ran a second attempt: at most one
    // per worker.
    assert!(reclaimed <= 2, "{reclaimed} jobs were claimed twice");
}
