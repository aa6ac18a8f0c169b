//! What was true when: the validity and lineage of a memory.
//!
//! A fact (kind `semantic`), summary or reflection can say when it held
//! (`valid_from`, `valid_to`), which memories it came from (`sources`) and
//! which version of a fact it is. Nothing is overwritten: a new version of
//! a fact keeps the fact's id and the earlier state is kept as a memory of
//! its own (`version_of` the fact, `valid_to` the time of the change); an
//! invalidated fact only gets a `valid_to`. Searches ask for what is valid
//! at one instant (now by default, `as_of` for the past), so both the
//! current state and any earlier one can be recalled (docs/FACTS.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::memory::{stored_time, validate_id};
use crate::{Error, Result};

/// Most memories one memory may cite: a daily roll-up cites its day's
/// summaries, not every message, so a few hundred is ample.
pub const MAX_SOURCES: usize = 256;

/// The validity and lineage fields of a [`crate::Memory`]. Every field
/// defaults, so records written before facts existed (and their backups)
/// read back as always valid, uncited, version 1.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Temporal {
    /// Valid from this time (inclusive); absent: since always.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// Valid until this time (exclusive); absent: still valid.
    #[serde(default)]
    pub valid_to: Option<DateTime<Utc>>,
    /// Ids of the memories this one was derived from.
    #[serde(default)]
    pub sources: Vec<String>,
    /// 1 for a memory as first written; each new version of a fact adds one.
    #[serde(default = "first_version")]
    pub version: u32,
    /// Set on an earlier version of a fact: the id of the fact (which
    /// holds the current version).
    #[serde(default)]
    pub version_of: Option<String>,
}

fn first_version() -> u32 {
    1
}

impl Default for Temporal {
    fn default() -> Temporal {
        Temporal {
            valid_from: None,
            valid_to: None,
            sources: Vec::new(),
            version: 1,
            version_of: None,
        }
    }
}

impl Temporal {
    /// Whether the memory held at `t`: `valid_from <= t < valid_to`, a
    /// missing bound being open.
    pub fn valid_at(&self, t: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|f| f <= t) && self.valid_to.is_none_or(|u| t < u)
    }

    /// Stored precision for both bounds.
    pub fn at_stored_precision(mut self) -> Temporal {
        self.valid_from = self.valid_from.map(stored_time);
        self.valid_to = self.valid_to.map(stored_time);
        self
    }
}

/// A validity range must not be empty: `valid_to` after `valid_from`.
pub fn validate_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    field: &str,
) -> Result<()> {
    if let (Some(f), Some(t)) = (from, to)
        && t <= f
    {
        return Err(Error::invalid(
            field,
            "must be later than valid_from (a fact valid for no time at all was never true)",
        ));
    }
    Ok(())
}

pub fn validate_sources(sources: &[String], field: &str) -> Result<()> {
    if sources.len() > MAX_SOURCES {
        return Err(Error::invalid(
            field,
            format!(
                "cites {} memories; the limit is {MAX_SOURCES}: cite the summaries that cover them instead",
                sources.len()
            ),
        ));
    }
    for (i, s) in sources.iter().enumerate() {
        validate_id(s, &format!("{field}[{i}]"))?;
    }
    Ok(())
}

/// `POST /v1/memories/{id}/versions`: the world changed, so the fact gets a
/// new version; the current state is kept as an earlier version.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    /// The fact as it now holds.
    pub content: String,
    /// When the change happened; default now. The earlier version is valid
    /// until then, this one from then.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// Memories the new version was learned from (added to none: a version
    /// cites what it came from).
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub importance: Option<f32>,
}

/// `GET /v1/memories/{id}/history`: every version of a fact, oldest first,
/// the current one last.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct History {
    pub versions: Vec<crate::Memory>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn validity_is_half_open_and_open_ended() {
        let t = Temporal {
            valid_from: Some(at(10)),
            valid_to: Some(at(20)),
            ..Default::default()
        };
        assert!(!t.valid_at(at(9)));
        assert!(t.valid_at(at(10)));
        assert!(t.valid_at(at(19)));
        assert!(!t.valid_at(at(20)), "valid_to is exclusive");
        assert!(Temporal::default().valid_at(at(0)));
    }

    #[test]
    fn empty_ranges_and_bad_sources_name_the_field() {
        let e = validate_range(Some(at(5)), Some(at(5)), "valid_to").unwrap_err();
        assert_eq!(e.field(), Some("valid_to"));
        assert!(validate_range(Some(at(5)), None, "valid_to").is_ok());
        let e = validate_sources(&["a".into(), String::new()], "sources").unwrap_err();
        assert_eq!(e.field(), Some("sources[1]"));
        let many = vec!["x".to_string(); MAX_SOURCES + 1];
        assert!(validate_sources(&many, "sources").is_err());
    }

    #[test]
    fn old_records_read_back_as_version_one() {
        let t: Temporal = serde_json::from_str("{}").unwrap();
        assert_eq!(t, Temporal::default());
        assert_eq!(t.version, 1);
    }
}
