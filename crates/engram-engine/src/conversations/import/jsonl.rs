//! engram's own export as JSON lines: one conversation a line, as
//! `GET /v1/conversations/{id}/export?format=json` writes it
//! (`{"conversation": {...}, "messages": [...]}`). Title, label, folder,
//! importance, pin, archive and metadata come back as they were; roles
//! other than user, assistant, system and tool are skipped.

use std::io::{BufRead, BufReader, Read};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use engram_core::Result;
use engram_core::conversation::{Role, normalize_folder, validate_label};

use super::{Source, malformed, typed};

#[derive(Deserialize)]
struct Line {
    conversation: Conversation,
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Conversation {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    folder: Option<String>,
    #[serde(default)]
    importance: Option<u8>,
    #[serde(default)]
    pinned: bool,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    metadata: Map<String, Value>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Message {
    id: String,
    role: String,
    content: String,
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

pub(super) fn read(reader: impl Read, mut each: impl FnMut(Source) -> Result<()>) -> Result<u64> {
    let mut n = 0;
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let at = format!("line {}", i + 1);
        let line =
            line.map_err(|e| malformed(&at, format!("cannot be read as UTF-8 text: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| {
            let why = if e.is_eof() {
                "ends before its JSON does: the file was cut short".to_string()
            } else {
                format!("is not JSON: {e}")
            };
            malformed(&at, why)
        })?;
        let l: Line = typed(&at, v)?;
        let c = l.conversation;
        let mut src = Source::new(format!("{at} (id {})", c.id), c.id, c.title);
        src.created_at = c.created_at;
        src.updated_at = c.updated_at;
        let field = |name: &str| format!("{at}.conversation.{name}");
        if let Some(l) = &c.label {
            validate_label(l, "label").map_err(|e| malformed(field("label"), e))?;
        }
        if let Some(i) = c.importance
            && !(1..=10).contains(&i)
        {
            return Err(malformed(field("importance"), "must be between 1 and 10"));
        }
        src.label = c.label;
        src.folder = c
            .folder
            .map(|f| normalize_folder(&f, "folder"))
            .transpose()
            .map_err(|e| malformed(field("folder"), e))?;
        src.importance = c.importance;
        src.pinned = c.pinned;
        src.archived = c.archived;
        src.metadata = c.metadata;
        for m in l.messages {
            let role = match m.role.as_str() {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "system" => Role::System,
                "tool" => Role::Tool,
                _ => {
                    src.skipped += 1;
                    continue;
                }
            };
            src.push(m.id, role, &m.content, m.occurred_at, m.metadata);
        }
        each(src)?;
        n += 1;
    }
    Ok(n)
}
