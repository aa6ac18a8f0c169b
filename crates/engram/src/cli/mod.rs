//! The memory CLI: `engram memories`, `context`, `tenants` and `keys`, as
//! clients of a running server (`--url` / `ENGRAM_URL`, with
//! `--api-key` / `ENGRAM_API_KEY` or, for tenants and keys,
//! `--admin-key` / `ENGRAM_ADMIN_KEY`). Tables for people by default,
//! `--json` for scripts; a refused call prints the server's problem and
//! exits non-zero.

mod admin;
mod memories;
mod table;

pub use admin::{Keys, Tenants};
pub use memories::{ContextArgs, Memories};

use serde_json::Value;

use crate::client::Api;
use crate::config::Config;

/// `--json` of every client command: the server's JSON instead of a table.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Output {
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Output {
    /// Prints `value` as JSON, or else as `human` renders it.
    fn print(&self, value: &Value, human: impl FnOnce(&Value) -> String) -> anyhow::Result<()> {
        let text = if self.json {
            serde_json::to_string_pretty(value)?
        } else {
            human(value)
        };
        println!("{}", text.trim_end());
        Ok(())
    }
}

pub fn memories(config: &Config, cmd: &Memories, out: Output) -> anyhow::Result<()> {
    memories::run(&Api::tenant(config)?, cmd, out)
}

pub fn context(config: &Config, args: &ContextArgs, out: Output) -> anyhow::Result<()> {
    memories::context(&Api::tenant(config)?, args, out)
}

pub fn tenants(config: &Config, cmd: &Tenants, out: Output) -> anyhow::Result<()> {
    admin::tenants(&Api::admin(config)?, cmd, out)
}

pub fn keys(config: &Config, cmd: &Keys, out: Output) -> anyhow::Result<()> {
    admin::keys(&Api::admin(config)?, cmd, out)
}
