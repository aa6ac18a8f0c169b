//! The LLM features from outside: with no LLM configured the endpoints that
//! need one answer 409 and everything else works; usage is metered
//! (embeddings too) and budgets are set and read by the admin; a hard token
//! budget refuses with 402 once the real local LLM (scripts/dev-llm,
//! `ENGRAM_TEST_LLM_URL`) spent it, and the usage report shows the exact
//! tokens it counted. One LLM call in all: the local model writes ~10
//! tokens/s on the CI machine.

mod common;

use common::{ADMIN_KEY, Opts, Server, llm_url};
use serde_json::{Value, json};

fn usage_of<'a>(report: &'a Value, group: &str) -> Option<&'a Value> {
    report["items"]
        .as_array()?
        .iter()
        .find(|i| i["group"] == group)
}

#[test]
fn without_an_llm_answers_are_refused_and_everything_else_is_metered() {
    let mut s = Server::start(Opts::default());
    let t = s.create_tenant("no-llm");
    let key = s.create_key(&t, &["read", "write"]);
    s.add_text(&key, "u", "Rita lives in Lisbon.");
    let r = s.post(
        "/v1/answer",
        &key,
        &json!({"query": "Where does Rita live?"}),
    );
    r.expect_problem(409, None);
    assert_eq!(r.json["code"], "llm_not_configured");
    let detail = r.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("ENGRAM_LLM_URL") && detail.contains("ENGRAM_LLM_MODEL"),
        "{detail}"
    );
    // Search is untouched.
    assert_eq!(
        s.search_ids(&key, &json!({"query": "Where does Rita live?"}))
            .len(),
        1
    );

    // Embedding usage is written with the index saves (here: at shutdown).
    s.terminate();
    s.restart();
    let report = s.get("/v1/usage?group_by=kind", &key).expect(200).clone();
    let embedding = usage_of(&report, "embedding").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(embedding["calls"], 2, "one write and one search: {report}");
    assert!(
        embedding["input_tokens"].as_u64().unwrap() >= 10,
        "{report}"
    );
    assert_eq!(embedding["cost"], 0.0, "no price configured");
    assert!(
        usage_of(&report, "answer").is_none(),
        "a refused call spends nothing"
    );
    let by_day = s.get("/v1/usage", &key).expect(200).clone();
    assert_eq!(by_day["group_by"], "day");
    assert_eq!(by_day["items"].as_array().unwrap().len(), 1, "{by_day}");

    // Another tenant's report is its own.
    let other = s.create_tenant("no-llm-other");
    let other_key = s.create_key(&other, &["read"]);
    let empty = s
        .get("/v1/usage?group_by=kind", &other_key)
        .expect(200)
        .clone();
    assert_eq!(empty["items"], json!([]));

    // Bad parameters name the field.
    s.get("/v1/usage?group_by=week", &key)
        .expect_problem(400, Some("group_by"));
    s.get(
        "/v1/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        &key,
    )
    .expect_problem(400, Some("from"));
    s.get("/v1/usage?from=0001-01-01T00:00:00Z", &key)
        .expect_problem(400, Some("from"));
    s.post("/v1/answer", &key, &json!({"query": "x", "max_tokens": 0}))
        .expect_problem(400, Some("max_tokens"));
    s.raw(
        "POST",
        "/v1/answer",
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", "application/json"),
            ("x-project-id", "no spaces"),
        ],
        r#"{"query": "x"}"#,
    )
    .expect_problem(400, Some("X-Project-ID"));
}

