//! Tool arguments: what a model may pass, described so it can choose values
//! well, and their translation into the engine's requests (the types the
//! REST API accepts, so both interfaces mean the same thing).
//!
//! Parsing errors are returned as [`ArgError`] so that the caller turns them
//! into tool errors the model can read and correct, never protocol failures.

use chrono::{DateTime, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use engram_core::conversation::ConversationSearch;
use engram_core::graph::GraphExpansion;
use engram_core::query::{ContextRequest, SearchRequest};
use engram_core::{Filter, Kind, MemoryPatch, NewMemory, SearchMode};

/// Arguments a tool refused, with the argument at fault when there is one.
#[derive(Debug, PartialEq)]
pub struct ArgError {
    pub field: Option<String>,
    pub message: String,
}

/// Parses a tool's arguments, naming the argument at fault. Names the
/// schema does not list are refused rather than ignored: a misspelt
/// `userId` silently dropped would widen a search or a delete to the whole
/// tenant.
pub fn parse<T: DeserializeOwned + JsonSchema + 'static>(
    args: Map<String, Value>,
) -> Result<T, ArgError> {
    let schema = rmcp::handler::server::tool::schema_for_type::<T>();
    let known: Vec<&str> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if let Some(unknown) = args.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ArgError {
            field: Some(unknown.clone()),
            message: format!(
                "unknown argument `{unknown}`; this tool takes: {}",
                known.join(", ")
            ),
        });
    }
    serde_path_to_error::deserialize(Value::Object(args)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if path == "." || path.is_empty() {
            // "missing field `query`": the name is in the message.
            message.split('`').nth(1).map(str::to_string)
        } else {
            Some(path)
        };
        ArgError {
            message: match &field {
                Some(f) if !message.contains(&format!("`{f}`")) => format!("{f}: {message}"),
                _ => message,
            },
            field,
        }
    })
}

// Fields with a hand-written schema are also `#[serde(default)]`: without
// it schemars lists them as required, and a model would think it must choose.
fn kind_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "null"],
        "enum": ["episodic", "semantic", "procedural", "summary", "reflection", null],
        "description": "episodic: something that happened (a message, an event); semantic: a lasting fact or preference; procedural: how to do something; summary: a condensation of other memories; reflection: an insight drawn from them."
    })
}

fn mode_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "null"],
        "enum": ["hybrid", "vector", "keyword", null],
        "description": "hybrid (default): meaning and exact words combined; vector: meaning only; keyword: exact words only (names, codes)."
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddMemory {
    /// The fact, preference or event to remember, as one self-contained
    /// statement that makes sense without the conversation around it
    /// ("Marta's dog is called Bruno", not "it is called Bruno").
    pub content: String,
    /// The end user this memory is about (e.g. "marta"). Use the same value
    /// on every call for the same person, so later searches find it.
    pub user_id: Option<String>,
    /// The agent that owns this memory, when several agents share a store.
    pub agent_id: Option<String>,
    /// The conversation or task this memory comes from.
    pub session_id: Option<String>,
    /// Who said it in a conversation: "user", "assistant", ...
    pub role: Option<String>,
    /// Short tags to filter on later (e.g. ["pets"]).
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(schema_with = "kind_schema")]
    pub kind: Option<Kind>,
    /// 0 to 1 (default 0.5): how much this memory matters; higher ranks
    /// first among equally relevant memories.
    pub importance: Option<f32>,
    /// When it happened (RFC 3339, e.g. "2024-05-01T09:30:00Z"); default now.
    pub occurred_at: Option<DateTime<Utc>>,
    /// Any JSON object to keep with the memory (source, ids of your own).
    pub metadata: Option<Map<String, Value>>,
    /// Extract lasting facts from it in the background with the server's
    /// LLM (they become memories of kind semantic, current ones replacing
    /// what they contradict). Needs an LLM configured on the server.
    pub infer: Option<bool>,
}

