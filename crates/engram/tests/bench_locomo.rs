//! `engram bench locomo` end to end on a small hand-made LoCoMo-format file:
//! the real binary, the real model, the JSON summary checked against recall
//! worked out by hand.

mod common;

use common::{Opts, Workdir, free_port, run_engram};
use serde_json::Value;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/locomo-tiny.json"
);

fn bench(args: &[&str]) -> common::Output {
    let work = Workdir::new();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut all = vec!["bench", "locomo", "--data", FIXTURE];
    all.extend_from_slice(args);
    let out = run_engram(&Opts::default(), &work.data("data"), &listen, &all);
    assert!(out.status.success(), "bench failed:\n{}", out.stderr);
    out
}

fn recall(v: &Value, k: &str) -> f64 {
    v["recall_at"][k].as_f64().unwrap_or(f64::NAN)
}

#[test]
fn json_summary_scores_recall_per_category_over_answerable_questions() {
    let out = bench(&["--json"]);
    let last = out.stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(last).expect("the last stdout line is JSON");

    // Category 5 and the question without evidence are not scored.
    assert_eq!(v["questions"], 5, "{v}");
    let cats = &v["by_category"];
    assert_eq!(cats["1"]["questions"], 2, "{v}");
    assert_eq!(cats["2"]["questions"], 1, "{v}");
    assert_eq!(cats["3"]["questions"], 1, "{v}");
    assert_eq!(cats["4"]["questions"], 1, "{v}");
    assert!(cats.get("5").is_none(), "{v}");

    // Each conversation has at most 6 turns, all within the top 10: every
    // evidence turn that exists is found, and the category-4 question
    // names one turn that does not exist, so it can reach 0.5 at most.
    for k in ["10", "20"] {
        assert_eq!(recall(&cats["1"], k), 1.0, "{v}");
        assert_eq!(recall(&cats["3"], k), 1.0, "{v}");
        assert_eq!(recall(&cats["4"], k), 0.5, "{v}");
        assert_eq!(recall(&v, k), 0.9, "{v}");
    }
    // The questions are unambiguous: the evidence turn ranks first.
    assert_eq!(recall(&cats["1"], "1"), 1.0, "{v}");
    assert_eq!(recall(&cats["2"], "1"), 1.0, "{v}");
    // Recall never decreases with k.
    let r: Vec<f64> = ["1", "5", "10", "20"]
        .iter()
        .map(|k| recall(&v, k))
        .collect();
    assert!(r.windows(2).all(|w| w[0] <= w[1]), "{v}");

    for p in ["p50", "p95", "p99"] {
        assert!(v["search_ms"][p].as_f64().is_some_and(|x| x > 0.0), "{v}");
    }
    assert!(v["ingest_per_s"].as_f64().is_some_and(|x| x > 0.0), "{v}");
}

#[test]
fn readable_report_has_a_row_per_category_and_a_total() {
    let out = bench(&[]);
    let rows: Vec<&str> = out.stdout.lines().collect();
    for name in ["1", "2", "3", "4", "all"] {
        assert!(
            rows.iter()
                .any(|r| r.split_whitespace().next() == Some(name)),
            "no row {name}:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("search latency: p50"), "{}", out.stdout);
    assert!(
        out.stderr.contains("tiny-1"),
        "progress while ingesting:\n{}",
        out.stderr
    );
}
