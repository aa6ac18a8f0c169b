//! The memory CLI (`engram memories|context|tenants|keys`) run as a user
//! would, against the real server (and, with ENGRAM_TEST_BACKEND=postgres,
//! PostgreSQL): tables by default, `--json` for scripts, the server's
//! problems printed with a non-zero exit.

mod common;

use common::{Opts, Output, Server, run_engram};
use serde_json::Value;

/// `engram <args>` against `s`, with `key` as ENGRAM_API_KEY when given
/// (the admin key is in the environment of every test command).
fn engram(s: &Server, key: Option<&str>, args: &[&str]) -> Output {
    let mut opts: Opts = s.opts.clone().env("ENGRAM_URL", &s.base);
    if let Some(k) = key {
        opts = opts.env("ENGRAM_API_KEY", k);
    }
    run_engram(&opts, &s.data_dir, "127.0.0.1:0", args)
}

#[track_caller]
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "engram failed ({}):\n{}\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    out.stdout
}

#[track_caller]
fn json(out: Output) -> Value {
    let text = ok(out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[track_caller]
fn fails(out: Output) -> String {
    assert!(
        !out.status.success(),
        "engram should have failed:\n{}",
        out.stdout
    );
    out.stderr
}

#[test]
fn memories_add_list_search_context_and_delete() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("cli");
    let key = s.create_key(&tenant, &["read", "write"]);
    let k = Some(key.as_str());

    let added = json(engram(
        &s,
        k,
        &[
            "memories",
            "add",
            "Alice works as a baker at the Acme bakery on Main Street.",
            "--user-id",
            "alice",
            "--label",
            "work",
            "--json",
        ],
    ));
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(added["labels"], serde_json::json!(["work"]));
    ok(engram(
        &s,
        k,
        &[
            "memories",
            "add",
            "Bob plays the cello.",
            "--user-id",
            "bob",
        ],
    ));

    let table = ok(engram(
        &s,
        k,
        &["memories", "search", "Where does Alice work?"],
    ));
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("SCORE") && lines[0].contains("CONTENT"),
        "{table}"
    );
    assert!(
        lines[1].contains(&id) && lines[1].contains("Acme bakery"),
        "the best match is first: {table}"
    );

    let found = json(engram(
        &s,
        k,
        &["memories", "search", "cello", "--user-id", "bob", "--json"],
    ));
    assert_eq!(
        found["results"][0]["memory"]["content"],
        "Bob plays the cello."
    );
    assert_eq!(found["results"].as_array().unwrap().len(), 1);

    let listed = json(engram(
        &s,
        k,
        &["memories", "list", "--limit", "1", "--json"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let all = ok(engram(&s, k, &["memories", "list"]));
    assert_eq!(all.lines().count(), 3, "a header and two rows: {all}");

    let context = ok(engram(
        &s,
        k,
        &[
            "context",
            "Alice's job",
            "--user-id",
            "alice",
            "--token-budget",
            "60",
        ],
    ));
    assert!(
        context.contains("Acme bakery") && !context.contains("cello"),
        "{context}"
    );

    let got = ok(engram(&s, k, &["memories", "get", &id]));
    assert!(
        got.contains("alice") && got.contains("Main Street"),
        "{got}"
    );
    ok(engram(&s, k, &["memories", "delete", &id]));
    let gone = fails(engram(&s, k, &["memories", "get", &id]));
    assert!(gone.contains("404") && gone.contains("not_found"), "{gone}");

    let deleted = json(engram(
        &s,
        k,
        &["memories", "delete", "--user-id", "bob", "--json"],
    ));
    assert_eq!(deleted["deleted"], 1);
    assert_eq!(ok(engram(&s, k, &["memories", "list"])).trim(), "(none)");
}

#[test]
fn problems_are_printed_readably_with_a_non_zero_exit() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("cli");
    let key = s.create_key(&tenant, &["read"]);
    let writer = s.create_key(&tenant, &["read", "write"]);

    let empty = fails(engram(&s, Some(&writer), &["memories", "add", " "]));
    assert!(
        empty.contains("400") && empty.contains("content") && empty.contains("invalid_field"),
        "{empty}"
    );
    let read_only = fails(engram(&s, Some(&key), &["memories", "add", "x"]));
    assert!(read_only.contains("403"), "{read_only}");
    let no_key = fails(engram(&s, None, &["memories", "list"]));
    assert!(no_key.contains("ENGRAM_API_KEY"), "{no_key}");
    let both = fails(engram(
        &s,
        Some(&key),
        &["memories", "delete", "some-id", "--user-id", "u"],
    ));
    assert!(both.contains("not both"), "{both}");
    let down = fails(run_engram(
        &s.opts.clone().env("ENGRAM_API_KEY", &key),
        &s.data_dir,
        "127.0.0.1:0",
        &["memories", "list", "--url", "http://127.0.0.1:9"],
    ));
    assert!(down.contains("cannot reach"), "{down}");
}

#[test]
fn tenants_and_keys_with_the_admin_key() {
    let s = Server::start(Opts::default());
    let t = json(engram(&s, None, &["tenants", "create", "acme", "--json"]));
    let tid = t["id"].as_str().unwrap().to_string();
    let table = ok(engram(&s, None, &["tenants", "list"]));
    assert!(table.starts_with("ID") && table.contains("acme"), "{table}");

    let k = json(engram(
        &s,
        None,
        &[
            "keys", "create", &tid, "--name", "agent", "--scopes", "read", "--json",
        ],
    ));
    let secret = k["key"].as_str().unwrap().to_string();
    let kid = k["id"].as_str().unwrap().to_string();
    assert_eq!(k["scopes"], serde_json::json!(["read"]));
    let keys = ok(engram(&s, None, &["keys", "list", &tid]));
    assert!(
        keys.contains("agent") && !keys.contains(&secret),
        "secrets are never listed: {keys}"
    );
    assert_eq!(
        ok(engram(&s, Some(&secret), &["memories", "list"])).trim(),
        "(none)"
    );

    ok(engram(&s, None, &["keys", "revoke", &tid, &kid]));
    let revoked = fails(engram(&s, Some(&secret), &["memories", "list"]));
    assert!(revoked.contains("401"), "{revoked}");

    // A tenant key is no admin key.
    let other = s.create_tenant("other");
    let tenant_key = s.create_key(&other, &["read", "write"]);
    let refused = fails(run_engram(
        &s.opts.clone().env("ENGRAM_URL", &s.base).env(
            "ENGRAM_ADMIN_KEY",
            &format!("{tenant_key}-padding-to-32-characters"),
        ),
        &s.data_dir,
        "127.0.0.1:0",
        &["tenants", "list"],
    ));
    assert!(
        refused.contains("401") || refused.contains("403"),
        "{refused}"
    );

    ok(engram(&s, None, &["tenants", "delete", &tid]));
    assert!(!ok(engram(&s, None, &["tenants", "list"])).contains("acme"));
}

#[test]
fn the_cli_cannot_cross_tenants() {
    let s = Server::start(Opts::default());
    let a = s.create_key(&s.create_tenant("a"), &["read", "write"]);
    let b = s.create_key(&s.create_tenant("b"), &["read", "write"]);
    let m = json(engram(
        &s,
        Some(&a),
        &[
            "memories",
            "add",
            "Dana's safe code is 1234.",
            "--user-id",
            "dana",
            "--json",
        ],
    ));
    let id = m["id"].as_str().unwrap();
    assert!(fails(engram(&s, Some(&b), &["memories", "get", id])).contains("404"));
    assert!(fails(engram(&s, Some(&b), &["memories", "delete", id])).contains("404"));
    let found = json(engram(
        &s,
        Some(&b),
        &["memories", "search", "safe code", "--json"],
    ));
    assert_eq!(found["results"], serde_json::json!([]));
    let deleted = json(engram(
        &s,
        Some(&b),
        &["memories", "delete", "--user-id", "dana", "--json"],
    ));
    assert_eq!(deleted["deleted"], 0);
    let context = json(engram(&s, Some(&b), &["context", "safe code", "--json"]));
    assert_eq!(context["items"], serde_json::json!([]));
    assert!(ok(engram(&s, Some(&a), &["memories", "get", id])).contains("1234"));
}
