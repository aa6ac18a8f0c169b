//! The rest of a memory, kept beside its facts so a search builds its
//! results without reading a row: id, content, role, metadata and the
//! write times, packed into one allocation per memory.

use serde_json::{Map, Value};

use crate::binary::{Reader, write_str};
use crate::rows::time;
use engram_core::Memory;

/// The fields of a memory that are not facts.
pub struct Rest {
    pub id: String,
    pub content: String,
    pub role: Option<String>,
    pub metadata: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn pack(m: &Memory) -> Box<[u8]> {
    let mut out = Vec::with_capacity(m.id.len() + m.content.len() + 40);
    let metadata = if m.metadata.is_empty() {
        String::new()
    } else {
        Value::Object(m.metadata.clone()).to_string()
    };
    // Writing to a Vec cannot fail.
    for s in [
        &m.id,
        &m.content,
        m.role.as_deref().unwrap_or(""),
        &metadata,
    ] {
        let _ = write_str(&mut out, s);
    }
    out.push(u8::from(m.role.is_some()));
    out.extend_from_slice(&m.created_at.timestamp_micros().to_le_bytes());
    out.extend_from_slice(&m.updated_at.timestamp_micros().to_le_bytes());
    out.into_boxed_slice()
}

pub fn unpack(bytes: &[u8]) -> Result<Rest, String> {
    let (id, content, role, metadata, created_at, updated_at) = fields(bytes)?;
    let metadata = if metadata.is_empty() {
        Map::new()
    } else {
        serde_json::from_str(metadata).map_err(|e| format!("metadata: {e}"))?
    };
    Ok(Rest {
        id: id.to_string(),
        content: content.to_string(),
        role: role.map(str::to_string),
        metadata,
        created_at,
        updated_at,
    })
}

/// Checks that `bytes` unpack, without building the memory: loading a
/// million memories checks each one, and allocating each would double the
/// time to reopen.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    let (.., metadata, created_at, updated_at) = fields(bytes)?;
    time(created_at)?;
    time(updated_at)?;
    if !metadata.is_empty() {
        serde_json::from_str::<serde::de::IgnoredAny>(metadata)
            .map_err(|e| format!("metadata: {e}"))?;
    }
    Ok(())
}

type Fields<'a> = (&'a str, &'a str, Option<&'a str>, &'a str, i64, i64);

fn fields(bytes: &[u8]) -> Result<Fields<'_>, String> {
    let mut r = Reader::new(bytes);
    let (id, content, role, metadata) = (r.str()?, r.str()?, r.str()?, r.str()?);
    let has_role = r.take(1)?[0] != 0;
    let (created_at, updated_at) = (r.i64()?, r.i64()?);
    if !r.is_empty() {
        return Err("trailing bytes after a memory".into());
    }
    Ok((
        id,
        content,
        has_role.then_some(role),
        metadata,
        created_at,
        updated_at,
    ))
}
