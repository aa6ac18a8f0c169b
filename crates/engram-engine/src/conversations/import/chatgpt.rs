//! ChatGPT's `conversations.json`: an array of conversations, each a
//! `mapping` of nodes (`{id, message, parent, children}`) forming a tree:
//! an edited or regenerated turn starts a sibling branch. What the user
//! last saw is the branch from `current_node` up its parents to the root;
//! only it is imported, root first. As ChatGPT's own view does, nodes
//! without a message, system messages, and messages marked
//! `is_visually_hidden_from_conversation` (or holding the user's custom
//! instructions) are left out and counted as skipped.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use engram_core::Result;
use engram_core::conversation::Role;

use super::{Source, after, epoch, malformed, typed};

#[derive(Deserialize)]
struct Conversation {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    create_time: Option<f64>,
    #[serde(default)]
    update_time: Option<f64>,
    mapping: HashMap<String, Node>,
    #[serde(default)]
    current_node: Option<String>,
}

#[derive(Deserialize)]
struct Node {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    children: Vec<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    id: Option<String>,
    author: Author,
    #[serde(default)]
    create_time: Option<f64>,
    content: Content,
    #[serde(default)]
    metadata: Map<String, Value>,
}

#[derive(Deserialize)]
struct Author {
    role: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    content_type: String,
    #[serde(default)]
    parts: Vec<Value>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    result: Option<String>,
}

/// Content types that hold settings, not conversation.
const HIDDEN_CONTENT: &[&str] = &["user_editable_context", "model_editable_context"];

/// The `i`th conversation of the file.
pub(super) fn parse(i: usize, v: Value) -> Result<Source> {
    let at = format!("conversations[{i}]");
    let c: Conversation = typed(&at, v)?;
    let Some(id) = c.conversation_id.clone().or(c.id.clone()) else {
        return Err(malformed(at, "has neither id nor conversation_id"));
    };
    let at = format!("conversations[{i}] (id {id})");
    let mut src = Source::new(at.clone(), id, c.title.clone());
    src.created_at = c.create_time.and_then(epoch);
    src.updated_at = c.update_time.and_then(epoch);
    let mut previous = src.created_at;
    for node_id in branch(&at, &c)? {
        let Some(m) = &c.mapping[&node_id].message else {
            continue;
        };
        let hidden = m
            .metadata
            .get("is_visually_hidden_from_conversation")
            .and_then(Value::as_bool)
            == Some(true);
        let role = match m.author.role.as_str() {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            _ => None,
        };
        let (Some(role), false) = (
            role,
            hidden || HIDDEN_CONTENT.contains(&m.content.content_type.as_str()),
        ) else {
            src.skipped += 1;
            continue;
        };
        let occurred_at = m.create_time.and_then(epoch).or_else(|| after(previous));
        previous = occurred_at;
        let (text, attachments) = text_of(&m.content);
        let mut metadata = Map::new();
        metadata.insert("source".into(), "chatgpt".into());
        metadata.insert("source_id".into(), node_id.clone().into());
        if let Some(model) = m.metadata.get("model_slug") {
            metadata.insert("model".into(), model.clone());
        }
        if let Some(name) = &m.author.name {
            metadata.insert("author".into(), name.clone().into());
        }
        let mut files: Vec<Value> = attachments;
        if let Some(Value::Array(list)) = m.metadata.get("attachments") {
            files.extend(list.iter().filter_map(|a| a.get("name").cloned()));
        }
        if !files.is_empty() {
            metadata.insert("attachments".into(), Value::Array(files));
        }
        let message_id = m.id.clone().unwrap_or_else(|| node_id.clone());
        src.push(message_id, role, &text, occurred_at, metadata);
    }
    Ok(src)
}

/// The live branch's node ids, root first: from `current_node` up the
/// parents; without one, from the root down the last child each time
/// (the newest edit).
fn branch(at: &str, c: &Conversation) -> Result<Vec<String>> {
    let leaf = match &c.current_node {
        Some(n) if c.mapping.contains_key(n) => n.clone(),
        Some(n) => {
            return Err(malformed(
                format!("{at}.current_node"),
                format!("names node {n}, which is not in mapping"),
            ));
        }
        None => newest_leaf(at, c)?,
    };
    let mut path = vec![leaf];
    loop {
        let node = path.last().expect("never empty");
        let Some(parent) = &c.mapping[node].parent else {
            break;
        };
        if !c.mapping.contains_key(parent) {
            return Err(malformed(
                format!("{at}.mapping.{node}.parent"),
                format!("names node {parent}, which is not in mapping"),
            ));
        }
        if path.len() > c.mapping.len() {
            return Err(malformed(
                format!("{at}.mapping.{node}"),
                "the parents form a cycle",
            ));
        }
        path.push(parent.clone());
    }
    path.reverse();
    Ok(path)
}

fn newest_leaf(at: &str, c: &Conversation) -> Result<String> {
    let mut roots: Vec<&String> = c
        .mapping
        .iter()
        .filter(|(_, n)| n.parent.is_none())
        .map(|(id, _)| id)
        .collect();
    roots.sort();
    let Some(mut node) = roots.first().copied() else {
        return Err(malformed(
            format!("{at}.mapping"),
            "has no root node (one without a parent)",
        ));
    };
    for _ in 0..=c.mapping.len() {
        match c.mapping[node].children.last() {
            Some(child) if c.mapping.contains_key(child) => node = child,
            _ => return Ok(node.clone()),
        }
    }
    Err(malformed(
        format!("{at}.mapping.{node}"),
        "the children form a cycle",
    ))
}

/// The message's text, and the kinds of its non-text parts (images,
/// files), which are kept as metadata.
fn text_of(c: &Content) -> (String, Vec<Value>) {
    let mut texts = Vec::new();
    let mut others = Vec::new();
    for p in &c.parts {
        match p {
            Value::String(s) => texts.push(s.clone()),
            Value::Object(o) => {
                if let Some(Value::String(t)) = o.get("text") {
                    texts.push(t.clone());
                } else {
                    others.push(o.get("content_type").cloned().unwrap_or(Value::Null));
                }
            }
            _ => {}
        }
    }
    texts.extend(c.text.clone());
    texts.extend(c.result.clone());
    (texts.join("\n"), others)
}
