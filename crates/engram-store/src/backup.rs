//! Logical backup and restore through the [`Store`] trait, so one format
//! serves every backend (and moves data between them).
//!
//! The file is gzip-compressed JSON lines: a header naming the embedding
//! space, then tenants, keys (hashes only), conversations and memories with
//! their vectors (a conversation's messages are memories). Original ids and
//! timestamps are kept. Import jobs are not backed up: they are progress
//! reports, and what they imported is.

use std::io::{BufRead, Read, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use engram_core::conversation::{Conversation, ConversationQuery};
use engram_core::query::Cursor;
use engram_core::tenant::{ApiKey, Tenant};
use engram_core::{Code, Error, Memory, Result};

use crate::{Record, Store};

const FORMAT: &str = "engram-backup";
const VERSION: u32 = 1;
const PAGE: usize = 1000;
/// The longest line a restore reads. A memory's line is its content (at
/// most 32,768 characters), metadata (bounded by the request body limit,
/// 2 MiB by default) and embedding (~40 KB at 3,072 dimensions); without a
/// bound, a small gzip file of one endless line would fill memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

// One line at a time is built or read, never a collection of them: the
// size of the memory variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Header {
        format: String,
        version: u32,
        created_at: DateTime<Utc>,
        embedding_model: String,
        dimension: usize,
    },
    Tenant(Tenant),
    Key(ApiKey),
    Conversation {
        tenant_id: String,
        #[serde(flatten)]
        conversation: Conversation,
    },
    Memory {
        tenant_id: String,
        #[serde(flatten)]
        memory: Memory,
        embedding: Vec<f32>,
    },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub tenants: u64,
    pub keys: u64,
    pub conversations: u64,
    pub memories: u64,
}

fn io(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("backup file: {e}"))
}

fn write_line(out: &mut dyn Write, line: &Line) -> Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(io)?;
    out.write_all(b"\n").map_err(io)
}

/// Writes every tenant of `store` to `out`.
pub async fn export(
    store: &dyn Store,
    embedding_model: &str,
    dimension: usize,
    out: &mut dyn Write,
) -> Result<Counts> {
    let mut counts = Counts::default();
    write_line(
        out,
        &Line::Header {
            format: FORMAT.into(),
            version: VERSION,
            created_at: Utc::now(),
            embedding_model: embedding_model.into(),
            dimension,
        },
    )?;
    for tenant in store.list_tenants().await? {
        let id = tenant.id.clone();
        write_line(out, &Line::Tenant(tenant))?;
        counts.tenants += 1;
        for key in store.list_keys(&id).await? {
            write_line(out, &Line::Key(key))?;
            counts.keys += 1;
        }
        counts.conversations += export_conversations(store, &id, out).await?;
        let mut after: Option<String> = None;
        loop {
            let page = store.export_page(&id, after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.memory.id.clone());
            for r in page {
                write_line(
                    out,
                    &Line::Memory {
                        tenant_id: id.clone(),
                        memory: r.memory,
                        embedding: r.embedding,
                    },
                )?;
                counts.memories += 1;
            }
        }
    }
    Ok(counts)
}

/// Writes the tenant's conversations, a page at a time; returns how many.
async fn export_conversations(store: &dyn Store, tenant: &str, out: &mut dyn Write) -> Result<u64> {
    let mut n = 0;
    let mut q = ConversationQuery {
        limit: PAGE,
        ..Default::default()
    };
    loop {
        let page = store.list_conversations(tenant, &q).await?;
        let done = page.len() < PAGE;
        q.after = page.last().map(|c| Cursor {
            occurred_at_us: c.created_at.timestamp_micros(),
            id: c.id.clone(),
        });
        for conversation in page {
            write_line(
                out,
                &Line::Conversation {
                    tenant_id: tenant.to_string(),
                    conversation,
                },
            )?;
            n += 1;
        }
        if done {
            return Ok(n);
        }
    }
}

