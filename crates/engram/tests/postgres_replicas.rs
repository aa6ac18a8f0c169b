//! Several `engram serve` processes over one PostgreSQL database behave as
//! one server: whatever is written, revoked or limited through one replica
//! holds at once on the others. Needs `ENGRAM_TEST_DATABASE_URL` (see
//! tests/common/pg.rs; scripts/test sets it).

mod common;

use std::collections::HashSet;

use common::pg;
use common::{ADMIN_KEY, Opts, Server, ids_of};
use serde_json::json;

fn replicas(db: &pg::Database, n: usize, opts: Opts) -> Vec<Server> {
    let opts = opts.env("DATABASE_URL", &db.url);
    // Started together, so their migrations race for the advisory lock.
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let o = opts.clone();
            std::thread::spawn(move || Server::start(o))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn three_replicas_serve_one_dataset() {
    let db = pg::Database::new();
    let rs = replicas(&db, 3, Opts::default());
    let (a, b, c) = (&rs[0], &rs[1], &rs[2]);
    for r in &rs {
        r.get_open("/ready").expect(200);
    }

    // Tenants and keys made through one replica work on all.
    let t1 = a.create_tenant("acme");
    let t2 = b.create_tenant("globex");
    let k1 = a.create_key(&t1, &["read", "write"]);
    let k2 = c.create_key(&t2, &["read", "write"]);
    for r in &rs {
        r.get("/v1/memories", &k1).expect(200);
        r.get("/v1/memories", &k2).expect(200);
    }

    // Written through A: found first by search on C, readable on B.
    a.add_text(&k1, "alice", "Alice keeps bees on the roof of her flat.");
    let id = a.add_text(&k1, "alice", "Alice's favourite opera is Tosca by Puccini.");
    a.add_text(&k1, "alice", "Alice cycles to work along the canal.");
    let found = c.search_ids(&k1, &json!({ "query": "Which opera does Alice like?" }));
    assert_eq!(found.first(), Some(&id), "search on C: {found:?}");
    let m = b.get(&format!("/v1/memories/{id}"), &k1);
    assert_eq!(m.expect(200)["id"], json!(id));

    // The other tenant sees nothing of it, through any replica.
    for r in &rs {
        r.get(&format!("/v1/memories/{id}"), &k2)
            .expect_problem(404, None);
        let hits = r.search_ids(&k2, &json!({ "query": "Which opera does Alice like?" }));
        assert!(hits.is_empty(), "tenant 2 found {hits:?}");
    }

    // Deleted through C: gone on A at once.
    c.delete(&format!("/v1/memories/{id}"), &k1).expect(204);
    a.get(&format!("/v1/memories/{id}"), &k1)
        .expect_problem(404, None);
    let found = a.search_ids(&k1, &json!({ "query": "Which opera does Alice like?" }));
    assert!(
        !found.contains(&id),
        "deleted memory still found: {found:?}"
    );

    // An Idempotency-Key replay on another replica returns the first result.
    let post = |s: &Server, key: &str| {
        s.raw(
            "POST",
            "/v1/memories",
            &[
                ("content-type", "application/json"),
                ("authorization", &format!("Bearer {k1}")),
                ("idempotency-key", key),
            ],
            json!({ "content": "Alice's flight lands at 9 pm.", "user_id": "alice" }).to_string(),
        )
    };
    let first = post(a, "flight-1");
    let first_id = first.expect(201)["id"].clone();
    let replay = post(b, "flight-1");
    assert_eq!(replay.expect(201)["id"], first_id);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));

    // A revoked key stops working on every replica at once.
    let (key_id, k3) = a.create_key_full(&t1, &["read"]);
    c.get("/v1/memories", &k3).expect(200);
    b.delete(&format!("/v1/tenants/{t1}/keys/{key_id}"), ADMIN_KEY)
        .expect(204);
    for r in &rs {
        r.get("/v1/memories", &k3).expect_problem(401, None);
    }

    // Row-level security is on for every tenant table.
    let rls = pg::psql(
        &db.url,
        "SELECT string_agg(relname || '=' || relrowsecurity || relforcerowsecurity, ',' ORDER BY relname) \
         FROM pg_class WHERE relname IN ('memories', 'idempotency', 'lexical_stats', 'jobs', 'usage', 'budgets')",
    );
    assert_eq!(
        rls,
        "budgets=truetrue,idempotency=truetrue,jobs=truetrue,lexical_stats=truetrue,memories=truetrue,usage=truetrue"
    );
}

