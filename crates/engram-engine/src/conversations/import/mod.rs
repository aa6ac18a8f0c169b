//! Imports of conversation exports: ChatGPT's and Claude's
//! `conversations.json` and engram's own JSON lines.
//!
//! A file is read as a stream: the top-level array is walked element by
//! element (a `SeqAccess` visitor over a reader), so a 200 MB export is
//! never held whole, only one conversation at a time. Each conversation
//! is written in one transaction with its messages (per-conversation
//! atomicity), under ids derived from the tenant, the format and the
//! source's own ids, so importing the same file twice writes nothing the
//! second time. [`check`] reads a whole file without writing: the REST
//! import runs it first, so a malformed or truncated file is refused
//! before anything of it is written.

mod chatgpt;
mod claude;
mod job;
mod jsonl;

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use engram_core::conversation::{
    Conversation, DEFAULT_CONVERSATION_IMPORTANCE, MAX_TITLE_CHARS, NewMessage, Role, derived_id,
    normalize_folder, validate_label,
};
use engram_core::memory::{MAX_CONTENT_CHARS, stored_time};
use engram_core::{Code, Error, Result};
use engram_store::conversations::{MessageWrite, MessagesAdded};

use crate::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Chatgpt,
    Claude,
    Jsonl,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Chatgpt => "chatgpt",
            Format::Claude => "claude",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn parse(s: &str, field: &str) -> Result<Format> {
        match s {
            "chatgpt" => Ok(Format::Chatgpt),
            "claude" => Ok(Format::Claude),
            "jsonl" => Ok(Format::Jsonl),
            _ => Err(Error::invalid(
                field,
                "must be one of chatgpt, claude, jsonl",
            )),
        }
    }
}

/// Where imported conversations go.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub format: Format,
    /// Filed in this folder (a JSON lines file's own folder otherwise).
    pub folder: Option<String>,
    pub label: Option<String>,
}

impl ImportOptions {
    pub fn new(format: Format, folder: Option<&str>, label: Option<&str>) -> Result<ImportOptions> {
        if let Some(l) = label {
            validate_label(l, "label")?;
        }
        Ok(ImportOptions {
            format,
            folder: folder.map(|f| normalize_folder(f, "folder")).transpose()?,
            label: label.map(|l| l.trim().to_string()),
        })
    }
}

/// What an import did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Conversations imported (those already there count too).
    pub conversations: u64,
    /// Messages written.
    pub messages: u64,
    /// Messages not written: already there, hidden, or empty.
    pub skipped: u64,
}

/// One conversation as read from a file, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Names it in errors: `conversations[3] (id ...)`, `line 4`.
    pub at: String,
    pub id: String,
    pub title: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub label: Option<String>,
    pub folder: Option<String>,
    pub importance: Option<u8>,
    pub pinned: bool,
    pub archived: bool,
    pub metadata: Map<String, Value>,
    pub messages: Vec<SourceMessage>,
    /// Messages of the file left out (hidden, system, empty).
    pub skipped: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceMessage {
    pub id: String,
    pub role: Role,
    pub content: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub metadata: Map<String, Value>,
}

impl Source {
    fn new(at: String, id: String, title: Option<String>) -> Source {
        let title = title
            .map(|t| t.trim().chars().take(MAX_TITLE_CHARS).collect::<String>())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "Untitled".into());
        Source {
            at,
            id,
            title,
            created_at: None,
            updated_at: None,
            label: None,
            folder: None,
            importance: None,
            pinned: false,
            archived: false,
            metadata: Map::new(),
            messages: Vec::new(),
            skipped: 0,
        }
    }

    /// Adds a message unless its text is empty (then it counts as
    /// skipped). A text longer than a memory holds is cut at the limit,
    /// its full length kept in `metadata.truncated_from_chars`.
    fn push(
        &mut self,
        id: String,
        role: Role,
        content: &str,
        occurred_at: Option<DateTime<Utc>>,
        mut metadata: Map<String, Value>,
    ) {
        let content = content.trim();
        if content.is_empty() {
            self.skipped += 1;
            return;
        }
        let chars = content.chars().count();
        let content = if chars > MAX_CONTENT_CHARS {
            metadata.insert("truncated_from_chars".into(), chars.into());
            content.chars().take(MAX_CONTENT_CHARS).collect()
        } else {
            content.to_string()
        };
        self.messages.push(SourceMessage {
            id,
            role,
            content,
            occurred_at: occurred_at.map(stored_time),
            metadata,
        });
    }
}

