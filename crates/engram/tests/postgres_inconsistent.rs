//! A row corrupted in PostgreSQL behind engram's back, seen through the
//! real binary: each request that reads it is a 500 problem+json (not a
//! dropped connection from a panicking handler), the log names the row,
//! and the server keeps serving everything else. Needs
//! `ENGRAM_TEST_DATABASE_URL` (see tests/common/pg.rs; scripts/test sets
//! it). Stdio MCP is covered in mcp.rs.

mod common;

use common::pg;
use common::{Opts, Server};
use serde_json::json;

const SECRET: &str = "Bruno";

#[track_caller]
fn assert_internal_problem(r: &common::Resp) {
    r.expect_problem(500, None);
    assert!(
        !r.text.contains(SECRET),
        "a 500 must not carry stored content: {}",
        r.text
    );
}

#[test]
fn a_corrupted_row_is_a_500_problem_and_the_server_keeps_serving() {
    let db = pg::Database::new();
    let s = Server::start(Opts::default().env("DATABASE_URL", &db.url));
    let t = s.create_tenant("acme");
    let k = s.create_key(&t, &["read", "write"]);
    let bad = s.add_text(&k, "marta", &format!("Marta's dog is called {SECRET}"));
    let good = s.add_text(&k, "marta", "Marta lives in Lisbon");
    let tenant_url = pg::with_session_tenant(&db.url, &t);

    // One row with a kind this build does not know.
    pg::psql(
        &tenant_url,
        &format!("UPDATE memories SET kind = 'bogus' WHERE id = '{bad}'"),
    );
    assert_internal_problem(&s.get(&format!("/v1/memories/{bad}"), &k));
    assert_internal_problem(&s.get("/v1/memories", &k));
    assert_internal_problem(&s.post("/v1/search", &k, &json!({ "query": "dog" })));
    s.get(&format!("/v1/memories/{good}"), &k).expect(200);
    s.get_open("/ready").expect(200);
    let log = s.log_text();
    assert!(
        log.contains(&format!("memories row {bad}")) && log.contains("unknown kind 'bogus'"),
        "the log should name the row and what is wrong with it:\n{log}"
    );
    assert!(
        !log.contains(SECRET),
        "the log must not carry content:\n{log}"
    );

    // A column whose type changed: reading it used to panic the handler.
    pg::psql(
        &db.url,
        "ALTER TABLE memories ALTER COLUMN importance TYPE text USING importance::text",
    );
    // (A read by id may instead meet its connection's prepared statement,
    // planned for the old type: PostgreSQL refuses that too, also a 500.)
    assert_internal_problem(&s.get(&format!("/v1/memories/{good}"), &k));
    assert_internal_problem(&s.get("/v1/memories", &k));
    assert!(
        s.log_text().contains("column importance"),
        "{}",
        s.log_text()
    );
    // Still serving: health, readiness and the control plane answer.
    s.get_open("/health").expect(200);
    s.get_open("/ready").expect(200);
    s.create_tenant("still-serving");
}
