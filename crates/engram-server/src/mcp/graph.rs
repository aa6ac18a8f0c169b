//! The knowledge graph's tools (docs/GRAPH.md): look an entity up by name
//! with what is known of it, and the history of its relations. Their
//! arguments, how a call becomes engine calls, and how the answer reads.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use engram_core::Result;
use engram_core::graph::{EntityDetail, RelationView};
use engram_engine::Engine;
use engram_engine::graph::EntityListing;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LookupEntity {
    /// The name (or part of it) of the person, place, organization or
    /// thing, as the user wrote it ("Marta", "Lisbon").
    pub name: String,
    /// Only entities found in this user's memories.
    pub user_id: Option<String>,
    /// Only entities of this type (person, place, organization, ...).
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EntityRelations {
    /// The entity's id, from lookup_entity.
    pub id: String,
    /// What held at this time (RFC 3339) instead of now.
    pub as_of: Option<DateTime<Utc>>,
    /// Every version instead, with when each held.
    pub all: Option<bool>,
}

/// Entities a lookup shows, each with its relations.
const LOOKUP_LIMIT: usize = 5;

fn day(t: Option<DateTime<Utc>>, open: &str) -> String {
    t.map_or(open.to_string(), |t| t.format("%Y-%m-%d").to_string())
}

fn relation_line(r: &RelationView) -> String {
    format!(
        "  {} {} {} (valid {} to {})",
        r.subject,
        r.relation.predicate,
        r.object,
        day(r.relation.valid_from, "always"),
        day(r.relation.valid_to, "now")
    )
}

fn entity_text(d: &EntityDetail) -> String {
    let e = &d.entity;
    let mut lines = vec![format!(
        "{} ({}) {}{}, mentioned in {} memories",
        e.name,
        e.kind,
        e.id,
        if e.aliases.is_empty() {
            String::new()
        } else {
            format!(", also known as {}", e.aliases.join(", "))
        },
        d.sources.len()
    )];
    lines.extend(d.relations.iter().map(relation_line));
    lines.join("\n")
}

/// `lookup_entity`: the best matches and what is known of each.
pub async fn lookup(
    engine: &Engine,
    tenant: &str,
    a: LookupEntity,
) -> Result<(String, serde_json::Value)> {
    let page = engine
        .list_entities(
            tenant,
            EntityListing {
                name: Some(a.name.clone()),
                kind: a.kind,
                user_id: a.user_id,
                limit: Some(LOOKUP_LIMIT),
                cursor: None,
            },
        )
        .await?;
    let mut details = Vec::with_capacity(page.items.len());
    for e in &page.items {
        details.push(engine.entity(tenant, &e.id).await?);
    }
    let text = if details.is_empty() {
        format!("No entity named like \"{}\" is known.", a.name)
    } else {
        details
            .iter()
            .map(entity_text)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok((text, json!({ "items": details })))
}

/// `entity_relations`: what held when.
pub async fn relations(
    engine: &Engine,
    tenant: &str,
    a: EntityRelations,
) -> Result<(String, serde_json::Value)> {
    let list = engine
        .entity_relations(tenant, &a.id, a.as_of, a.all.unwrap_or(false))
        .await?;
    let text = if list.items.is_empty() {
        "No relations.".to_string()
    } else {
        list.items
            .iter()
            .map(relation_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok((
        text,
        serde_json::to_value(&list).map_err(engram_core::Error::internal)?,
    ))
}
