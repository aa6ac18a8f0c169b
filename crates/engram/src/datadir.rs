//! One process per embedded data directory.
//!
//! The text and vector indexes live in the memory of the process that
//! serves them: a second process on the same directory would search
//! indexes that miss the first one's writes. `engram serve` and `engram
//! mcp` therefore hold an exclusive lock on `engram.lock` there (the
//! PostgreSQL backend needs none).
//! The operating system releases it when the process ends, however it ends.
//! `engram backup` reads SQLite only and needs no lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};

use anyhow::{Context, bail};

use crate::config::Config;

const LOCK_FILE: &str = "engram.lock";

/// Held for as long as the process serves the data directory.
pub struct DataDirLock {
    _file: File,
}

/// Takes the data directory for this process, or says who has it.
pub fn lock(c: &Config) -> anyhow::Result<Option<DataDirLock>> {
    if c.database_url.is_some() {
        return Ok(None);
    }
    std::fs::create_dir_all(&c.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}; set ENGRAM_DATA_DIR to a writable path",
            c.data_dir.display()
        )
    })?;
    let path = c.data_dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())?;
            Ok(Some(DataDirLock { _file: file }))
        }
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            file.read_to_string(&mut holder).ok();
            let holder = holder.trim();
            let holder = if holder.is_empty() { "?" } else { holder };
            bail!(
                "data directory {} is in use by pid {holder} (a running `engram serve` or `engram mcp`): \
                 the embedded store serves one process at a time. Stop that process first, or connect \
                 your MCP client to the running server's /mcp endpoint over HTTP (docs/MCP.md)",
                c.data_dir.display()
            )
        }
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}
