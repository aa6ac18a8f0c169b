//! Conversations: threads of messages with a title, label, folder, pin and
//! archive flag. A message is a memory (kind episodic, `session_id` = the
//! conversation's id, `role` = the message's role), so search, context and
//! MCP see messages with no second index; this module is the thread's own
//! vocabulary and its rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::memory::{MAX_ID_CHARS, MAX_LABEL_CHARS, validate_id};
use crate::query::{Cursor, SearchMode};
use crate::{Error, Kind, Memory, NewMemory, Result};

pub const MAX_TITLE_CHARS: usize = 512;
/// A folder path's length and depth: deep enough for any filing scheme a
/// person keeps by hand (`clients/acme/2024/q3` is 4).
pub const MAX_FOLDER_CHARS: usize = 512;
pub const MAX_FOLDER_DEPTH: usize = 16;
pub const DEFAULT_CONVERSATION_IMPORTANCE: u8 = 5;
/// Messages appended in one request, written all or none.
pub const MAX_MESSAGES_PER_APPEND: usize = 1000;

/// A thread of messages as clients see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub title: String,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub label: Option<String>,
    /// A path of segments separated by `/`, e.g. `work/clients`.
    pub folder: Option<String>,
    /// 1 to 10.
    pub importance: u8,
    /// Its messages rank as if of full importance in searches.
    pub pinned: bool,
    /// Its messages are left out of searches and context unless
    /// `include_archived` is set.
    pub archived: bool,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Where it was imported from (`chatgpt`, `claude`, `jsonl`); absent
    /// when it was created over the API.
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    pub title: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub folder: Option<String>,
    /// 1 to 10; default 5.
    #[serde(default)]
    pub importance: Option<u8>,
    #[serde(default)]
    pub pinned: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// A partial update: rename, move, label, pin, archive, importance.
/// Absent fields are left as they are; an empty `label` or `folder`
/// removes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConversationPatch {
    pub title: Option<String>,
    pub label: Option<String>,
    pub folder: Option<String>,
    pub importance: Option<u8>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Tool => "tool",
        }
    }
}

/// A message to append.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub role: Role,
    pub content: String,
    /// When it was said; defaults to now. Kept as given on import.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// A message as clients see it: the memory behind it, under the
/// conversation's names.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Message {
    /// Also the memory's id (`GET /v1/memories/{id}`).
    pub id: String,
    pub conversation_id: String,
    pub role: String,
    pub content: String,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    pub created_at: DateTime<Utc>,
}

impl Message {
    pub fn from_memory(m: Memory) -> Message {
        Message {
            id: m.id,
            conversation_id: m.session_id.unwrap_or_default(),
            role: m.role.unwrap_or_else(|| Role::User.as_str().into()),
            content: m.content,
            occurred_at: m.occurred_at,
            metadata: m.metadata,
            created_at: m.created_at,
        }
    }
}

/// A search over conversations' messages: one conversation, or those of
/// a folder (and below) and/or a label.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConversationSearch {
    pub query: String,
    /// 1 to 100; default 10.
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub mode: SearchMode,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// Also search archived conversations (left out by default).
    #[serde(default)]
    pub include_archived: bool,
}

/// A conversation with all its messages, oldest first: the JSON export,
/// and one line of the JSON lines import.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ExportedConversation {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

impl ExportedConversation {
    /// A readable transcript: the title, the conversation's facts, then
    /// each message under its role and time.
    pub fn markdown(&self) -> String {
        let c = &self.conversation;
        let mut out = format!("# {}\n\n", c.title);
        for (name, v) in [("Folder", &c.folder), ("Label", &c.label)] {
            if let Some(v) = v {
                out.push_str(&format!("- {name}: {v}\n"));
            }
        }
        out.push_str(&format!(
            "- Created: {}\n- Messages: {}\n\n",
            c.created_at.to_rfc3339(),
            self.messages.len()
        ));
        for m in &self.messages {
            out.push_str(&format!(
                "## {} · {}\n\n{}\n\n",
                m.role,
                m.occurred_at.to_rfc3339(),
                m.content
            ));
        }
        out
    }
}

/// Which conversations a listing returns: every condition must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationQuery {
    pub label: Option<String>,
    /// This folder and every folder below it.
    pub folder: Option<String>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    pub user_id: Option<String>,
    /// Words the title contains (case-insensitive, as typed).
    pub text: Option<String>,
    pub limit: usize,
    /// Newest first by `created_at`, then id: resume after this one.
    pub after: Option<Cursor>,
}

/// One page of conversations.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ConversationPage {
    pub items: Vec<Conversation>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct MessagePage {
    /// Oldest first, by `occurred_at` then id.
    pub items: Vec<Message>,
    pub next_cursor: Option<String>,
}

