//! The rest of a memory, kept beside its facts so a search builds its
//! results without reading a row: id, content, role, metadata and the
//! write times, sources and version, packed into one allocation per memory.

use serde_json::{Map, Value};

use crate::binary::{Reader, write_str};
use crate::rows::time;
use engram_core::Memory;
use engram_core::temporal::MAX_SOURCES;

/// The fields of a memory that are not facts.
pub struct Rest {
    pub id: String,
    pub content: String,
    pub role: Option<String>,
    pub metadata: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub sources: Vec<String>,
    pub version: u32,
    pub version_of: Option<String>,
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
    let t = &m.temporal;
    out.extend_from_slice(&t.version.to_le_bytes());
    out.push(u8::from(t.version_of.is_some()));
    let _ = write_str(&mut out, t.version_of.as_deref().unwrap_or(""));
    out.extend_from_slice(&(t.sources.len() as u32).to_le_bytes());
    for s in &t.sources {
        let _ = write_str(&mut out, s);
    }
    out.into_boxed_slice()
}

pub fn unpack(bytes: &[u8]) -> Result<Rest, String> {
    let Fields {
        id,
        content,
        role,
        metadata,
        created_at,
        updated_at,
        sources,
        version,
        version_of,
    } = fields(bytes)?;
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
        sources: sources.into_iter().map(str::to_string).collect(),
        version,
        version_of: version_of.map(str::to_string),
    })
}

/// Checks that `bytes` unpack, without building the memory: loading a
/// million memories checks each one, and allocating each would double the
/// time to reopen.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    let f = fields(bytes)?;
    let (metadata, created_at, updated_at) = (f.metadata, f.created_at, f.updated_at);
    time(created_at)?;
    time(updated_at)?;
    if !metadata.is_empty() {
        serde_json::from_str::<serde::de::IgnoredAny>(metadata)
            .map_err(|e| format!("metadata: {e}"))?;
    }
    Ok(())
}

struct Fields<'a> {
    id: &'a str,
    content: &'a str,
    role: Option<&'a str>,
    metadata: &'a str,
    created_at: i64,
    updated_at: i64,
    sources: Vec<&'a str>,
    version: u32,
    version_of: Option<&'a str>,
}

fn fields(bytes: &[u8]) -> Result<Fields<'_>, String> {
    let mut r = Reader::new(bytes);
    let (id, content, role, metadata) = (r.str()?, r.str()?, r.str()?, r.str()?);
    let has_role = r.take(1)?[0] != 0;
    let (created_at, updated_at) = (r.i64()?, r.i64()?);
    let version = r.u32()?;
    if version == 0 {
        return Err("version 0 is not one engram writes".into());
    }
    let has_version_of = r.take(1)?[0] != 0;
    let version_of = r.str()?;
    let n_sources = r.u32()? as usize;
    if n_sources > MAX_SOURCES {
        return Err(format!("{n_sources} sources, more than engram writes"));
    }
    let sources = (0..n_sources)
        .map(|_| r.str())
        .collect::<Result<Vec<_>, _>>()?;
    if !r.is_empty() {
        return Err("trailing bytes after a memory".into());
    }
    Ok(Fields {
        id,
        content,
        role: has_role.then_some(role),
        metadata,
        created_at,
        updated_at,
        sources,
        version,
        version_of: has_version_of.then_some(version_of),
    })
}