#[test]
fn the_admin_sets_reads_and_deletes_budgets() {
    let s = Server::start(Opts::default());
    let t = s.create_tenant("budgets");
    let key = s.create_key(&t, &["read", "write"]);
    let path = format!("/v1/tenants/{t}/budgets");
    let put = |body: Value| s.call("PUT", &path, Some(ADMIN_KEY), Some(&body));

    let b = put(json!({"metric": "tokens", "period": "day", "limit": 1000, "hard": true}));
    let b = b.expect(200);
    assert_eq!(
        (b["used"].as_f64(), b["hard"].as_bool(), &b["project"]),
        (Some(0.0), Some(true), &Value::Null)
    );
    assert!(
        b["resets_at"].as_str().unwrap().ends_with("T00:00:00Z"),
        "{b}"
    );
    // The same key replaces it.
    put(json!({"metric": "tokens", "period": "day", "limit": 2000})).expect(200);
    put(json!({"project": "team-a", "metric": "cost", "period": "month", "limit": 1.5}))
        .expect(200);
    let listed = s.get(&path, ADMIN_KEY).expect(200).clone();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    assert_eq!(
        (items[0]["limit"].as_f64(), items[0]["hard"].as_bool()),
        (Some(2000.0), Some(false))
    );
    assert_eq!(items[1]["project"], "team-a");

    // Bad budgets name the field; only the admin manages them.
    put(json!({"metric": "calls", "period": "day", "limit": 1}))
        .expect_problem(400, Some("metric"));
    put(json!({"metric": "cost", "period": "day", "limit": -1})).expect_problem(400, Some("limit"));
    put(json!({"project": "a b", "metric": "cost", "period": "day", "limit": 1}))
        .expect_problem(400, Some("project"));
    s.call(
        "PUT",
        &path,
        Some(&key),
        Some(&json!({"metric": "cost", "period": "day", "limit": 1})),
    )
    .expect_problem(403, None);
    s.call(
        "PUT",
        "/v1/tenants/nope/budgets",
        Some(ADMIN_KEY),
        Some(&json!({"metric": "cost", "period": "day", "limit": 1})),
    )
    .expect_problem(404, None);
    s.get("/v1/tenants/nope/budgets", ADMIN_KEY)
        .expect_problem(404, None);

    s.delete(
        &format!("{path}?project=team-a&metric=cost&period=month"),
        ADMIN_KEY,
    )
    .expect(204);
    s.delete(
        &format!("{path}?project=team-a&metric=cost&period=month"),
        ADMIN_KEY,
    )
    .expect_problem(404, None);
    s.delete(&format!("{path}?metric=tokens&period=day"), ADMIN_KEY)
        .expect(204);
    assert_eq!(s.get(&path, ADMIN_KEY).expect(200)["items"], json!([]));
}

#[test]
fn a_hard_token_budget_refuses_with_402_once_the_real_llm_spent_it() {
    let s = Server::start(
        Opts::default()
            .env("ENGRAM_LLM_URL", &llm_url())
            .env("ENGRAM_LLM_MODEL", "qwen2.5-coder-1.5b-instruct")
            .env("ENGRAM_PRICES", "qwen2.5-coder-1.5b-instruct=100/400")
            .env("ENGRAM_REQUEST_TIMEOUT_SECONDS", "120"),
    );
    let t = s.create_tenant("metered");
    let key = s.create_key(&t, &["read", "write"]);
    let path = format!("/v1/tenants/{t}/budgets");
    // A hard budget the first call uses up, and a soft one it passes.
    s.call(
        "PUT",
        &path,
        Some(ADMIN_KEY),
        Some(&json!({"metric": "tokens", "period": "day", "limit": 60, "hard": true})),
    )
    .expect(200);
    s.call(
        "PUT",
        &path,
        Some(ADMIN_KEY),
        Some(&json!({"metric": "tokens", "period": "month", "limit": 50})),
    )
    .expect(200);
    s.add_text(
        &key,
        "rita",
        "Rita moved to Lisbon in 2024 and works there as a nurse.",
    );

    let ask =
        json!({"query": "Which city does Rita live in?", "token_budget": 60, "max_tokens": 24});
    let answered = s.post("/v1/answer", &key, &ask).expect(200).clone();
    assert!(
        answered["answer"].as_str().unwrap().contains("Lisbon"),
        "{answered}"
    );
    assert_eq!(answered["context"]["items"].as_array().unwrap().len(), 1);
    let (input, output) = (
        answered["usage"]["input_tokens"].as_u64().unwrap(),
        answered["usage"]["output_tokens"].as_u64().unwrap(),
    );
    assert!(
        input + output >= 60,
        "the call spent the budget: {answered}"
    );

    let refused = s.post("/v1/answer", &key, &ask);
    refused.expect_problem(402, None);
    assert_eq!(refused.json["code"], "budget_exceeded");
    let detail = refused.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("60 tokens per day") && detail.contains("resets at"),
        "{detail}"
    );

    // The usage report holds exactly what the LLM counted, once.
    let report = s.get("/v1/usage?group_by=kind", &key).expect(200).clone();
    let answer = usage_of(&report, "answer").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        (
            answer["calls"].as_u64(),
            answer["input_tokens"].as_u64(),
            answer["output_tokens"].as_u64()
        ),
        (Some(1), Some(input), Some(output)),
        "{report}"
    );
    let cost = (input as f64 * 100.0 + output as f64 * 400.0) / 1e6;
    assert!(
        (answer["cost"].as_f64().unwrap() - cost).abs() < 1e-9,
        "{report}"
    );
    let budgets = s.get(&path, ADMIN_KEY).expect(200).clone();
    assert_eq!(
        budgets["items"][0]["used"].as_f64(),
        Some((input + output) as f64),
        "{budgets}"
    );

    // The soft budget is over 100%: the metric the alerts watch says so.
    let metrics = s.get_open("/metrics").text;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("engram_budget_used_ratio") && l.contains("enforcement=\"soft\""))
        .unwrap_or_else(|| panic!("no soft budget ratio in /metrics:\n{metrics}"));
    let ratio: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        (ratio - (input + output) as f64 / 50.0).abs() < 1e-9,
        "{line}"
    );
}
