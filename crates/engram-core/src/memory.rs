//! What a memory is, and the rules a new or changed memory must satisfy.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::temporal::{Temporal, validate_range, validate_sources};
use crate::{Error, Result};

/// Longest accepted memory text. Memories are recalled into prompts: a
/// document larger than this belongs in several memories, not one.
pub const MAX_CONTENT_CHARS: usize = 32_768;
/// Longest scope id (user, agent, session) or role.
pub const MAX_ID_CHARS: usize = 256;
pub const MAX_LABELS: usize = 32;
pub const MAX_LABEL_CHARS: usize = 64;
/// Serialized size bound of `metadata`, so one memory cannot bloat every
/// result page that includes it.
pub const MAX_METADATA_BYTES: usize = 16_384;
/// The batch endpoint's contract: all of up to this many memories, or none.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// What happened: messages, events.
    #[default]
    Episodic,
    /// Facts that hold regardless of when they were learned.
    Semantic,
    /// How to do something.
    Procedural,
    /// A condensation of other memories (a session, a day, a week), citing
    /// them in `sources`.
    Summary,
    /// A higher-level insight drawn from recent memories, citing them.
    Reflection,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Episodic => "episodic",
            Kind::Semantic => "semantic",
            Kind::Procedural => "procedural",
            Kind::Summary => "summary",
            Kind::Reflection => "reflection",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "episodic" => Some(Kind::Episodic),
            "semantic" => Some(Kind::Semantic),
            "procedural" => Some(Kind::Procedural),
            "summary" => Some(Kind::Summary),
            "reflection" => Some(Kind::Reflection),
            _ => None,
        }
    }
}

/// A stored memory as clients see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Memory {
    pub id: String,
    pub content: String,
    pub kind: Kind,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub session_id: Option<String>,
    pub role: Option<String>,
    pub labels: Vec<String>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    pub importance: f32,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Validity and lineage (docs/FACTS.md).
    #[serde(flatten)]
    pub temporal: Temporal,
}

/// A memory to be written. `embedding` lets a client that already has
/// vectors (from its own model) skip local embedding; it must match the
/// index dimension.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewMemory {
    pub content: String,
    #[serde(default)]
    pub kind: Kind,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    #[serde(default)]
    pub importance: Option<f32>,
    /// When it happened; defaults to now. Kept as given on import.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub embedding: Option<Vec<f32>>,
    /// When the fact began to hold; absent: since always.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// When it stopped holding; absent: still holds.
    #[serde(default)]
    pub valid_to: Option<DateTime<Utc>>,
    /// Ids of memories (of this tenant) it was derived from.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Queue fact extraction from it (and its session's summary refresh)
    /// with the configured LLM; the write does not wait (docs/FACTS.md).
    #[serde(default)]
    pub infer: bool,
}

/// A partial update. Absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryPatch {
    pub content: Option<String>,
    pub labels: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    pub importance: Option<f32>,
    pub kind: Option<Kind>,
    /// Corrects when the memory began to hold (an edit, not a new version).
    pub valid_from: Option<DateTime<Utc>>,
    /// Invalidates it from this time on: it stays stored and in its
    /// history, and `as_of` an earlier time still finds it.
    pub valid_to: Option<DateTime<Utc>>,
}

pub const DEFAULT_IMPORTANCE: f32 = 0.5;

/// Timestamps are stored with microsecond precision; truncating them when
/// they are made keeps what a write returns equal to what later reads return.
pub fn stored_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// The current time at stored precision.
pub fn now() -> DateTime<Utc> {
    stored_time(Utc::now())
}