/// One folder of the tree: every folder holding a conversation, and every
/// folder above one, sorted by path (so a parent precedes its children).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Folder {
    pub path: String,
    /// Segments in the path (`work/clients` is 2).
    pub depth: usize,
    /// Conversations filed directly in it.
    pub conversations: u64,
    /// Conversations in it and every folder below.
    pub total: u64,
}

impl Folder {
    /// The tree from the conversations per folder (each folder once).
    pub fn tree(counts: &[(String, u64)]) -> Vec<Folder> {
        let mut all: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        for (path, n) in counts {
            all.entry(path.clone()).or_default().0 += n;
            let mut prefix = String::new();
            for seg in path.split('/') {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(seg);
                all.entry(prefix.clone()).or_default().1 += n;
            }
        }
        all.into_iter()
            .map(|(path, (conversations, total))| Folder {
                depth: path.split('/').count(),
                path,
                conversations,
                total,
            })
            .collect()
    }
}

/// A folder path in canonical form: segments trimmed, no empty segment,
/// no leading or trailing `/`.
pub fn normalize_folder(raw: &str, field: &str) -> Result<String> {
    let segments: Vec<&str> = raw.split('/').map(str::trim).collect();
    let inner = &segments[usize::from(segments.first() == Some(&""))..];
    let inner = match inner.last() {
        Some(&"") => &inner[..inner.len() - 1],
        _ => inner,
    };
    if inner.is_empty() || inner.iter().any(|s| s.is_empty()) {
        return Err(Error::invalid(
            field,
            "must be a path of non-empty segments separated by '/', e.g. work/clients",
        ));
    }
    if inner.len() > MAX_FOLDER_DEPTH {
        return Err(Error::invalid(
            field,
            format!(
                "has {} segments; the limit is {MAX_FOLDER_DEPTH}",
                inner.len()
            ),
        ));
    }
    let path = inner.join("/");
    if path.chars().count() > MAX_FOLDER_CHARS {
        return Err(Error::invalid(
            field,
            format!("is longer than {MAX_FOLDER_CHARS} characters"),
        ));
    }
    Ok(path)
}

