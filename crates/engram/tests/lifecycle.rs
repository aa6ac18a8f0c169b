//! Lifecycle on the real binary (docs/LIFECYCLE.md): retention policies
//! set over the admin API and applied by `engram maintain retention`, and
//! `engram maintain` doing each task once however many processes run it.

mod common;

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use common::{ADMIN_KEY, Opts, Server, Workdir, ids_of, run_engram};
use serde_json::{Value, json};

/// A memory of `user` that occurred `days_ago`.
fn add(s: &Server, key: &str, user: &str, kind: &str, labels: &[&str], days_ago: i64) -> String {
    let at = (Utc::now() - Duration::days(days_ago)).to_rfc3339();
    s.add(
        key,
        &json!({ "content": format!("{user} {kind} note from {days_ago} days ago"),
                 "user_id": user, "kind": kind, "labels": labels, "occurred_at": at }),
    )["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ids(s: &Server, key: &str) -> BTreeSet<String> {
    ids_of(&s.list_all(key, "")).into_iter().collect()
}

/// `engram maintain <args>` on the server's store (the server stopped:
/// the embedded store serves one process at a time).
fn maintain(s: &Server, args: &[&str]) -> common::Output {
    let mut all = vec!["maintain"];
    all.extend_from_slice(args);
    let out = run_engram(&s.opts, &s.data_dir, "127.0.0.1:0", &all);
    assert!(
        out.status.success(),
        "engram {} failed: {}\n{}",
        all.join(" "),
        out.stdout,
        out.stderr
    );
    out
}

/// The line `engram maintain` printed for `task`.
fn reported(out: &common::Output, task: &str) -> Value {
    out.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["task"] == task)
        .unwrap_or_else(|| panic!("no line for {task} in {}", out.stdout))
}

/// The value of the metric line starting with `prefix` (name and labels).
fn metric(s: &Server, prefix: &str) -> Option<f64> {
    let text = s.get_open("/metrics").text.clone();
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
}

#[test]
fn retention_policies_are_validated_and_scoped_to_their_tenant() {
    let s = Server::start(Opts::default());
    let t = s.create_tenant("kept-policies");
    let other = s.create_tenant("other-policies");
    let path = format!("/v1/tenants/{t}/retention");
    let admin = Some(ADMIN_KEY);

    let empty = s.call("GET", &path, admin, None);
    assert_eq!(empty.expect(200)["policies"], json!([]));

    for (body, field) in [
        (json!({ "policies": [{}] }), "policies[0].keep_days"),
        (
            json!({ "policies": [{ "forever": true }, { "keep_days": 0 }] }),
            "policies[1].keep_days",
        ),
        (
            json!({ "policies": [{ "keep_newest_per_user": 0 }] }),
            "policies[0].keep_newest_per_user",
        ),
        (
            json!({ "policies": [{ "kind": "gossip", "forever": true }] }),
            "policies[0].kind",
        ),
    ] {
        s.call("PUT", &path, admin, Some(&body))
            .expect_problem(400, Some(field));
    }
    let unknown = json!({ "policies": [{ "keep_weeks": 3 }] });
    s.call("PUT", &path, admin, Some(&unknown))
        .expect_problem(400, None);
    let policies = json!([{ "label": "legal", "forever": true }, { "keep_days": 30 }]);
    let set = s.call("PUT", &path, admin, Some(&json!({ "policies": policies })));
    assert_eq!(set.expect(200)["policies"], policies);
    assert_eq!(
        s.call("GET", &path, admin, None).expect(200)["policies"],
        policies
    );
    // Another tenant's policies are its own.
    let other_path = format!("/v1/tenants/{other}/retention");
    assert_eq!(
        s.call("GET", &other_path, admin, None).expect(200)["policies"],
        json!([])
    );
    s.call("DELETE", &other_path, admin, None)
        .expect_problem(404, None);
    // Tenant keys cannot read or set policies, not even their own.
    let key = s.create_key(&t, &["read", "write"]);
    let refused = s.call("GET", &path, Some(&key), None).status;
    assert!([401, 403].contains(&refused), "a tenant key got {refused}");
    s.call(
        "PUT",
        "/v1/tenants/nope/retention",
        admin,
        Some(&json!({ "policies": [] })),
    )
    .expect_problem(404, None);

    let doc = s.get_open("/openapi.json");
    let route = &doc.expect(200)["paths"]["/v1/tenants/{id}/retention"];
    for method in ["put", "get", "delete"] {
        assert!(
            route[method].is_object(),
            "{method} retention not in OpenAPI"
        );
    }

    assert_eq!(s.call("DELETE", &path, admin, None).status, 204);
    assert_eq!(
        s.call("GET", &path, admin, None).expect(200)["policies"],
        json!([])
    );
}

