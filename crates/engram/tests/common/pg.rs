//! PostgreSQL for the tests, through `psql` (the client that ships with the
//! server), so the harness needs no database driver of its own.
//!
//! `ENGRAM_TEST_DATABASE_URL` is the application role's URL that
//! `scripts/dev-postgres` prints. Each test database is created from the
//! template `ENGRAM_TEST_TEMPLATE` (default `engram_template`, made by
//! `scripts/dev-postgres` with the `vector` extension), so it starts empty
//! and owned by the application role, which is not a superuser: row-level
//! security applies to it as it would in production.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether the generic tests run on PostgreSQL (`ENGRAM_TEST_BACKEND`).
pub fn backend_is_postgres() -> bool {
    match std::env::var("ENGRAM_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("embedded") => false,
        Ok("postgres") => true,
        Ok(other) => panic!("ENGRAM_TEST_BACKEND={other:?}: use `embedded` or `postgres`"),
    }
}

/// The application role's URL to an existing database.
pub fn base_url() -> String {
    std::env::var("ENGRAM_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect(
            "ENGRAM_TEST_DATABASE_URL is not set: run \
             `export ENGRAM_TEST_DATABASE_URL=\"$(scripts/dev-postgres | tail -n1)\"` (scripts/test does)",
        )
}

fn template() -> String {
    std::env::var("ENGRAM_TEST_TEMPLATE").unwrap_or_else(|_| "engram_template".into())
}

/// `url` pointing at database `db` instead.
pub fn url_with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// `url` with `engram.tenant` set for the whole session (`tenant` must be
/// URL-safe, as tenant ids are).
pub fn with_session_tenant(url: &str, tenant: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20engram.tenant%3D{tenant}")
}

/// Runs `sql` with psql on `url`; returns its unaligned, tuples-only output.
#[track_caller]
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("running psql (install postgresql-client, or run scripts/dev-postgres)");
    assert!(
        out.status.success(),
        "psql failed on {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A new empty database; returns its URL. Drop it with [`drop_database`].
pub fn create_database() -> String {
    create_database_from(&template())
}

/// A superuser's URL for database `db` (`ENGRAM_TEST_SUPERUSER_URL`,
/// default the local cluster's `postgres` role, trusted on loopback).
pub fn superuser_url(db_url: &str) -> String {
    let su = std::env::var("ENGRAM_TEST_SUPERUSER_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = db_url
        .split('?')
        .next()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or_default();
    url_with_database(&su, db)
}

/// Like [`create_database`], from another template (`template0` gives a
/// database without the `vector` extension).
pub fn create_database_from(template: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "engram_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let base = base_url();
    psql(
        &base,
        &format!("CREATE DATABASE {name} TEMPLATE {template}"),
    );
    url_with_database(&base, &name)
}

/// Drops a database made by [`create_database`]. Never panics (it runs in
/// `Drop`): a failure is reported and leaves the database behind.
pub fn drop_database(url: &str) {
    let name = url
        .split('?')
        .next()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or_default();
    if !name.starts_with("engram_test_") {
        eprintln!("not dropping {name}: not a test database");
        return;
    }
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    match Command::new("psql")
        .args(["-X", "-q", &base_url(), "-c", &sql])
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => eprintln!(
            "dropping test database {name} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("dropping test database {name} failed: {e}"),
    }
}

/// The database standing for `data_dir`, created on first use and noted
/// next to it, so restarts and one-shot commands on the same data
/// directory find the same data.
pub fn database_for(data_dir: &Path) -> String {
    let marker = data_dir.with_extension("database");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return url;
    }
    let url = create_database();
    std::fs::write(&marker, &url).expect("noting the test database");
    url
}

/// Drops the databases created for data directories in `dir`.
pub fn drop_databases_of(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "database")
            && let Ok(url) = std::fs::read_to_string(&path)
        {
            drop_database(&url);
        }
    }
}

/// A fresh database for one test, dropped when it goes out of scope.
pub struct Database {
    pub url: String,
}

impl Database {
    pub fn new() -> Database {
        Database {
            url: create_database(),
        }
    }

    pub fn from_template(template: &str) -> Database {
        Database {
            url: create_database_from(template),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        drop_database(&self.url);
    }
}

/// Stops or starts the local PostgreSQL 15 cluster (`action` is `stop` or
/// `start`), as root or through `sudo -n`.
#[track_caller]
pub fn cluster(action: &str) {
    let args = ["--skip-systemctl-redirect", "15", "main", action];
    let mut cmd = if is_root() {
        Command::new("pg_ctlcluster")
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "pg_ctlcluster"]);
        c
    };
    let out = cmd.args(args).output().expect("running pg_ctlcluster");
    assert!(
        out.status.success(),
        "pg_ctlcluster 15 main {action} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