impl From<AddMemory> for NewMemory {
    fn from(a: AddMemory) -> NewMemory {
        NewMemory {
            content: a.content,
            kind: a.kind.unwrap_or_default(),
            user_id: a.user_id,
            agent_id: a.agent_id,
            session_id: a.session_id,
            role: a.role,
            labels: a.labels.unwrap_or_default(),
            metadata: a.metadata.unwrap_or_default(),
            importance: a.importance,
            occurred_at: a.occurred_at,
            embedding: None,
            valid_from: None,
            valid_to: None,
            sources: Vec::new(),
            infer: a.infer.unwrap_or(false),
        }
    }
}

/// Declares the arguments of a tool that reads a filtered part of the
/// tenant: its own fields, then the filter fields of REST's `filters`
/// object, flattened, and [`Filter`] built from them. (serde's `flatten`
/// would lose the name of a mistyped argument.)
macro_rules! filtered_args {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize, JsonSchema)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Only memories about this user. Pass it whenever you know the user.
            pub user_id: Option<String>,
            /// Only memories of this agent.
            pub agent_id: Option<String>,
            /// Only memories of this conversation or task.
            pub session_id: Option<String>,
            /// Only memories carrying all of these labels.
            pub labels: Option<Vec<String>>,
            #[serde(default)]
            #[schemars(schema_with = "kind_schema")]
            pub kind: Option<Kind>,
            /// Only memories that happened at or after this time (RFC 3339).
            pub after: Option<DateTime<Utc>>,
            /// Only memories that happened before this time (RFC 3339).
            pub before: Option<DateTime<Utc>>,
        }

        impl $name {
            pub fn filter(&self) -> Filter {
                Filter {
                    user_id: self.user_id.clone(),
                    agent_id: self.agent_id.clone(),
                    session_id: self.session_id.clone(),
                    kind: self.kind,
                    labels: self.labels.clone().unwrap_or_default(),
                    after: self.after,
                    before: self.before,
                    valid_at: None,
                    ..Default::default()
                }
            }
        }
    };
}

filtered_args! {
    pub struct SearchMemories {
        /// What to look for, in natural language: the user's question itself
        /// works well ("what is the name of Marta's dog?").
        pub query: String,
        /// How many results, 1 to 100 (default 10).
        pub limit: Option<usize>,
        #[serde(default)]
        #[schemars(schema_with = "mode_schema")]
        pub mode: Option<SearchMode>,
        /// Recall what was true at this time (RFC 3339) instead of now:
        /// facts since replaced or invalidated come back as they were.
        pub as_of: Option<DateTime<Utc>>,
        /// Also bring in memories linked through the knowledge graph to
        /// the people, places and things the query names, and to those
        /// up to this many hops (0 to 2) from them.
        pub graph_depth: Option<u32>,
    }
}

impl From<SearchMemories> for SearchRequest {
    fn from(a: SearchMemories) -> SearchRequest {
        SearchRequest {
            filters: a.filter(),
            query: a.query,
            limit: a.limit,
            mode: a.mode.unwrap_or_default(),
            embedding: None,
            as_of: a.as_of,
            include_archived: false,
            explain: false,
            graph: a.graph_depth.map(|d| GraphExpansion { depth: Some(d) }),
        }
    }
}

filtered_args! {
    pub struct GetContext {
        /// The question or task the context is for, in natural language.
        pub query: String,
        /// The most tokens the returned block may use, 1 to 100000 (default
        /// 1000). The block never exceeds it.
        pub token_budget: Option<usize>,
        /// Build the context from what was true at this time (RFC 3339)
        /// instead of now.
        pub as_of: Option<DateTime<Utc>>,
        /// Start with the best matching summary (of a session, a day, a
        /// week), then the details.
        pub lead_with_summary: Option<bool>,
        /// As in search_memories: also draw on the memories linked through
        /// the knowledge graph, up to this many hops (0 to 2).
        pub graph_depth: Option<u32>,
    }
}

impl From<GetContext> for ContextRequest {
    fn from(a: GetContext) -> ContextRequest {
        ContextRequest {
            filters: a.filter(),
            query: a.query,
            token_budget: a.token_budget,
            as_of: a.as_of,
            lead_with_summary: a.lead_with_summary.unwrap_or(false),
            include_archived: false,
            graph: a.graph_depth.map(|d| GraphExpansion { depth: Some(d) }),
        }
    }
}

