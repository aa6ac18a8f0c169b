//! PostgreSQL restarted under a serving engram: readiness drops and comes
//! back by itself, the process stays up, and no acknowledged write is lost.
//! Stops the local cluster, so it lives alone in this test binary (cargo
//! runs test binaries one after another). Needs `ENGRAM_TEST_DATABASE_URL`.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::pg;
use common::{Opts, Server, ids_of};
use serde_json::json;

#[track_caller]
fn wait_ready(s: &Server, status: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if s.get_open("/ready").status == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/ready did not answer {status} within {within:?}; log:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn postgres_restart_while_serving() {
    let db = pg::Database::new();
    // The writer goes as fast as the server answers; the rate limit is not
    // what this test is about.
    let mut s = Server::start(
        Opts::default()
            .env("DATABASE_URL", &db.url)
            .env("ENGRAM_RATE_LIMIT_PER_SECOND", "100000")
            .env("ENGRAM_RATE_LIMIT_BURST", "100000"),
    );
    let t = s.create_tenant("steady");
    let k = s.create_key(&t, &["read", "write"]);
    s.get_open("/ready").expect(200);

    // A writer keeps writing through the outage; it keeps the ids of the
    // writes that were acknowledged (201). Refusals must be 503, never a
    // hang or a 500. (A write refused while its commit raced the shutdown
    // may still be stored: only acknowledged writes are promised.)
    let stop = AtomicBool::new(false);
    let acknowledged = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut ids = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = s.post(
                    "/v1/memories",
                    &k,
                    &json!({ "content": format!("note {i} written around a database restart"), "user_id": "u" }),
                );
                match r.status {
                    201 => ids.push(r.json["id"].as_str().unwrap().to_string()),
                    503 => std::thread::sleep(Duration::from_millis(100)),
                    other => panic!("a write answered {other}: {}", r.text),
                }
                i += 1;
            }
            ids
        });
        std::thread::sleep(Duration::from_millis(500));
        pg::cluster("stop");
        wait_ready(&s, 503, Duration::from_secs(30));
        std::thread::sleep(Duration::from_secs(1));
        pg::cluster("start");
        wait_ready(&s, 200, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap()
    });

    assert!(
        s.running(),
        "engram exited during the outage:\n{}",
        s.log_text()
    );
    assert!(!acknowledged.is_empty(), "no write was acknowledged");
    let listed = ids_of(&s.list_all(&k, "user_id=u"));
    for id in &acknowledged {
        assert!(listed.contains(id), "acknowledged write {id} was lost");
    }
}
