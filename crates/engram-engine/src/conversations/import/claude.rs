//! Claude's `conversations.json`: an array of conversations
//! (`uuid`, `name`, `created_at`, `updated_at`, `chat_messages`), each
//! message with a `sender` (`human` or `assistant`), its text (the
//! `content` parts of type `text`, or `text` for older exports),
//! `created_at`, and `attachments`/`files` whose names are kept as
//! metadata. Tool use inside a message is counted in `metadata.tool_calls`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use engram_core::Result;
use engram_core::conversation::Role;

use super::{Source, after, malformed, typed};

#[derive(Deserialize)]
struct Conversation {
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    chat_messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    uuid: String,
    sender: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    content: Vec<Part>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    attachments: Vec<Named>,
    #[serde(default)]
    files: Vec<Named>,
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    file_name: Option<String>,
}

pub(super) fn parse(i: usize, v: Value) -> Result<Source> {
    let at = format!("conversations[{i}]");
    let c: Conversation = typed(&at, v)?;
    let Some(id) = c.uuid.clone() else {
        return Err(malformed(at, "has no uuid"));
    };
    let at = format!("conversations[{i}] (id {id})");
    let mut src = Source::new(at, id, c.name.clone());
    src.created_at = c.created_at;
    src.updated_at = c.updated_at;
    let mut previous = c.created_at;
    for m in c.chat_messages {
        let role = match m.sender.as_str() {
            "human" => Role::User,
            "assistant" => Role::Assistant,
            _ => {
                src.skipped += 1;
                continue;
            }
        };
        let texts: Vec<&str> = m
            .content
            .iter()
            .filter(|p| p.kind == "text")
            .filter_map(|p| p.text.as_deref())
            .collect();
        let text = if texts.is_empty() {
            m.text.clone().unwrap_or_default()
        } else {
            texts.join("\n\n")
        };
        let occurred_at = m.created_at.or_else(|| after(previous));
        previous = occurred_at;
        let mut metadata = Map::new();
        metadata.insert("source".into(), "claude".into());
        metadata.insert("source_id".into(), m.uuid.clone().into());
        let tools = m.content.iter().filter(|p| p.kind == "tool_use").count();
        if tools > 0 {
            metadata.insert("tool_calls".into(), tools.into());
        }
        let files: Vec<Value> = m
            .attachments
            .iter()
            .chain(&m.files)
            .filter_map(|a| a.file_name.clone().map(Value::from))
            .collect();
        if !files.is_empty() {
            metadata.insert("attachments".into(), Value::Array(files));
        }
        src.push(m.uuid, role, &text, occurred_at, metadata);
    }
    Ok(src)
}
