//! Entity and relation extraction with the LLM (structured output): a
//! few messages of one user per call, each named entity resolved
//! (`resolve.rs`) and linked to the messages naming it, each relation
//! added from the time of the messages; a relation of a single-valued
//! predicate with a new object closes the one it contradicts
//! (`valid_to`), never deletes it.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Value, json};

use engram_core::graph::{
    MAX_NAME_CHARS, Relation, is_single_valued, name_key, predicate_key, validate_name,
};
use engram_core::{Memory, Result};
use engram_llm::Prompt;

use super::resolve::GENERIC;
// As for facts: a few messages a call, so the answer (~30 tokens an
// entity or relation) fits its output budget.
use crate::Engine;
use crate::intelligence::extract::{MAX_TOKENS, MESSAGES_PER_CALL};

pub const GRAPH_PROMPT: &str = "graph";
pub const GRAPH_VERSION: u32 = 1;
pub const GRAPH_SYSTEM: &str = "You build a knowledge graph from chat messages. List the named \
entities the messages mention (people, places, organizations, pets, products, events) with a \
type (person, place, organization, pet, product, event or thing), and the relations the messages \
state between two of them as subject, predicate, object. Predicates are short snake_case verbs \
such as lives_in, works_at, sister_of, friend_of, likes, visited, owns. Name the speaker as \
given after \"Person:\". The subject is who or what the predicate is about: \
Person: Ann, message \"I moved to Oslo\" -> {\"subject\": \"Ann\", \"predicate\": \"lives_in\", \
\"object\": \"Oslo\", \"single_valued\": true}. Set single_valued to true when the subject holds \
one object of the predicate at a time (lives_in, works_at, married_to). Ignore greetings and \
small talk. Answer with JSON only.";

pub static GRAPH_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "type": "object",
        "properties": {
            "entities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": { "type": "string" },
                        "type": { "type": "string" }
                    },
                    "required": ["name", "type"]
                }
            },
            "relations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "subject": { "type": "string" },
                        "predicate": { "type": "string" },
                        "object": { "type": "string" },
                        "single_valued": { "type": "boolean" }
                    },
                    "required": ["subject", "predicate", "object", "single_valued"]
                }
            }
        },
        "required": ["entities", "relations"]
    })
});

/// Entities and relations kept from one answer.
const MAX_ITEMS: usize = 16;
const MAX_TYPE_CHARS: usize = 40;

/// What one LLM extraction did, kept as its job's result.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct GraphExtraction {
    pub prompt: String,
    /// Entities created (merged ones included).
    pub created: Vec<String>,
    pub relations: Vec<String>,
    /// Relations closed by a contradicting one.
    pub closed: Vec<String>,
    /// Items dropped: empty or oversized names, a relation of a thing to
    /// itself, more than 16 of a kind.
    pub ignored: usize,
    /// Calls whose answer held no JSON object.
    pub unparsed: usize,
    /// Relations written with a place or an organization as subject and a
    /// person as object, turned the right way round.
    pub reversed: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub messages: usize,
    pub answers: Vec<Value>,
}

fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| validate_name(s, field).is_ok())
}

fn entity_type(v: &Value) -> String {
    let t = v
        .get("type")
        .and_then(Value::as_str)
        .map(|t| t.trim().to_lowercase())
        .unwrap_or_default();
    if t.is_empty() || t.chars().count() > MAX_TYPE_CHARS {
        "thing".to_string()
    } else {
        t
    }
}

/// The relation's ends the right way round, and whether they were
/// swapped: a small model sometimes writes "Porto lives_in Alice", and a
/// place or an organization is not the subject of what a person does.
fn oriented<'a>(
    subject: &'a str,
    object: &'a str,
    types: &HashMap<String, String>,
) -> (&'a str, &'a str, bool) {
    let kind = |n: &str| types.get(&name_key(n)).map(String::as_str);
    if matches!(kind(subject), Some("place" | "organization")) && kind(object) == Some("person") {
        (object, subject, true)
    } else {
        (subject, object, false)
    }
}

impl Engine {
    /// Extracts entities and relations from the memories `ids` (those that
    /// still exist), one call per few messages of one user.
    pub async fn extract_graph(
        &self,
        tenant: &str,
        project: Option<&str>,
        ids: &[String],
    ) -> Result<GraphExtraction> {
        let mut sources: Vec<Memory> = self
            .store
            .get_records(tenant, ids)
            .await?
            .into_iter()
            .map(|r| r.memory)
            .collect();
        sources.sort_by_key(|m| (m.user_id.clone(), m.occurred_at, m.id.clone()));
        let mut report = GraphExtraction {
            prompt: format!("{GRAPH_PROMPT}/{GRAPH_VERSION}"),
            messages: sources.len(),
            ..Default::default()
        };
        let mut start = 0;
        while start < sources.len() {
            let user = sources[start].user_id.clone();
            let end = sources[start..]
                .iter()
                .take(MESSAGES_PER_CALL)
                .take_while(|m| m.user_id == user)
                .count();
            self.extract_graph_chunk(tenant, project, &sources[start..start + end], &mut report)
                .await?;
            start += end;
        }
        Ok(report)
    }

