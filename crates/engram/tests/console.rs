//! The web console (docs/CONSOLE.md): its files and headers over HTTP, the
//! two API additions it relies on (`GET /v1/me`, `"explain"` on a search),
//! and the console itself driven in headless Chromium by
//! `tests/console/console.spec.mjs` (playwright-core), against the real
//! binary on either backend.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{ADMIN_KEY, Opts, Server};
use serde_json::{Value, json};

/// The README's first memory: what a new user adds and then looks for.
const BAKER: &str = "Alice works as a baker at the Acme bakery on Main Street.";

/// playwright-core, installed by `scripts/console-browser` (scripts/test
/// runs it).
fn node_modules() -> PathBuf {
    let dir = common::installed(
        "ENGRAM_TEST_CONSOLE_MODULES",
        ".cache/console-node/node_modules",
        "run scripts/console-browser, which installs chromium and the pinned playwright-core \
         (scripts/test does)",
    );
    assert!(
        dir.join("playwright-core").exists(),
        "no playwright-core in {}: run scripts/console-browser",
        dir.display()
    );
    dir
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("ENGRAM_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "no browser at {} (ENGRAM_TEST_CHROMIUM): run scripts/console-browser (apt-get install chromium)",
        path.display()
    );
    path
}

/// Where the screenshots go; README and docs/CONSOLE.md point here.
fn screenshots() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/console-screenshots"
    ))
}

/// Runs `scenario` of the browser test against `s`; fails with the
/// browser's report and the server log.
fn browse(s: &Server, scenario: &str, env: &[(&str, &str)]) {
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/console/console.spec.mjs"
    );
    let mut cmd = Command::new("node");
    cmd.arg(spec)
        .env("ENGRAM_CONSOLE_SCENARIO", scenario)
        .env("ENGRAM_CONSOLE_URL", &s.base)
        .env("ENGRAM_CONSOLE_MEMORY", BAKER)
        .env("ENGRAM_CONSOLE_SHOTS", screenshots())
        .env("ENGRAM_TEST_CHROMIUM", chromium())
        .env("ENGRAM_TEST_CONSOLE_MODULES", node_modules());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("running node (Node.js 18 or later: run scripts/console-browser, or apt-get install nodejs)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test ({scenario}) failed:\n{stderr}\n{stdout}\nserver log:\n{}",
        s.log_text()
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
}

/// The acceptance of issue 19, as a new user: a first run (no admin key),
/// the README's curl line, then the console with the key the server printed.
#[test]
fn a_first_run_key_shows_the_readme_memories_with_scores() {
    let s = Server::start(Opts::no_admin());
    let log = s.log_text();
    let key = log
        .split_whitespace()
        .find(|w| w.starts_with("egk_"))
        .unwrap_or_else(|| panic!("no key printed:\n{log}"))
        .to_string();
    assert!(
        log.contains(&format!("{}/ui", s.base)),
        "the console's address is printed:\n{log}"
    );
    s.add_text(&key, "alice", BAKER);
    browse(&s, "first-run", &[("ENGRAM_CONSOLE_RW_KEY", &key)]);
}

