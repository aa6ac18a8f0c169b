//! First run on a laptop, and the configurations engram must refuse.

mod common;

use common::{Opts, Server, Workdir, free_port, run_engram};
use serde_json::json;

#[test]
fn first_run_on_loopback_creates_and_reuses_a_default_key() {
    let work = Workdir::new();
    let data = work.data("data");
    let mut s = Server::start_in(&work, &data, Opts::no_admin());

    let key_file = data.join("default-tenant.key");
    let key = std::fs::read_to_string(&key_file)
        .expect("first run writes default-tenant.key in the data dir")
        .trim()
        .to_string();
    assert!(key.starts_with("egk_"), "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key file is readable by others");
    }
    let log = s.log_text();
    assert!(log.contains(&key), "the key is printed at startup:\n{log}");
    assert!(log.contains("curl"), "a ready-to-paste curl line:\n{log}");
    let console = format!("{}/ui", s.base);
    assert!(
        log.contains(&console),
        "the console's address {console}:\n{log}"
    );

    let id = s.add_text(&key, "me", "I like green tea with jasmine.");
    let hits = s.search_ids(&key, &json!({ "query": "what tea do I drink" }));
    assert_eq!(hits.first(), Some(&id));
    // The key is a tenant key, not an admin key.
    s.get("/v1/tenants", &key).expect_problem(401, None);

    s.terminate();
    s.restart();
    let again = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(again.trim(), key, "a restart reuses the key");
    let log = s.log_text();
    assert!(log.contains(&key), "printed again:\n{log}");
    let m = s.get(&format!("/v1/memories/{id}"), &key);
    assert_eq!(
        m.expect(200)["content"],
        json!("I like green tea with jasmine.")
    );
    let hits = s.search_ids(&key, &json!({ "query": "jasmine", "mode": "keyword" }));
    assert_eq!(hits, [id]);
    s.terminate();

    // With an admin key, the server does not create the default tenant,
    // and the admin sees the one created on the first run.
    let s = Server::start_in(&work, &data, Opts::default());
    let tenants = s.get("/v1/tenants", common::ADMIN_KEY);
    let items = tenants.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["name"], json!("default"));
    s.get("/v1/memories", &key).expect(200);
}

#[test]
fn refuses_to_serve_without_an_admin_key_on_a_public_address() {
    let work = Workdir::new();
    let data = work.data("data");
    let out = run_engram(
        &Opts::no_admin(),
        &data,
        &format!("0.0.0.0:{}", free_port()),
        &["serve"],
    );
    assert!(
        !out.status.success(),
        "served on 0.0.0.0 without an admin key"
    );
    assert!(
        out.stderr.contains("ENGRAM_ADMIN_KEY"),
        "the error should name ENGRAM_ADMIN_KEY:\n{}",
        out.stderr
    );
    assert!(!data.join("default-tenant.key").exists());
}

#[test]
fn refuses_a_short_admin_key() {
    let work = Workdir::new();
    let data = work.data("data");
    let opts = Opts {
        admin_key: Some("too-short-0123456789abcdef-0123".to_string()), // 31 chars
        ..Opts::default()
    };
    assert_eq!(opts.admin_key.as_deref().unwrap().chars().count(), 31);
    let out = run_engram(
        &opts,
        &data,
        &format!("127.0.0.1:{}", free_port()),
        &["serve"],
    );
    assert!(
        !out.status.success(),
        "served with a 31-character admin key"
    );
    assert!(
        out.stderr.contains("ENGRAM_ADMIN_KEY") && out.stderr.contains("32"),
        "the error should explain the admin key length:\n{}",
        out.stderr
    );
}