    async fn extract_graph_chunk(
        &self,
        tenant: &str,
        project: Option<&str>,
        messages: &[Memory],
        report: &mut GraphExtraction,
    ) -> Result<()> {
        let Some(last) = messages.last() else {
            return Ok(());
        };
        let user = last.user_id.as_deref();
        let lines: Vec<String> = messages
            .iter()
            .map(|m| {
                let who = m.role.as_deref().or(m.user_id.as_deref()).unwrap_or("user");
                format!("{who}: {}", m.content)
            })
            .collect();
        let prompt = Prompt {
            name: GRAPH_PROMPT,
            version: GRAPH_VERSION,
            system: GRAPH_SYSTEM,
            user: format!(
                "Person: {}\nMessages:\n{}",
                user.unwrap_or("the user"),
                lines.join("\n")
            ),
            schema: Some(&GRAPH_SCHEMA),
            max_tokens: MAX_TOKENS,
        };
        let reply = self.ask(tenant, project, &prompt).await?;
        report.input_tokens += reply.usage.input_tokens;
        report.output_tokens += reply.usage.output_tokens;
        report.unparsed += usize::from(reply.json.is_none());
        let answer = reply.json.clone().unwrap_or_else(|| json!(reply.text));
        let list = |field: &str| -> Vec<Value> {
            answer
                .get(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (entities, relations) = (list("entities"), list("relations"));
        report.ignored += entities.len().saturating_sub(MAX_ITEMS);
        report.ignored += relations.len().saturating_sub(MAX_ITEMS);
        // Name key -> entity id, for the relations' ends, and -> the type
        // the answer gave it.
        let mut ids: HashMap<String, String> = HashMap::new();
        let types: HashMap<String, String> = entities
            .iter()
            .filter_map(|e| Some((name_key(text(e, "name")?), entity_type(e))))
            .collect();
        let mut links = Vec::new();
        let sources: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
        for item in entities.iter().take(MAX_ITEMS) {
            let Some(name) = text(item, "name") else {
                report.ignored += 1;
                continue;
            };
            let r = self
                .resolve_entity(tenant, user, name, &entity_type(item), &[])
                .await?;
            if r.created {
                report.created.push(r.entity.id.clone());
            }
            // Linked to the messages naming it; to all, when the LLM
            // named it otherwise than they do.
            let key = name_key(name);
            let naming: Vec<&Memory> = messages
                .iter()
                .filter(|m| m.content.to_lowercase().contains(&key))
                .collect();
            let naming = if naming.is_empty() {
                messages.iter().collect()
            } else {
                naming
            };
            for m in naming {
                links.push((r.entity.id.clone(), m.id.clone()));
            }
            ids.insert(key, r.entity.id);
        }
        for item in relations.iter().take(MAX_ITEMS) {
            let (Some(subject), Some(object)) = (text(item, "subject"), text(item, "object"))
            else {
                report.ignored += 1;
                continue;
            };
            let predicate = item
                .get("predicate")
                .and_then(Value::as_str)
                .map(predicate_key)
                .unwrap_or_default();
            if predicate.is_empty()
                || predicate.chars().count() > MAX_NAME_CHARS
                || name_key(subject) == name_key(object)
            {
                report.ignored += 1;
                continue;
            }
            let (subject, object, reversed) = oriented(subject, object, &types);
            report.reversed += usize::from(reversed);
            let mut ends = Vec::with_capacity(2);
            for name in [subject, object] {
                let key = name_key(name);
                let id = match ids.get(&key) {
                    Some(id) => id.clone(),
                    None => {
                        let r = self
                            .resolve_entity(tenant, user, name, GENERIC, &[])
                            .await?;
                        if r.created {
                            report.created.push(r.entity.id.clone());
                        }
                        for m in messages {
                            links.push((r.entity.id.clone(), m.id.clone()));
                        }
                        ids.insert(key, r.entity.id.clone());
                        r.entity.id
                    }
                };
                ends.push(id);
            }
            let single = is_single_valued(&predicate)
                || item.get("single_valued").and_then(Value::as_bool) == Some(true);
            let relation = Relation {
                id: uuid::Uuid::now_v7().to_string(),
                subject_id: ends[0].clone(),
                predicate,
                object_id: ends[1].clone(),
                valid_from: Some(last.occurred_at),
                valid_to: None,
                sources: sources.clone(),
                user_id: user.map(str::to_string),
                created_at: chrono::Utc::now(),
            };
            let added = self.store.add_relation(tenant, &relation, single).await?;
            report.relations.push(added.id);
            report.closed.extend(added.closed);
        }
        if !links.is_empty() {
            self.store.link_mentions(tenant, &links).await?;
        }
        report.answers.push(answer);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_living_in_a_person_is_turned_round() {
        let types: HashMap<String, String> = [("alice", "person"), ("porto", "place")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        assert_eq!(oriented("Porto", "alice", &types), ("alice", "Porto", true));
        assert_eq!(
            oriented("Alice", "Porto", &types),
            ("Alice", "Porto", false)
        );
        assert_eq!(
            oriented("Porto", "Lisbon", &types),
            ("Porto", "Lisbon", false)
        );
    }
}