/// A refusal of the file, naming the conversation (and node) at fault.
pub(crate) fn malformed(at: impl Into<String>, what: impl fmt::Display) -> Error {
    Error::User {
        code: Code::MalformedImport,
        field: Some(at.into()),
        message: format!("{what}; nothing of the file was imported"),
    }
}

/// A conversation element as `T`, an error naming the path inside it.
pub(crate) fn typed<T: DeserializeOwned>(at: &str, v: Value) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            at.to_string()
        } else {
            format!("{at}.{path}")
        };
        malformed(at, e.into_inner())
    })
}

/// Seconds since 1970 (ChatGPT's times) as a time.
pub(crate) fn epoch(t: f64) -> Option<DateTime<Utc>> {
    t.is_finite()
        .then(|| DateTime::from_timestamp_micros((t * 1e6).round() as i64))
        .flatten()
}

/// The time of a message the export gives none: a microsecond after the
/// one before it, so it keeps its place (messages are listed by time).
pub(crate) fn after(previous: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    previous.map(|t| t + chrono::Duration::microseconds(1))
}

/// Reads every conversation of `reader`, calling `each` with each in file
/// order; stops at the first error (of the file, or returned by `each`).
/// Returns how many were read.
pub fn read(
    format: Format,
    reader: impl Read,
    mut each: impl FnMut(Source) -> Result<()>,
) -> Result<u64> {
    match format {
        Format::Chatgpt => elements(reader, |i, v| each(chatgpt::parse(i, v)?)),
        Format::Claude => elements(reader, |i, v| each(claude::parse(i, v)?)),
        Format::Jsonl => jsonl::read(reader, each),
    }
}

/// Reads a whole file without writing anything: the number of
/// conversations, or the first fault.
pub fn check(format: Format, reader: impl Read) -> Result<u64> {
    read(format, reader, |_| Ok(()))
}