#[test]
fn the_console_works_in_a_real_browser() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("acme");
    let rw = s.create_key(&tenant, &["read", "write"]);
    let ro = s.create_key(&tenant, &["read"]);
    let baker = s.add_text(&rw, "alice", BAKER);
    s.add_text(
        &rw,
        "alice",
        "Alice's sister Carol lives in Lisbon and teaches maths.",
    );
    s.add(
        &rw,
        &json!({ "content": "Bob prefers tea to coffee and takes it without sugar.",
                 "user_id": "bob", "kind": "semantic", "labels": ["preferences"],
                 "metadata": { "source": "onboarding" } }),
    );
    let conversation = s
        .post(
            "/v1/conversations",
            &rw,
            &json!({ "title": "Bakery order", "folder": "work/clients", "label": "orders", "user_id": "alice" }),
        )
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(
        &format!("/v1/conversations/{conversation}/messages/batch"),
        &rw,
        &json!({ "items": [
            { "role": "user", "content": "Can I order two sourdough loaves for Friday?" },
            { "role": "assistant", "content": "Yes: two sourdough loaves, ready Friday at 8." },
        ] }),
    )
    .expect(201);
    // Another tenant's memory, which no page of this tenant may show.
    let other = s.create_tenant("other");
    let other_key = s.create_key(&other, &["read", "write"]);
    s.add_text(
        &other_key,
        "alice",
        "Alice from the other tenant is a pilot.",
    );

    browse(
        &s,
        "full",
        &[
            ("ENGRAM_CONSOLE_RW_KEY", &rw),
            ("ENGRAM_CONSOLE_RO_KEY", &ro),
            ("ENGRAM_CONSOLE_ADMIN_KEY", ADMIN_KEY),
            ("ENGRAM_CONSOLE_TENANT", "acme"),
        ],
    );

    // What the clicks did, seen through the API.
    s.get(&format!("/v1/memories/{baker}"), &rw)
        .expect_problem(404, None);
    let c = s.get(&format!("/v1/conversations/{conversation}"), &rw);
    assert_eq!(
        c.expect(200)["pinned"],
        json!(true),
        "pinned in the console"
    );
    let keys = s.get(&format!("/v1/tenants/{tenant}/keys"), ADMIN_KEY);
    let names: Vec<&str> = keys.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    assert!(
        !names.contains(&"console-made"),
        "revoked in the console: {names:?}"
    );
    // The other tenant was never touched.
    let theirs = s.get("/v1/memories", &other_key);
    assert_eq!(theirs.expect(200)["items"].as_array().unwrap().len(), 1);
    for name in [
        "signin",
        "memories",
        "playground",
        "memory",
        "health",
        "admin",
        "memories-phone",
    ] {
        let png = screenshots().join(format!("{name}.png"));
        assert!(png.exists(), "screenshot {} is missing", png.display());
    }
}

#[test]
fn ui_files_are_served_with_a_strict_policy_and_revalidated_by_etag() {
    let s = Server::start(Opts::default());
    let page = s.get_open("/ui");
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert!(page.text.contains("/ui/app.js"), "{}", page.text);
    let csp = page.header("content-security-policy").unwrap_or("");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    // The page runs no inline script or style the policy would block.
    assert!(!page.text.contains("<style") && !page.text.contains("style="));
    assert!(!page.text.contains("<script>"));

    let js = s.get_open("/ui/app.js");
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap_or("")
            .starts_with("text/javascript")
    );
    let etag = js.header("etag").expect("an ETag").to_string();
    assert_eq!(js.header("cache-control"), Some("no-cache"));
    let again = s.raw("GET", "/ui/app.js", &[("If-None-Match", &etag)], "");
    assert_eq!(again.status, 304, "a fresh copy is not sent again");
    assert!(again.text.is_empty());
    let css = s.get_open("/ui/console.css");
    assert_ne!(css.header("etag"), Some(etag.as_str()), "one ETag per file");
    let stale = s.raw("GET", "/ui/app.js", &[("If-None-Match", "\"stale\"")], "");
    assert_eq!(stale.status, 200);

    let slash = s.get_open("/ui/");
    assert_eq!(
        (slash.status, slash.text.as_str()),
        (200, page.text.as_str())
    );
    s.get_open("/ui/nope.js").expect_problem(404, None);
    s.get_open("/ui/..%2Fapi.js").expect_problem(404, None);
    // Listed in the OpenAPI document, like every route.
    let doc = s.get_open("/openapi.json");
    let paths = &doc.expect(200)["paths"];
    for p in ["/ui", "/ui/", "/ui/{file}", "/v1/me"] {
        assert!(paths.get(p).is_some(), "{p} is not in /openapi.json");
    }
}

