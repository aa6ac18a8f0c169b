//! Fact extraction and summaries with the real local LLM of
//! `scripts/dev-llm` (`ENGRAM_TEST_LLM_URL`): a short chat gives a fact
//! about Lisbon; a later message contradicting it leaves the Porto fact
//! current and the Lisbon one valid only before the move; the session's
//! summary cites the session's messages. Few calls: the local model makes
//! ~10 tokens/s (far fewer on a busy machine), so each job is polled for
//! minutes.

mod common;

use std::time::{Duration, Instant};

use common::{Opts, Server, llm_url};
use serde_json::{Value, json};

/// Waits for job `id` to finish; returns it (done, or dead with its error).
#[track_caller]
fn finished(s: &Server, key: &str, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let job = s.get(&format!("/v1/jobs/{id}"), key).expect(200).clone();
        match job["status"].as_str() {
            Some("done") => return job,
            Some("dead") => panic!("job {id} died: {job}"),
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(900),
            "job {id} not done after 15 minutes: {job}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn jobs_of(r: &common::Resp) -> Vec<String> {
    r.header("engram-jobs")
        .unwrap_or_else(|| panic!("no Engram-Jobs header: {}", r.text))
        .split(',')
        .map(str::to_string)
        .collect()
}

/// The current facts about alice (as of `as_of`, or now), their texts.
fn facts(s: &Server, key: &str, as_of: Option<&str>) -> Vec<String> {
    let mut body = json!({ "query": "Where does Alice live?", "mode": "vector", "limit": 100,
                           "filters": { "user_id": "alice", "kind": "semantic" } });
    if let Some(t) = as_of {
        body["as_of"] = json!(t);
    }
    let r = s.post("/v1/search", key, &body);
    r.expect(200)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["memory"]["content"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn facts_are_extracted_reconciled_over_time_and_sessions_summarized() {
    let s = Server::start(
        Opts::default()
            .env("ENGRAM_LLM_URL", &llm_url())
            .env("ENGRAM_LLM_MODEL", "qwen2.5-coder-1.5b-instruct")
            .env("ENGRAM_LLM_TIMEOUT_SECONDS", "600"),
    );
    let tenant = s.create_tenant("facts-llm");
    let key = s.create_key(&tenant, &["read", "write"]);

    let r = s.post(
        "/v1/memories",
        &key,
        &json!({ "content": "Hi! I just moved to Lisbon for my new job as a nurse.",
                 "user_id": "alice", "role": "user", "session_id": "s1",
                 "occurred_at": "2024-01-10T09:00:00Z", "infer": true }),
    );
    let first = r.expect(201)["id"].as_str().unwrap().to_string();
    let jobs = jobs_of(&r);
    assert_eq!(jobs.len(), 2, "facts and the session's summary: {jobs:?}");
    let done = finished(&s, &key, &jobs[0]);
    assert_eq!(done["kind"], json!("facts"));
    assert_eq!(done["result"]["prompt"], json!("facts/1"));
    assert!(
        done["result"]["input_tokens"].as_u64().unwrap() > 0,
        "{done}"
    );
    let now = facts(&s, &key, None);
    assert!(now.iter().any(|f| f.contains("Lisbon")), "{now:?} ({done})");

    // The session's summary cites the session's messages.
    let summary_job = finished(&s, &key, &jobs[1]);
    let summary_id = summary_job["result"]["ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let summary = s
        .get(&format!("/v1/memories/{summary_id}"), &key)
        .expect(200)
        .clone();
    assert_eq!(summary["kind"], json!("summary"));
    assert_eq!(summary["session_id"], json!("s1"));
    assert_eq!(summary["sources"], json!([first]), "{summary}");

    // The move contradicts the Lisbon fact.
    // Under a project: its extraction is metered there.
    let r = s.raw(
        "POST",
        "/v1/memories",
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", "application/json"),
            ("x-project-id", "relocation"),
        ],
        json!({ "content": "Big news: I moved to Porto last week!",
                 "user_id": "alice", "role": "user", "session_id": "s2",
                 "occurred_at": "2024-06-01T09:00:00Z", "infer": true })
        .to_string(),
    );
    r.expect(201);
    let done = finished(&s, &key, &jobs_of(&r)[0]);
    let usage = s
        .get("/v1/usage?group_by=project", &key)
        .expect(200)
        .clone();
    let relocation = usage["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["group"] == "relocation")
        .unwrap_or_else(|| panic!("no usage under the write's project: {usage}"));
    // At least the extraction's tokens (the session summary queued beside
    // it may have spent under the same project by now).
    assert!(
        relocation["input_tokens"].as_u64() >= done["result"]["input_tokens"].as_u64()
            && done["result"]["input_tokens"].as_u64() > Some(0),
        "the extraction's tokens, under its write's project: {usage} ({done})"
    );
    let now = facts(&s, &key, None);
    assert!(now.iter().any(|f| f.contains("Porto")), "{now:?} ({done})");
    assert!(
        !now.iter().any(|f| f.contains("Lisbon")),
        "{now:?} ({done})"
    );
    let before = facts(&s, &key, Some("2024-03-01T00:00:00Z"));
    assert!(
        before.iter().any(|f| f.contains("Lisbon")),
        "{before:?} ({done})"
    );
    assert!(
        !before.iter().any(|f| f.contains("Porto")),
        "{before:?} ({done})"
    );
}