/// Loads a backup into `store`, which must hold no tenants.
pub async fn restore(store: &dyn Store, input: &mut dyn BufRead) -> Result<Counts> {
    if !store.list_tenants().await?.is_empty() {
        return Err(Error::conflict(
            Code::StoreNotEmpty,
            "the target store already holds tenants; restore into an empty data directory or database",
        ));
    }
    let mut counts = Counts::default();
    let mut pending: Vec<(String, Record)> = Vec::new();
    let mut header_seen = false;
    let mut line = String::new();
    let mut n = 0usize;
    loop {
        line.clear();
        let read = (&mut *input)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_line(&mut line)
            .map_err(io)?;
        if read == 0 {
            break;
        }
        n += 1;
        if line.len() > MAX_LINE_BYTES {
            return Err(io(format!(
                "line {n} is longer than {MAX_LINE_BYTES} bytes; is this an engram backup?"
            )));
        }
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line).map_err(|e| io(format!("line {n}: {e}")))?;
        match parsed {
            Line::Header {
                format,
                version,
                embedding_model,
                dimension,
                ..
            } => {
                if format != FORMAT || version != VERSION {
                    return Err(io(format!("unsupported format {format} v{version}")));
                }
                store
                    .bind_embedding_space(&embedding_model, dimension)
                    .await?;
                header_seen = true;
            }
            _ if !header_seen => return Err(io("missing header line; is this an engram backup?")),
            Line::Tenant(t) => {
                flush(store, &mut pending, &mut counts).await?;
                store.create_tenant(&t).await?;
                counts.tenants += 1;
            }
            Line::Key(k) => {
                store.create_key(&k).await?;
                counts.keys += 1;
            }
            Line::Conversation {
                tenant_id,
                conversation,
            } => {
                store.create_conversation(&tenant_id, &conversation).await?;
                counts.conversations += 1;
            }
            Line::Memory {
                tenant_id,
                memory,
                embedding,
            } => {
                pending.push((tenant_id, Record { memory, embedding }));
                if pending.len() >= PAGE {
                    flush(store, &mut pending, &mut counts).await?;
                }
            }
        }
    }
    flush(store, &mut pending, &mut counts).await?;
    Ok(counts)
}

async fn flush(
    store: &dyn Store,
    pending: &mut Vec<(String, Record)>,
    counts: &mut Counts,
) -> Result<()> {
    while let Some((tenant, _)) = pending.first() {
        let tenant = tenant.clone();
        let split = pending
            .iter()
            .position(|(t, _)| *t != tenant)
            .unwrap_or(pending.len());
        let batch: Vec<Record> = pending.drain(..split).map(|(_, r)| r).collect();
        counts.memories += batch.len() as u64;
        store.insert(&tenant, batch, None).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_core::temporal::Temporal;

    /// A memory line as backups made before facts wrote it: it restores as
    /// always valid, uncited, version 1; a line of today round-trips.
    #[test]
    fn memory_lines_without_temporal_fields_still_restore() {
        let old = r#"{"type":"memory","tenant_id":"t","id":"m","content":"c","kind":"semantic",
            "user_id":null,"agent_id":null,"session_id":null,"role":null,"labels":[],
            "metadata":{},"importance":0.5,"occurred_at":"2024-01-01T00:00:00Z",
            "created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z",
            "embedding":[1.0]}"#;
        let Line::Memory { mut memory, .. } = serde_json::from_str(old).unwrap() else {
            panic!("not a memory line")
        };
        assert_eq!(memory.temporal, Temporal::default());
        memory.temporal = Temporal {
            valid_from: Some("2024-01-01T00:00:00Z".parse().unwrap()),
            valid_to: Some("2024-02-01T00:00:00Z".parse().unwrap()),
            sources: vec!["a".into()],
            version: 2,
            version_of: Some("f".into()),
        };
        let line = Line::Memory {
            tenant_id: "t".into(),
            memory: memory.clone(),
            embedding: vec![1.0],
        };
        let back: Line = serde_json::from_str(&serde_json::to_string(&line).unwrap()).unwrap();
        let Line::Memory { memory: back, .. } = back else {
            panic!("not a memory line")
        };
        assert_eq!(back, memory);
    }
}