#[test]
fn a_retention_run_removes_what_the_policies_say_and_nothing_of_anyone_else() {
    let mut s = Server::start(Opts::default());
    let t = s.create_tenant("retained");
    let other = s.create_tenant("untouched");
    let key = s.create_key(&t, &["read", "write"]);
    let other_key = s.create_key(&other, &["read", "write"]);

    let legal_old = add(&s, &key, "ann", "episodic", &["legal"], 400);
    let old = add(&s, &key, "ann", "episodic", &[], 40);
    let recent = add(&s, &key, "ann", "episodic", &[], 3);
    // Semantic memories: each user keeps the newest two.
    let ann_new = add(&s, &key, "ann", "semantic", &[], 1);
    let ann_mid = add(&s, &key, "ann", "semantic", &[], 2);
    let ann_oldest = add(&s, &key, "ann", "semantic", &[], 5);
    let ben_only = add(&s, &key, "ben", "semantic", &[], 90);
    // The other tenant has the same memories and no policy.
    for (kind, days) in [("episodic", 40), ("semantic", 5), ("episodic", 400)] {
        add(&s, &other_key, "ann", kind, &[], days);
    }
    let other_before = ids(&s, &other_key);
    s.call(
        "PUT",
        &format!("/v1/tenants/{t}/retention"),
        Some(ADMIN_KEY),
        Some(&json!({ "policies": [
            { "label": "legal", "forever": true },
            { "kind": "episodic", "keep_days": 30 },
            { "keep_newest_per_user": 2 },
        ] })),
    )
    .expect(200);
    let before = ids(&s, &key);
    s.terminate();

    let dry = maintain(&s, &["retention", "--dry-run"]);
    let listed: Value = dry
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["tenant"] == t.as_str())
        .expect("the dry run lists the tenant's memories that would go");
    let would: BTreeSet<String> = serde_json::from_value(listed["would_remove"].clone()).unwrap();
    assert_eq!(would, BTreeSet::from([old.clone(), ann_oldest.clone()]));
    assert_eq!(
        reported(&dry, "retention")["result"],
        json!({ "would_remove": 2 })
    );

    s.restart();
    assert_eq!(ids(&s, &key), before, "a dry run deletes nothing");
    s.terminate();

    let run = maintain(&s, &["retention"]);
    assert_eq!(
        reported(&run, "retention")["result"],
        json!({ "removed": 2 })
    );
    s.restart();
    let after = ids(&s, &key);
    assert_eq!(
        after,
        BTreeSet::from([legal_old, recent, ann_new, ann_mid, ben_only])
    );
    assert_eq!(
        ids(&s, &other_key),
        other_before,
        "another tenant lost memories"
    );
    // Gone from the indexes too: a search finds only what is left.
    let found = s.search_ids(
        &key,
        &json!({ "query": "ann episodic note from 40 days ago" }),
    );
    assert!(!found.contains(&old), "a removed memory is still found");
    assert_eq!(
        metric(
            &s,
            "engram_maintenance_items_total{task=\"retention\",outcome=\"removed\"}"
        ),
        Some(2.0)
    );
}