#[test]
fn me_tells_each_key_its_own_tenant_and_scopes() {
    let s = Server::start(Opts::default());
    let a = s.create_tenant("tenant-a");
    let b = s.create_tenant("tenant-b");
    let (a_id, a_rw) = s.create_key_full(&a, &["read", "write"]);
    let b_ro = s.create_key(&b, &["read"]);
    let b_wo = s.create_key(&b, &["write"]);

    let me = s.get("/v1/me", &a_rw);
    let me = me.expect(200);
    assert_eq!(me["kind"], json!("tenant"));
    assert_eq!(me["tenant"]["id"], json!(a));
    assert_eq!(me["tenant"]["name"], json!("tenant-a"));
    assert_eq!(me["key_id"], json!(a_id));
    assert_eq!(me["scopes"], json!(["read", "write"]));
    let server = &me["server"];
    assert!(["embedded", "postgres"].contains(&server["store"].as_str().unwrap()));
    assert_eq!(server["embedding_dimension"], json!(384));
    assert!(
        server["embedding_model"]
            .as_str()
            .unwrap()
            .contains("bge-small")
    );

    let theirs = s.get("/v1/me", &b_ro);
    let theirs = theirs.expect(200);
    assert_eq!(
        theirs["tenant"]["id"],
        json!(b),
        "each key sees its own tenant"
    );
    assert_eq!(theirs["scopes"], json!(["read"]));
    // A key of any scope may ask who it is.
    assert_eq!(
        s.get("/v1/me", &b_wo).expect(200)["scopes"],
        json!(["write"])
    );

    let admin = s.get("/v1/me", ADMIN_KEY);
    let admin = admin.expect(200);
    assert_eq!(admin["kind"], json!("admin"));
    assert_eq!(admin["scopes"], json!([]));
    assert!(admin.get("tenant").is_none(), "{admin}");

    s.get("/v1/me", "egk_unknown").expect_problem(401, None);
    s.get_open("/v1/me").expect_problem(401, None);
    s.delete(&format!("/v1/tenants/{a}/keys/{a_id}"), ADMIN_KEY)
        .expect(204);
    s.get("/v1/me", &a_rw).expect_problem(401, None);
}

fn explain_of(results: &Value, content: &str) -> Value {
    results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["memory"]["content"] == json!(content))
        .unwrap_or_else(|| panic!("{content:?} not among {results}"))["explain"]
        .clone()
}

#[test]
fn search_explains_scores_on_request_within_the_tenant() {
    let s = Server::start(Opts::default());
    let a = s.create_tenant("explain-a");
    let b = s.create_tenant("explain-b");
    let ka = s.create_key(&a, &["read", "write"]);
    let kb = s.create_key(&b, &["read", "write"]);
    s.add_text(&ka, "alice", BAKER);
    s.add_text(&ka, "alice", "The weather in Lisbon was sunny all week.");
    s.add_text(&kb, "alice", "Alice is a baker in the other tenant.");

    let q = json!({ "query": "Where is Alice employed as a baker?", "explain": true });
    let r = s.post("/v1/search", &ka, &q);
    let results = &r.expect(200)["results"];
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|x| !x["memory"]["content"]
                .as_str()
                .unwrap()
                .contains("other tenant")),
        "another tenant's memory: {results}"
    );
    let e = explain_of(results, BAKER);
    let lexical = e["lexical"].as_f64().expect("a lexical score");
    let vector = e["vector"].as_f64().expect("a vector score");
    assert!(lexical > 0.0, "{e}");
    assert!(vector > 0.3 && vector <= 1.0, "{e}");
    // Without the cross-encoder the score is the first-stage score.
    let top = &results[0];
    assert!(
        (top["score"].as_f64().unwrap() - top["explain"]["fused"].as_f64().unwrap()).abs() < 1e-6
    );
    // The memory no query word matched has no lexical score.
    let weather = explain_of(results, "The weather in Lisbon was sunny all week.");
    assert!(weather["lexical"].is_null(), "{weather}");

    // Each mode explains with the signal it used, and only that one.
    for (mode, query, used, unused) in [
        ("keyword", "baker", "lexical", "vector"),
        ("vector", "bakery job", "vector", "lexical"),
    ] {
        let body = json!({ "query": query, "mode": mode, "explain": true });
        let r = s.post("/v1/search", &ka, &body);
        let e = explain_of(&r.expect(200)["results"], BAKER);
        assert!(e[unused].is_null(), "{mode}: {e}");
        assert!(e[used].as_f64().unwrap() > 0.0, "{mode}: {e}");
    }

    // Not asked, not sent: responses stay as they were.
    let plain = s.post("/v1/search", &ka, &json!({ "query": "baker" }));
    let plain = &plain.expect(200)["results"][0];
    assert!(plain.get("explain").is_none(), "{plain}");
    s.post(
        "/v1/search",
        &ka,
        &json!({ "query": "baker", "explain": "yes" }),
    )
    .expect_problem(400, Some("explain"));
}