impl NewMemory {
    /// Checks every field; `at` prefixes field names (e.g. `items[3].`) so a
    /// batch error points at the offending item.
    pub fn validate(&self, at: &str) -> Result<()> {
        validate_content(&self.content, &format!("{at}content"))?;
        for (name, value) in [
            ("user_id", &self.user_id),
            ("agent_id", &self.agent_id),
            ("session_id", &self.session_id),
            ("role", &self.role),
        ] {
            if let Some(v) = value {
                validate_id(v, &format!("{at}{name}"))?;
            }
        }
        validate_labels(&self.labels, &format!("{at}labels"))?;
        validate_metadata(&self.metadata, &format!("{at}metadata"))?;
        if let Some(i) = self.importance {
            validate_importance(i, &format!("{at}importance"))?;
        }
        validate_range(self.valid_from, self.valid_to, &format!("{at}valid_to"))?;
        validate_sources(&self.sources, &format!("{at}sources"))?;
        if let Some(e) = &self.embedding
            && (e.is_empty() || e.iter().any(|x| !x.is_finite()))
        {
            return Err(Error::invalid(
                format!("{at}embedding"),
                "must be a non-empty array of finite numbers",
            ));
        }
        Ok(())
    }
}

impl MemoryPatch {
    pub fn validate(&self) -> Result<()> {
        if self.content.is_none()
            && self.labels.is_none()
            && self.metadata.is_none()
            && self.importance.is_none()
            && self.kind.is_none()
            && self.valid_from.is_none()
            && self.valid_to.is_none()
        {
            return Err(Error::invalid(
                "body",
                "give at least one of content, labels, metadata, importance, kind, valid_from, valid_to",
            ));
        }
        validate_range(self.valid_from, self.valid_to, "valid_to")?;
        if let Some(c) = &self.content {
            validate_content(c, "content")?;
        }
        if let Some(l) = &self.labels {
            validate_labels(l, "labels")?;
        }
        if let Some(m) = &self.metadata {
            validate_metadata(m, "metadata")?;
        }
        if let Some(i) = self.importance {
            validate_importance(i, "importance")?;
        }
        Ok(())
    }

    /// Applies the patch; returns whether the text changed (and so must be
    /// embedded and indexed again).
    pub fn apply(self, m: &mut Memory, now: DateTime<Utc>) -> bool {
        let mut content_changed = false;
        if let Some(c) = self.content {
            content_changed = c != m.content;
            m.content = c;
        }
        if let Some(l) = self.labels {
            m.labels = normalize_labels(l);
        }
        if let Some(md) = self.metadata {
            m.metadata = md;
        }
        if let Some(i) = self.importance {
            m.importance = i;
        }
        if let Some(k) = self.kind {
            m.kind = k;
        }
        if let Some(f) = self.valid_from {
            m.temporal.valid_from = Some(stored_time(f));
        }
        if let Some(t) = self.valid_to {
            m.temporal.valid_to = Some(stored_time(t));
        }
        m.updated_at = stored_time(now);
        content_changed
    }
}

fn validate_content(c: &str, field: &str) -> Result<()> {
    if c.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    let n = c.chars().count();
    if n > MAX_CONTENT_CHARS {
        return Err(Error::invalid(
            field,
            format!(
                "is {n} characters; the limit is {MAX_CONTENT_CHARS}: split it into several memories"
            ),
        ));
    }
    Ok(())
}

/// Scope ids are compared exactly, so empty or huge ones are almost surely
/// client bugs.
pub fn validate_id(v: &str, field: &str) -> Result<()> {
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty (omit it instead)"));
    }
    if v.chars().count() > MAX_ID_CHARS {
        return Err(Error::invalid(
            field,
            format!("is longer than {MAX_ID_CHARS} characters"),
        ));
    }
    Ok(())
}