#[test]
fn concurrent_writes_through_three_replicas_lose_and_duplicate_nothing() {
    const PER_WRITER: usize = 40;
    let db = pg::Database::new();
    // Six writers on one key would outrun the default per-key limit on a
    // fast machine; the shared limit has its own test below.
    let unlimited = Opts::default()
        .env("ENGRAM_RATE_LIMIT_PER_SECOND", "100000")
        .env("ENGRAM_RATE_LIMIT_BURST", "100000");
    let rs = replicas(&db, 3, unlimited);
    let tenant = rs[0].create_tenant("busy");
    let key = rs[1].create_key(&tenant, &["read", "write"]);
    let acknowledged: Vec<String> = std::thread::scope(|scope| {
        let writers: Vec<_> = rs
            .iter()
            .enumerate()
            .flat_map(|(r, s)| (0..2).map(move |w| (r, w, s)))
            .map(|(r, w, s)| {
                let key = key.clone();
                scope.spawn(move || {
                    (0..PER_WRITER)
                        .map(|i| s.add_text(&key, "u", &format!("replica {r} writer {w} note {i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let want: HashSet<&String> = acknowledged.iter().collect();
    assert_eq!(want.len(), 6 * PER_WRITER, "ids are unique");
    for s in &rs {
        let listed = ids_of(&s.list_all(&key, "user_id=u"));
        let got: HashSet<&String> = listed.iter().collect();
        assert_eq!(listed.len(), got.len(), "no memory listed twice");
        assert_eq!(got, want, "every acknowledged write, and nothing else");
    }
}

#[test]
fn a_query_without_a_tenant_returns_no_rows() {
    let db = pg::Database::new();
    let s = &replicas(&db, 1, Opts::default())[0];
    let t = s.create_tenant("acme");
    let k = s.create_key(&t, &["read", "write"]);
    s.add_text(&k, "alice", "Alice keeps bees.");
    s.post(
        "/v1/memories",
        &k,
        &json!({ "content": "Alice's bees make honey." }),
    )
    .expect(201);
    let id = s.add_text(&k, "alice", "Alice sells the honey.");
    s.post("/v1/memories/reembed", &k, &json!({ "ids": [id] }))
        .expect(202);
    let budget = json!({ "metric": "tokens", "period": "day", "limit": 10 });
    s.call(
        "PUT",
        &format!("/v1/tenants/{t}/budgets"),
        Some(ADMIN_KEY),
        Some(&budget),
    )
    .expect(200);

    // As the application's role (not a superuser), with no tenant set.
    for table in [
        "memories",
        "idempotency",
        "lexical_stats",
        "jobs",
        "budgets",
    ] {
        let n = pg::psql(&db.url, &format!("SELECT count(*) FROM {table}"));
        assert_eq!(n, "0", "{table}");
    }
    // Another tenant set for the session: still nothing.
    let other = pg::with_session_tenant(&db.url, "someone-else");
    assert_eq!(pg::psql(&other, "SELECT count(*) FROM memories"), "0");
    assert_eq!(pg::psql(&other, "SELECT count(*) FROM jobs"), "0");
    // The right tenant set: the rows are there (so the zeros above mean
    // something).
    let own = pg::with_session_tenant(&db.url, &t);
    assert_eq!(pg::psql(&own, "SELECT count(*) FROM memories"), "3");
    assert_eq!(pg::psql(&own, "SELECT count(*) FROM jobs"), "1");
    assert_eq!(pg::psql(&own, "SELECT count(*) FROM budgets"), "1");
}

#[test]
fn migrate_creates_pgvector_when_allowed_and_says_who_must_when_not() {
    let db = pg::Database::from_template("template0");
    let work = common::Workdir::new();
    let data = work.data("unused");
    let migrate = |url: &str| {
        common::run_engram(
            &Opts::default().env("DATABASE_URL", url),
            &data,
            "127.0.0.1:0",
            &["migrate"],
        )
    };

    // The application role may not create the (untrusted) extension.
    let refused = migrate(&db.url);
    assert!(
        !refused.status.success(),
        "migrate succeeded without pgvector"
    );
    assert!(
        refused.stderr.contains("CREATE EXTENSION vector"),
        "the error does not say what to do: {}",
        refused.stderr
    );

    // A superuser's migrate creates it and the schema.
    let su = pg::superuser_url(&db.url);
    let done = migrate(&su);
    assert!(
        done.status.success(),
        "migrate as superuser: {}",
        done.stderr
    );
    assert_eq!(
        pg::psql(
            &su,
            "SELECT count(*) FROM pg_extension WHERE extname = 'vector'"
        ),
        "1"
    );
    assert_eq!(
        pg::psql(&su, "SELECT to_regclass('memories') IS NOT NULL"),
        "t"
    );
}

#[test]
fn rate_limits_are_shared_by_replicas() {
    let db = pg::Database::new();
    let opts = Opts::default()
        .env("ENGRAM_RATE_LIMIT_BURST", "6")
        .env("ENGRAM_RATE_LIMIT_PER_SECOND", "0.01");
    let rs = replicas(&db, 3, opts);
    let t = rs[0].create_tenant("limited");
    let k = rs[0].create_key(&t, &["read"]);
    // 4 requests on each replica: each alone is under the burst of 6, but
    // together they exceed it.
    let statuses: Vec<u16> = (0..12)
        .map(|i| rs[i % 3].get("/v1/memories", &k).status)
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, limited), (6, 6), "statuses: {statuses:?}");
}

/// Two replicas' workers draw from one queue: every job is claimed once
/// (`FOR UPDATE SKIP LOCKED`), so each ends `done` after one attempt.
#[test]
fn two_replicas_run_each_job_once() {
    let db = pg::Database::new();
    let rs = replicas(&db, 2, Opts::default().env("ENGRAM_JOB_WORKERS", "3"));
    let t = rs[0].create_tenant("queue");
    let key = rs[0].create_key(&t, &["read", "write"]);
    let id = rs[0].add_text(&key, "u", "A memory both replicas re-embed.");
    let jobs: Vec<(usize, String)> = (0..40)
        .map(|i| {
            let r = &rs[i % 2];
            let job = r.post("/v1/memories/reembed", &key, &json!({"ids": [id]}));
            (i % 2, job.expect(202)["id"].as_str().unwrap().to_string())
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for (i, job) in &jobs {
        loop {
            // Read through the other replica than the one that queued it.
            let j = rs[1 - i]
                .get(&format!("/v1/jobs/{job}"), &key)
                .expect(200)
                .clone();
            if j["status"] == "done" {
                assert_eq!(j["attempts"], 1, "{j}");
                assert_eq!(j["result"], json!({"reembedded": 1, "missing": 0}));
                break;
            }
            assert!(std::time::Instant::now() < deadline, "job not done: {j}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