fn validate_title(t: &str, field: &str) -> Result<()> {
    if t.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if t.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::invalid(
            field,
            format!("is longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(())
}

pub fn validate_label(l: &str, field: &str) -> Result<()> {
    if l.trim().is_empty() || l.chars().count() > MAX_LABEL_CHARS {
        return Err(Error::invalid(
            field,
            format!("must be 1 to {MAX_LABEL_CHARS} characters"),
        ));
    }
    Ok(())
}

fn validate_importance(i: u8, field: &str) -> Result<()> {
    if !(1..=10).contains(&i) {
        return Err(Error::invalid(field, "must be between 1 and 10"));
    }
    Ok(())
}

impl NewConversation {
    /// Validates and builds the stored form (folder normalized).
    pub fn into_conversation(self, id: String, now: DateTime<Utc>) -> Result<Conversation> {
        validate_title(&self.title, "title")?;
        for (name, v) in [("user_id", &self.user_id), ("agent_id", &self.agent_id)] {
            if let Some(v) = v {
                validate_id(v, name)?;
            }
        }
        if let Some(l) = &self.label {
            validate_label(l, "label")?;
        }
        let folder = self
            .folder
            .as_deref()
            .map(|f| normalize_folder(f, "folder"))
            .transpose()?;
        let importance = self.importance.unwrap_or(DEFAULT_CONVERSATION_IMPORTANCE);
        validate_importance(importance, "importance")?;
        crate::memory::validate_metadata(&self.metadata, "metadata")?;
        let now = crate::memory::stored_time(now);
        Ok(Conversation {
            id,
            title: self.title.trim().to_string(),
            user_id: self.user_id,
            agent_id: self.agent_id,
            label: self.label.map(|l| l.trim().to_string()),
            folder,
            importance,
            pinned: self.pinned,
            archived: self.archived,
            metadata: self.metadata,
            source: None,
            created_at: now,
            updated_at: now,
        })
    }
}

impl ConversationPatch {
    /// Validates the patch and applies it to `c`.
    pub fn apply(self, c: &mut Conversation, now: DateTime<Utc>) -> Result<()> {
        if self == ConversationPatch::default() {
            return Err(Error::invalid(
                "body",
                "give at least one of title, label, folder, importance, pinned, archived, metadata",
            ));
        }
        if let Some(t) = self.title {
            validate_title(&t, "title")?;
            c.title = t.trim().to_string();
        }
        if let Some(l) = self.label {
            c.label = if l.is_empty() {
                None
            } else {
                validate_label(&l, "label")?;
                Some(l.trim().to_string())
            };
        }
        if let Some(f) = self.folder {
            c.folder = if f.is_empty() {
                None
            } else {
                Some(normalize_folder(&f, "folder")?)
            };
        }
        if let Some(i) = self.importance {
            validate_importance(i, "importance")?;
            c.importance = i;
        }
        if let Some(m) = self.metadata {
            crate::memory::validate_metadata(&m, "metadata")?;
            c.metadata = m;
        }
        c.pinned = self.pinned.unwrap_or(c.pinned);
        c.archived = self.archived.unwrap_or(c.archived);
        c.updated_at = crate::memory::stored_time(now);
        Ok(())
    }
}

impl NewMessage {
    /// The memory that holds the message in conversation `c`; `at`
    /// prefixes field names (`items[3].`).
    pub fn into_memory(self, c: &Conversation, at: &str) -> Result<NewMemory> {
        let m = NewMemory {
            content: self.content,
            kind: Kind::Episodic,
            user_id: c.user_id.clone(),
            agent_id: c.agent_id.clone(),
            session_id: Some(c.id.clone()),
            role: Some(self.role.as_str().into()),
            labels: Vec::new(),
            metadata: self.metadata,
            importance: None,
            occurred_at: self.occurred_at,
            embedding: None,
            ..Default::default()
        };
        m.validate(at)?;
        Ok(m)
    }
}

/// An id derived from its parts: the same source conversation or message
/// imported twice into one tenant gets the same id, so the second import
/// finds it and writes nothing. A UUID in form, from the first 16 bytes
/// of the SHA-256 of the parts; `hash` is that digest (core does no I/O and
/// has no hash of its own, so the caller passes it).
pub fn derived_id(digest: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    // Version 8 (custom), RFC 9562 variant.
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Import progress, kept as a row so any replica can answer for it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ImportJob {
    pub id: String,
    pub format: String,
    pub status: ImportStatus,
    /// Conversations in the file (known once it was checked).
    pub total: u64,
    /// Conversations imported so far (those already present count too).
    pub conversations: u64,
    /// Messages written.
    pub messages: u64,
    /// Messages not written: already imported, hidden, or empty.
    pub skipped: u64,
    /// Why it failed, naming the conversation at fault.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImportStatus {
    Running,
    Done,
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Running => "running",
            ImportStatus::Done => "done",
            ImportStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ImportStatus> {
        match s {
            "running" => Some(ImportStatus::Running),
            "done" => Some(ImportStatus::Done),
            "failed" => Some(ImportStatus::Failed),
            _ => None,
        }
    }
}

/// Longest source id kept from an export (ChatGPT and Claude use UUIDs).
pub const MAX_SOURCE_ID_CHARS: usize = MAX_ID_CHARS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_normalized_and_bad_ones_named() {
        assert_eq!(
            normalize_folder("/work/ clients/", "f").unwrap(),
            "work/clients"
        );
        assert_eq!(normalize_folder("a", "f").unwrap(), "a");
        for bad in ["", "/", "a//b", " / "] {
            assert_eq!(
                normalize_folder(bad, "folder").unwrap_err().field(),
                Some("folder")
            );
        }
    }

    #[test]
    fn the_tree_counts_each_folder_and_its_ancestors() {
        let t = Folder::tree(&[
            ("work/clients".into(), 2),
            ("work".into(), 1),
            ("home".into(), 3),
        ]);
        let got: Vec<(&str, usize, u64, u64)> = t
            .iter()
            .map(|f| (f.path.as_str(), f.depth, f.conversations, f.total))
            .collect();
        assert_eq!(
            got,
            vec![
                ("home", 1, 3, 3),
                ("work", 1, 1, 3),
                ("work/clients", 2, 2, 2)
            ]
        );
    }

    #[test]
    fn a_patch_validates_and_clears() {
        let mut c = NewConversation {
            title: "t".into(),
            label: Some("x".into()),
            folder: Some("a/b".into()),
            ..Default::default()
        }
        .into_conversation("1".into(), Utc::now())
        .unwrap();
        let p = ConversationPatch {
            label: Some(String::new()),
            folder: Some(String::new()),
            pinned: Some(true),
            ..Default::default()
        };
        p.apply(&mut c, Utc::now()).unwrap();
        assert_eq!(
            (c.label.clone(), c.folder.clone(), c.pinned),
            (None, None, true)
        );
        let bad = ConversationPatch {
            importance: Some(11),
            ..Default::default()
        };
        assert_eq!(
            bad.apply(&mut c.clone(), Utc::now()).unwrap_err().field(),
            Some("importance")
        );
        assert!(
            ConversationPatch::default()
                .apply(&mut c, Utc::now())
                .is_err()
        );
    }

    #[test]
    fn derived_ids_are_uuid_shaped_and_stable() {
        let a = derived_id(&[7u8; 32]);
        assert_eq!(a, derived_id(&[7u8; 32]));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
    }
}
