//! Running a client SDK's own test suite (pytest, `node --test`) against
//! real servers: one as configured, one rate limited to a request a second
//! so the retry tests see real 429s with `Retry-After`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ADMIN_KEY, Opts, Server};

/// The repository root, where `clients/` lives.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The servers a suite runs against; kept alive while it runs.
pub struct Servers {
    pub main: Server,
    pub limited: Server,
}

impl Servers {
    pub fn start() -> Servers {
        Servers {
            main: Server::start(Opts::default()),
            limited: Server::start(
                Opts::default()
                    .env("ENGRAM_RATE_LIMIT_PER_SECOND", "1")
                    .env("ENGRAM_RATE_LIMIT_BURST", "1"),
            ),
        }
    }

    /// `cmd` with the variables the suites read.
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("ENGRAM_URL", &self.main.base)
            .env("ENGRAM_LIMITED_URL", &self.limited.base)
            .env("ENGRAM_ADMIN_KEY", ADMIN_KEY)
            .env_remove("ENGRAM_API_KEY")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
    }
}

/// Runs `cmd` to completion and fails the test, with its output and the
/// server log, unless it exits 0.
#[track_caller]
pub fn run(servers: &Servers, mut cmd: Command, what: &str) {
    servers.env(&mut cmd);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({cmd:?}): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}\n--- server log:\n{}",
        out.status,
        servers.main.log_text()
    );
    eprintln!("{stdout}");
}