filtered_args! {
    pub struct ListMemories {
        /// Page size, 1 to 1000 (default 50).
        pub limit: Option<usize>,
        /// The `next_cursor` of the previous page, to continue the listing.
        pub cursor: Option<String>,
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemoryId {
    /// The memory's id, as returned by add_memory, search_memories or
    /// list_memories.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateMemory {
    /// The memory's id.
    pub id: String,
    /// The corrected text (the memory is re-embedded).
    pub content: Option<String>,
    /// Replaces all labels.
    pub labels: Option<Vec<String>>,
    /// Replaces the metadata object.
    pub metadata: Option<Map<String, Value>>,
    /// 0 to 1.
    pub importance: Option<f32>,
    #[serde(default)]
    #[schemars(schema_with = "kind_schema")]
    pub kind: Option<Kind>,
    /// The fact stopped being true at this time (RFC 3339): it is kept,
    /// but searches for now leave it out. Use this when the user says
    /// something no longer holds.
    pub valid_to: Option<DateTime<Utc>>,
}

impl UpdateMemory {
    pub fn into_parts(self) -> (String, MemoryPatch) {
        (
            self.id,
            MemoryPatch {
                content: self.content,
                labels: self.labels,
                metadata: self.metadata,
                importance: self.importance,
                kind: self.kind,
                valid_from: None,
                valid_to: self.valid_to,
            },
        )
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteAll {
    /// Delete every memory of this user.
    pub user_id: Option<String>,
    /// Delete every memory of this agent.
    pub agent_id: Option<String>,
    /// Delete every memory of this conversation or task.
    pub session_id: Option<String>,
}

impl From<DeleteAll> for Filter {
    fn from(a: DeleteAll) -> Filter {
        Filter {
            user_id: a.user_id,
            agent_id: a.agent_id,
            session_id: a.session_id,
            ..Filter::default()
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListConversations {
    /// Only conversations with this label.
    pub label: Option<String>,
    /// Only conversations in this folder or below it (e.g. "work/clients").
    pub folder: Option<String>,
    /// Only pinned (true) or unpinned (false) conversations.
    pub pinned: Option<bool>,
    /// Only archived (true) or active (false) conversations.
    pub archived: Option<bool>,
    /// Only this user's conversations.
    pub user_id: Option<String>,
    /// Text the title contains.
    pub title: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page, to continue the listing.
    pub cursor: Option<String>,
}

impl From<ListConversations> for engram_engine::conversations::ListConversations {
    fn from(a: ListConversations) -> Self {
        engram_engine::conversations::ListConversations {
            label: a.label,
            folder: a.folder,
            pinned: a.pinned,
            archived: a.archived,
            user_id: a.user_id,
            q: a.title,
            limit: a.limit,
            cursor: a.cursor,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchConversations {
    /// What to look for, in natural language.
    pub query: String,
    /// How many messages, 1 to 100 (default 10).
    pub limit: Option<usize>,
    #[serde(default)]
    #[schemars(schema_with = "mode_schema")]
    pub mode: Option<SearchMode>,
    /// Search only this conversation (its id from list_conversations).
    pub conversation_id: Option<String>,
    /// Search only conversations in this folder or below it.
    pub folder: Option<String>,
    /// Search only conversations with this label.
    pub label: Option<String>,
    /// Also search archived conversations (left out by default).
    pub include_archived: Option<bool>,
}

impl From<SearchConversations> for ConversationSearch {
    fn from(a: SearchConversations) -> ConversationSearch {
        ConversationSearch {
            query: a.query,
            limit: a.limit,
            mode: a.mode.unwrap_or_default(),
            conversation_id: a.conversation_id,
            folder: a.folder,
            label: a.label,
            include_archived: a.include_archived.unwrap_or(false),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadConversation {
    /// The conversation's id, from list_conversations or a message's session_id.
    pub id: String,
    /// Messages per page, 1 to 1000 (default 50), oldest first.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page, to read on.
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_missing_required_argument_is_named() {
        let err = parse::<SearchMemories>(args(json!({ "user_id": "marta" }))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("query"));
        assert!(err.message.contains("query"), "{}", err.message);
    }

    #[test]
    fn a_wrongly_typed_argument_is_named() {
        let err = parse::<AddMemory>(args(json!({ "content": "x", "user_id": 5 }))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("user_id"));
        assert!(err.message.starts_with("user_id: "), "{}", err.message);
        let err =
            parse::<SearchMemories>(args(json!({ "query": "q", "limit": "ten" }))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("limit"));
        let err =
            parse::<AddMemory>(args(json!({ "content": "x", "labels": ["a", 1] }))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("labels[1]"));
    }

    #[test]
    fn an_unknown_argument_is_refused_and_the_known_ones_listed() {
        let err = parse::<DeleteAll>(args(json!({ "userId": "marta" }))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("userId"));
        for known in ["user_id", "agent_id", "session_id"] {
            assert!(err.message.contains(known), "{}", err.message);
        }
    }

    #[test]
    fn bad_enum_and_time_values_are_refused() {
        let err = parse::<AddMemory>(args(json!({ "content": "x", "kind": "fact" }))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("kind"));
        assert!(err.message.contains("semantic"), "{}", err.message);
        let err = parse::<SearchMemories>(args(json!({ "query": "q", "after": "yesterday" })))
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("after"));
    }

    #[test]
    fn nulls_mean_absent() {
        let a: AddMemory = parse(args(json!({
            "content": "x", "user_id": null, "labels": null, "kind": null, "metadata": null
        })))
        .unwrap();
        let m = NewMemory::from(a);
        assert_eq!(
            (m.user_id, m.labels.len(), m.kind),
            (None, 0, Kind::Episodic)
        );
    }

    #[test]
    fn arguments_mirror_the_rest_requests() {
        let a: SearchMemories = parse(args(json!({
            "query": "dog", "user_id": "marta", "labels": ["pets"], "kind": "semantic",
            "limit": 3, "mode": "keyword", "after": "2024-01-01T00:00:00Z"
        })))
        .unwrap();
        let r = SearchRequest::from(a);
        assert_eq!(r.limit, Some(3));
        assert_eq!(r.mode, SearchMode::Keyword);
        assert_eq!(r.filters.user_id.as_deref(), Some("marta"));
        assert_eq!(r.filters.labels, ["pets"]);
        assert_eq!(r.filters.kind, Some(Kind::Semantic));
        assert!(r.filters.after.is_some());

        let c = ContextRequest::from(
            parse::<GetContext>(args(json!({ "query": "dog", "token_budget": 200 }))).unwrap(),
        );
        assert_eq!((c.token_budget, c.filters.is_empty()), (Some(200), true));

        let (id, patch) = parse::<UpdateMemory>(args(json!({ "id": "m1", "importance": 0.9 })))
            .unwrap()
            .into_parts();
        assert_eq!((id.as_str(), patch.importance), ("m1", Some(0.9)));

        let f = Filter::from(parse::<DeleteAll>(args(json!({ "session_id": "s" }))).unwrap());
        assert!(f.has_scope());
        let f = Filter::from(parse::<DeleteAll>(Map::new()).unwrap());
        assert!(!f.has_scope(), "the engine refuses an unscoped delete");
    }

    #[test]
    fn every_schema_is_an_object_with_described_properties() {
        for schema in [
            schemars::schema_for!(AddMemory),
            schemars::schema_for!(SearchMemories),
            schemars::schema_for!(GetContext),
            schemars::schema_for!(ListMemories),
            schemars::schema_for!(UpdateMemory),
            schemars::schema_for!(DeleteAll),
            schemars::schema_for!(MemoryId),
        ] {
            assert_eq!(schema.get("type"), Some(&json!("object")));
            for (name, prop) in schema.get("properties").unwrap().as_object().unwrap() {
                assert!(
                    prop.get("description").and_then(Value::as_str).is_some(),
                    "property {name} has no description: {prop}"
                );
            }
        }
    }
}