fn validate_labels(labels: &[String], field: &str) -> Result<()> {
    if labels.len() > MAX_LABELS {
        return Err(Error::invalid(
            field,
            format!("has {} labels; the limit is {MAX_LABELS}", labels.len()),
        ));
    }
    for (i, l) in labels.iter().enumerate() {
        if l.trim().is_empty() || l.chars().count() > MAX_LABEL_CHARS {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("must be 1 to {MAX_LABEL_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

pub fn validate_metadata(m: &Map<String, Value>, field: &str) -> Result<()> {
    let size = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(Error::invalid(
            field,
            format!("is {size} bytes serialized; the limit is {MAX_METADATA_BYTES}"),
        ));
    }
    Ok(())
}

fn validate_importance(i: f32, field: &str) -> Result<()> {
    if !(0.0..=1.0).contains(&i) {
        return Err(Error::invalid(field, "must be between 0.0 and 1.0"));
    }
    Ok(())
}

/// Labels are a set: order and repeats carry no meaning.
pub fn normalize_labels(mut labels: Vec<String>) -> Vec<String> {
    for l in &mut labels {
        *l = l.trim().to_string();
    }
    labels.sort();
    labels.dedup();
    labels
}

impl Memory {
    /// Builds the stored form of a validated new memory.
    pub fn from_new(id: String, m: NewMemory, now: DateTime<Utc>) -> Memory {
        let now = stored_time(now);
        Memory {
            id,
            content: m.content,
            kind: m.kind,
            user_id: m.user_id,
            agent_id: m.agent_id,
            session_id: m.session_id,
            role: m.role,
            labels: normalize_labels(m.labels),
            metadata: m.metadata,
            importance: m.importance.unwrap_or(DEFAULT_IMPORTANCE),
            occurred_at: m.occurred_at.map_or(now, stored_time),
            created_at: now,
            updated_at: now,
            temporal: Temporal {
                valid_from: m.valid_from,
                valid_to: m.valid_to,
                sources: m.sources,
                ..Temporal::default()
            }
            .at_stored_precision(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(content: &str) -> NewMemory {
        NewMemory {
            content: content.into(),
            ..Default::default()
        }
    }

    #[test]
    fn empty_content_names_the_field() {
        let err = new("  ").validate("items[2].").unwrap_err();
        assert_eq!(err.field(), Some("items[2].content"));
    }

    #[test]
    fn oversized_content_is_refused() {
        let big = "a".repeat(MAX_CONTENT_CHARS + 1);
        assert!(new(&big).validate("").is_err());
        assert!(new(&"a".repeat(MAX_CONTENT_CHARS)).validate("").is_ok());
    }

    #[test]
    fn importance_out_of_range_is_refused() {
        let mut m = new("x");
        m.importance = Some(1.5);
        let err = m.validate("").unwrap_err();
        assert_eq!(err.field(), Some("importance"));
    }

    #[test]
    fn non_finite_embedding_is_refused() {
        let mut m = new("x");
        m.embedding = Some(vec![1.0, f32::NAN]);
        assert!(m.validate("").is_err());
    }

    #[test]
    fn times_are_kept_at_stored_precision() {
        let at: DateTime<Utc> = "2021-03-04T05:06:07.123456789Z".parse().unwrap();
        let mut n = new("x");
        n.occurred_at = Some(at);
        let m = Memory::from_new("1".into(), n, at);
        let micros: DateTime<Utc> = "2021-03-04T05:06:07.123456Z".parse().unwrap();
        assert_eq!(
            (m.occurred_at, m.created_at, m.updated_at),
            (micros, micros, micros)
        );
    }

    #[test]
    fn labels_are_a_set() {
        let l = normalize_labels(vec!["b".into(), " a".into(), "b".into()]);
        assert_eq!(l, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn empty_patch_is_refused_and_patch_reports_content_change() {
        assert!(MemoryPatch::default().validate().is_err());
        let now = Utc::now();
        let mut m = Memory::from_new("1".into(), new("old"), now);
        let p = MemoryPatch {
            importance: Some(0.9),
            ..Default::default()
        };
        assert!(!p.apply(&mut m, now));
        assert_eq!(m.importance, 0.9);
        let p = MemoryPatch {
            content: Some("new".into()),
            ..Default::default()
        };
        assert!(p.apply(&mut m, now));
        assert_eq!(m.content, "new");
    }
}
