//! The knowledge graph's vocabulary (docs/GRAPH.md): entities (people,
//! places, things named in memories), the relations between them over
//! time, and the graph option of a search.
//!
//! An entity row that entity resolution judged to be another entity is
//! kept, `merged_into` that one, instead of being folded into it: what it
//! brought (its name, mentions and relations) stays attached to it, so a
//! merge is undone by clearing one field, and every read sees the merged
//! rows through their canonical entity.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::memory::validate_id;
use crate::{Error, Result};

/// Longest entity name or predicate kept; a longer span is not a name.
pub const MAX_NAME_CHARS: usize = 120;
/// Deepest neighbourhood served: two hops already reach most of a small
/// graph, and each hop multiplies the rows a walk visits.
pub const MAX_DEPTH: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entity {
    pub id: String,
    pub name: String,
    /// `person`, `place`, `organization`, `email`, `url`, `mention`,
    /// `thing`, ... (free text from the LLM; fixed words from the rules).
    #[serde(rename = "type")]
    pub kind: String,
    /// Other names it is known by (exact matches resolve to it).
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// The user whose memories it was found in (entities are resolved
    /// within one user's scope; erasing the user erases them).
    pub user_id: Option<String>,
    /// The entity resolution merged this one into; `None` for a
    /// canonical entity.
    pub merged_into: Option<String>,
    /// Why it was merged: `alias` or `embedding <cosine>`.
    pub merge_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `subject predicate object`, true from `valid_from` until `valid_to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Relation {
    pub id: String,
    pub subject_id: String,
    pub predicate: String,
    pub object_id: String,
    pub valid_from: Option<DateTime<Utc>>,
    /// Set when a later relation contradicted this one; never deleted for it.
    pub valid_to: Option<DateTime<Utc>>,
    /// The memories it was extracted from.
    pub sources: Vec<String>,
    pub user_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Relation {
    /// Whether it held at `at` (`valid_from` inclusive, `valid_to` exclusive).
    pub fn holds_at(&self, at: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|f| f <= at) && self.valid_to.is_none_or(|t| t > at)
    }
}

/// A relation with the names of its ends, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RelationView {
    pub relation: Relation,
    pub subject: String,
    pub object: String,
}

/// One page of `GET /v1/entities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EntityPage {
    pub items: Vec<Entity>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/entities/{id}`: the entity (aliases including the names of
/// the entities merged into it), those merged entities (each can be
/// unmerged), its relations holding now, and the memories mentioning it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EntityDetail {
    pub entity: Entity,
    pub merged: Vec<Entity>,
    pub relations: Vec<RelationView>,
    /// Ids of the memories mentioning it, newest first (at most 100).
    pub sources: Vec<String>,
}

/// An entity of a neighbourhood, and its distance in hops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Neighbor {
    pub entity: Entity,
    pub depth: u32,
}

/// `GET /v1/entities/{id}/neighbors`: the entities within `depth` hops
/// (the entity itself at depth 0) and the relations among them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Neighborhood {
    pub items: Vec<Neighbor>,
    pub relations: Vec<RelationView>,
}

/// `GET /v1/entities/{id}/relations`: what held at a time, or every version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RelationList {
    pub items: Vec<RelationView>,
}

/// A page of the entity listing.
#[derive(Debug, Clone, Default)]
pub struct EntityQuery {
    /// Entities whose name or an alias contains this (normalized).
    pub name: Option<String>,
    pub kind: Option<String>,
    pub user_id: Option<String>,
    /// Resume after this id (ids sort in creation order).
    pub after: Option<String>,
    pub limit: usize,
}

/// The `graph` option of `/v1/search` and `/v1/context`: also bring in
/// the memories linked to the query's entities and to their neighbours up
/// to `depth` hops away, fused with the hybrid ranking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphExpansion {
    /// 0 (only the query's own entities), 1 or 2; default 1.
    #[serde(default)]
    pub depth: Option<u32>,
}

impl GraphExpansion {
    pub fn depth(&self) -> u32 {
        self.depth.unwrap_or(1)
    }

    pub fn validate(&self) -> Result<()> {
        if self.depth() > MAX_DEPTH {
            return Err(Error::invalid(
                "graph.depth",
                format!("must be 0 to {MAX_DEPTH}"),
            ));
        }
        Ok(())
    }
}

/// The key a name is matched by: lower case, inner spaces single, edge
/// punctuation and a possessive `'s` dropped ("Bob's" and "bob" are one).
pub fn name_key(name: &str) -> String {
    let words: Vec<String> = name.split_whitespace().map(|w| w.to_lowercase()).collect();
    let mut key = words.join(" ");
    for suffix in ["'s", "\u{2019}s"] {
        if let Some(k) = key.strip_suffix(suffix) {
            key = k.to_string();
        }
    }
    key.trim_matches(|c: char| !c.is_alphanumeric() && c != '@')
        .to_string()
}

/// Checks a name or predicate the way every field is checked: present and
/// bounded.
pub fn validate_name(v: &str, field: &str) -> Result<()> {
    validate_id(v.trim(), field)?;
    if v.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            field,
            format!("is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Predicates an entity holds one object of at a time: a new object
/// closes the old relation (`valid_to`) instead of standing beside it.
/// The LLM may also mark a predicate single-valued in its answer.
pub const SINGLE_VALUED: &[&str] = &[
    "lives_in",
    "works_at",
    "works_for",
    "married_to",
    "partner_of",
    "employed_by",
    "located_in",
    "born_in",
    "age",
    "job",
    "job_title",
    "role",
    "status",
    "manager",
    "reports_to",
];

/// A predicate as stored: lower snake case ("Lives in" is `lives_in`).
pub fn predicate_key(p: &str) -> String {
    p.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("_")
}

pub fn is_single_valued(predicate: &str) -> bool {
    SINGLE_VALUED.contains(&predicate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_regardless_of_case_spacing_and_possessive() {
        assert_eq!(name_key("  Bob   Smith's "), "bob smith");
        assert_eq!(name_key("\"Lisbon,\""), "lisbon");
        assert_eq!(name_key("@alice"), "@alice");
        assert_eq!(predicate_key("Lives in"), "lives_in");
        assert_eq!(predicate_key("works-at"), "works_at");
    }

    #[test]
    fn depth_is_bounded() {
        assert!(GraphExpansion { depth: Some(3) }.validate().is_err());
        assert_eq!(GraphExpansion::default().depth(), 1);
        assert!(GraphExpansion { depth: Some(0) }.validate().is_ok());
    }
}