/// Walks a top-level JSON array element by element.
fn elements(reader: impl Read, mut f: impl FnMut(usize, Value) -> Result<()>) -> Result<u64> {
    struct Walk<'a, F> {
        f: &'a mut F,
        reached: &'a mut usize,
        failure: &'a mut Option<Error>,
    }
    impl<'de, F: FnMut(usize, Value) -> Result<()>> Visitor<'de> for Walk<'_, F> {
        type Value = ();
        fn expecting(&self, out: &mut fmt::Formatter) -> fmt::Result {
            out.write_str("a JSON array of conversations (the export's conversations.json)")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
            while let Some(v) = seq.next_element::<Value>()? {
                if let Err(e) = (self.f)(*self.reached, v) {
                    *self.failure = Some(e);
                    return Err(de::Error::custom("stopped"));
                }
                *self.reached += 1;
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let (mut reached, mut failure) = (0, None);
    let walked = de::Deserializer::deserialize_seq(
        &mut de,
        Walk {
            f: &mut f,
            reached: &mut reached,
            failure: &mut failure,
        },
    );
    if let Some(e) = failure {
        return Err(e);
    }
    let at = format!("conversations[{reached}]");
    match walked.and_then(|()| de.end()) {
        Ok(()) => Ok(reached as u64),
        Err(e) if e.is_eof() => Err(malformed(
            at,
            format!(
                "the file ends inside this conversation (line {}, column {}): it was cut short; export or copy it again",
                e.line(),
                e.column()
            ),
        )),
        Err(e) => Err(malformed(at, format!("not a valid export: {e}"))),
    }
}

/// The id of a conversation (`message` `None`) or message imported from
/// `format` into `tenant`: the same source ids give the same id.
pub(crate) fn derived(
    tenant: &str,
    format: Format,
    conversation: &str,
    message: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    for part in [tenant, format.as_str(), conversation] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    if let Some(m) = message {
        h.update(b"message\0");
        h.update(m.as_bytes());
    }
    derived_id(&h.finalize().into())
}

impl Engine {
    /// Imports every conversation of `reader`, each in one transaction
    /// with its messages, calling `progress` after each. The file is read
    /// on a blocking thread and handed over one conversation at a time
    /// (at most two waiting), so memory holds only those.
    pub async fn import(
        &self,
        tenant: &str,
        opts: &ImportOptions,
        reader: impl Read + Send + 'static,
        mut progress: impl FnMut(&ImportSummary) + Send,
    ) -> Result<ImportSummary> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Source>(2);
        let format = opts.format;
        let reading = tokio::task::spawn_blocking(move || {
            read(format, reader, |s| {
                tx.blocking_send(s)
                    .map_err(|_| Error::internal("the import stopped reading"))
            })
        });
        let mut summary = ImportSummary::default();
        while let Some(source) = rx.recv().await {
            if let Err(e) = self.import_one(tenant, opts, source, &mut summary).await {
                drop(rx);
                let _ = reading.await;
                return Err(e);
            }
            progress(&summary);
        }
        reading.await.map_err(Error::internal)??;
        Ok(summary)
    }

    async fn import_one(
        &self,
        tenant: &str,
        opts: &ImportOptions,
        src: Source,
        summary: &mut ImportSummary,
    ) -> Result<()> {
        let format = opts.format;
        let ids: Vec<String> = src
            .messages
            .iter()
            .map(|m| derived(tenant, format, &src.id, Some(&m.id)))
            .collect();
        let present: HashSet<String> = self
            .store
            .get_records(tenant, &ids)
            .await?
            .into_iter()
            .map(|r| r.memory.id)
            .collect();
        let first = src.messages.iter().find_map(|m| m.occurred_at);
        let created_at = stored_time(src.created_at.or(first).unwrap_or_else(Utc::now));
        let mut metadata = src.metadata.clone();
        metadata.insert("source_id".into(), src.id.clone().into());
        let conversation = Conversation {
            id: derived(tenant, format, &src.id, None),
            title: src.title.clone(),
            user_id: None,
            agent_id: None,
            label: opts.label.clone().or(src.label.clone()),
            folder: opts.folder.clone().or(src.folder.clone()),
            importance: src.importance.unwrap_or(DEFAULT_CONVERSATION_IMPORTANCE),
            pinned: src.pinned,
            archived: src.archived,
            metadata,
            source: Some(format.as_str().into()),
            created_at,
            updated_at: stored_time(src.updated_at.unwrap_or(created_at)),
        };
        let mut news = Vec::new();
        let mut new_ids = Vec::new();
        for (j, (m, id)) in src.messages.into_iter().zip(ids).enumerate() {
            if present.contains(&id) {
                continue;
            }
            let msg = NewMessage {
                role: m.role,
                content: m.content,
                occurred_at: m.occurred_at,
                metadata: m.metadata,
            };
            news.push(msg.into_memory(&conversation, &format!("{}.messages[{j}].", src.at))?);
            new_ids.push(id);
        }
        let records = self
            .prepare_with_ids(tenant, news, new_ids, |_| src.at.clone())
            .await?;
        let write = MessageWrite {
            conversation: &conversation,
            create: true,
            records,
            idempotency: None,
        };
        let MessagesAdded::Added(added) = self.store.add_messages(tenant, write).await? else {
            return Err(Error::internal("an import's conversation was not created"));
        };
        summary.conversations += 1;
        summary.messages += added.len() as u64;
        summary.skipped += src.skipped + present.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