#[test]
fn each_task_runs_once_however_many_maintain_processes_start() {
    // No LLM (an empty variable is unset), whatever the environment has.
    let opts = Opts::default()
        .env("ENGRAM_MAINTAIN_MIN_INTERVAL_SECONDS", "3600")
        .env("ENGRAM_LLM_URL", "");
    let mut s = Server::start(opts);
    let t = s.create_tenant("once");
    let key = s.create_key(&t, &["read", "write"]);
    for days in [50, 60, 70] {
        add(&s, &key, "ann", "episodic", &[], days);
    }
    let kept = add(&s, &key, "ann", "episodic", &[], 1);
    s.call(
        "PUT",
        &format!("/v1/tenants/{t}/retention"),
        Some(ADMIN_KEY),
        Some(&json!({ "policies": [{ "keep_days": 30 }] })),
    )
    .expect(200);
    s.terminate();

    // Two processes at once share the store only on PostgreSQL: the
    // embedded store is one process's (the second would be refused its
    // data directory), so there the second starts after the first.
    let outputs: Vec<common::Output> = if common::pg::backend_is_postgres() {
        std::thread::scope(|scope| {
            let a = scope.spawn(|| maintain(&s, &[]));
            let b = scope.spawn(|| maintain(&s, &[]));
            vec![a.join().unwrap(), b.join().unwrap()]
        })
    } else {
        vec![maintain(&s, &[]), maintain(&s, &[])]
    };
    let statuses: Vec<Value> = outputs
        .iter()
        .map(|o| reported(o, "retention")["status"].clone())
        .collect();
    let ran = statuses.iter().filter(|v| **v == "ok").count();
    let skipped = statuses.iter().filter(|v| **v == "skipped").count();
    assert_eq!((ran, skipped), (1, 1), "statuses {statuses:?}");
    // Without an LLM the summaries are skipped by both, and not recorded.
    for o in &outputs {
        assert_eq!(reported(o, "summaries")["status"], "skipped");
    }

    s.restart();
    assert_eq!(ids(&s, &key), BTreeSet::from([kept]));
    let runs = |result: &str| {
        metric(
            &s,
            &format!("engram_maintenance_runs_total{{task=\"retention\",result=\"{result}\"}}"),
        )
    };
    assert_eq!(runs("ok"), Some(1.0));
    assert_eq!(runs("failed"), Some(0.0));
    assert_eq!(
        metric(
            &s,
            "engram_maintenance_items_total{task=\"retention\",outcome=\"removed\"}"
        ),
        Some(3.0)
    );
    let last = metric(
        &s,
        "engram_maintenance_last_success_timestamp_seconds{task=\"retention\"}",
    )
    .expect("a last success time");
    assert!(
        (Utc::now().timestamp() as f64 - last).abs() < 600.0,
        "last success {last}"
    );
    assert!(
        metric(
            &s,
            "engram_maintenance_duration_seconds{task=\"retention\"}"
        )
        .is_some()
    );
    assert_eq!(
        metric(&s, "engram_maintenance_runs_total{task=\"summaries\""),
        None,
        "a skipped task is not a run"
    );
}

#[test]
fn a_failure_frees_the_task_at_once_and_without_an_interval_so_does_a_success() {
    let work = Workdir::new();
    let data = work.data("data");
    let opts = Opts::default()
        .env("ENGRAM_MAINTAIN_MIN_INTERVAL_SECONDS", "3600")
        .env("ENGRAM_LLM_URL", "");
    let mut s = Server::start_in(&work, &data, opts.clone());
    s.terminate();
    // Asked for by name without an LLM, the summaries fail, are recorded
    // as failed, and the next run tries again despite the interval.
    for _ in 0..2 {
        let out = run_engram(
            &s.opts,
            &s.data_dir,
            "127.0.0.1:0",
            &["maintain", "summaries"],
        );
        assert!(!out.status.success(), "summaries without an LLM succeeded");
        assert_eq!(reported(&out, "summaries")["status"], "failed");
        assert!(out.stderr.contains("summaries"), "{}", out.stderr);
    }
    // With no minimum interval, the next process runs a succeeded task again.
    s.opts = opts.env("ENGRAM_MAINTAIN_MIN_INTERVAL_SECONDS", "0");
    for _ in 0..2 {
        let out = maintain(&s, &["retention"]);
        assert_eq!(reported(&out, "retention")["status"], "ok");
    }
    s.restart();
    assert_eq!(
        metric(
            &s,
            "engram_maintenance_runs_total{task=\"summaries\",result=\"failed\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &s,
            "engram_maintenance_runs_total{task=\"retention\",result=\"ok\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &s,
            "engram_maintenance_last_success_timestamp_seconds{task=\"summaries\"}"
        ),
        None,
        "summaries never succeeded"
    );
}
