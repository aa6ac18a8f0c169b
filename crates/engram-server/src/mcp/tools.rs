//! The tools: how a model sees them (name, description, schema,
//! hints), the scope each needs, and how a call becomes an engine call.
//!
//! Everything that goes wrong inside a known tool (bad arguments, a missing
//! memory, a key without the scope) is a tool error the model can read and
//! act on; only an unknown tool name is a protocol error.

use std::sync::Arc;
use std::time::Instant;

use rmcp::ErrorData;
use rmcp::handler::server::tool::schema_for_input;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde::Serialize;
use serde_json::{Map, Value, json};

use engram_core::tenant::Scope;
use engram_core::{Code, Error, Filter};
use engram_engine::{Engine, Principal};

use super::args::{
    AddMemory, ArgError, DeleteAll, GetContext, ListConversations, ListMemories, MemoryId,
    ReadConversation, SearchConversations, SearchMemories, UpdateMemory, parse,
};
use super::graph::{EntityRelations, LookupEntity};
use super::render;
use crate::problem;

/// What a tool is, for the catalogue.
struct Spec {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    scope: Scope,
    destructive: bool,
    schema: fn() -> Result<Arc<JsonObject>, String>,
}

const TOOLS: &[Spec] = &[
    Spec {
        name: "add_memory",
        title: "Remember something",
        description: "Store one memory: a fact, preference or event worth recalling in later \
            conversations (\"Marta's dog is called Bruno\", \"prefers answers in Spanish\"). \
            Write it as a self-contained statement and pass user_id for the person it is about. \
            Store separate facts as separate memories. Returns the stored memory and its id.",
        scope: Scope::Write,
        destructive: false,
        schema: schema_for_input::<AddMemory>,
    },
    Spec {
        name: "search_memories",
        title: "Search memories",
        description: "Find the stored memories that best answer a question, most relevant \
            first, combining meaning and exact words. Call it before answering anything that \
            may depend on what you were told earlier; pass the question as query and the \
            user's user_id. Returns each memory with its id, time and score.",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<SearchMemories>,
    },
    Spec {
        name: "get_memory",
        title: "Read one memory",
        description: "Read one memory by its id (from add_memory, search_memories or \
            list_memories), with all its fields.",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<MemoryId>,
    },
    Spec {
        name: "list_memories",
        title: "List memories",
        description: "List stored memories newest first, optionally only one user's, agent's \
            or session's, or those with given labels, kind or time range. Use it to review \
            what is stored; use search_memories to answer a question. Long listings come in \
            pages: pass the returned cursor to continue.",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<ListMemories>,
    },
    Spec {
        name: "update_memory",
        title: "Correct a memory",
        description: "Change a stored memory by id: its content, labels, metadata, importance \
            or kind. Use it when the user corrects something you remembered, instead of adding \
            a contradicting memory. Fields you leave out are kept.",
        scope: Scope::Write,
        destructive: false,
        schema: schema_for_input::<UpdateMemory>,
    },
    Spec {
        name: "delete_memory",
        title: "Forget one memory",
        description: "Delete one memory by id, for good. Use it when the user asks you to \
            forget something specific or a memory is wrong and cannot be corrected.",
        scope: Scope::Write,
        destructive: true,
        schema: schema_for_input::<MemoryId>,
    },
    Spec {
        name: "delete_all_memories",
        title: "Forget everything about a user, agent or session",
        description: "Delete every memory of one user, agent or session, for good (e.g. when \
            a user asks to be forgotten). At least one of user_id, agent_id, session_id is \
            required; other users' memories are never touched. Returns how many were deleted.",
        scope: Scope::Write,
        destructive: true,
        schema: schema_for_input::<DeleteAll>,
    },
    Spec {
        name: "get_context",
        title: "Get context for a question",
        description: "Get a ready-to-use block of the memories most relevant to a question, \
            one per line with its date and id, that never exceeds token_budget tokens. Call it \
            at the start of a task or conversation and put the block in your working context; \
            pass the user's user_id.",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<GetContext>,
    },
    Spec {
        name: "memory_history",
        title: "How a fact changed",
        description: "Every version of a fact by id, oldest first, each with when it held \
            (valid_from, valid_to): use it to answer what was true before, or when something \
            changed. Earlier versions keep their own ids; any of them gives the same history.",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<MemoryId>,
    },
    Spec {
        name: "list_conversations",
        title: "List conversations",
        description: "List conversation threads (chats, imported ChatGPT or Claude history) \
            newest first, optionally by folder (and below), label, pinned, archived, user or \
            words in the title. Returns each conversation's id, title, folder and flags; read \
            one with read_conversation.",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<ListConversations>,
    },
    Spec {
        name: "search_conversations",
        title: "Search conversations",
        description: "Find the messages that best answer a question within one conversation \
            (conversation_id) or the conversations of a folder or label, most relevant first; \
            archived conversations only with include_archived. Each message's session_id is \
            its conversation.",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<SearchConversations>,
    },
    Spec {
        name: "read_conversation",
        title: "Read a conversation",
        description: "Read one conversation by id: its title, folder and label, then its \
            messages oldest first with role and time, a page at a time (pass the returned \
            cursor to read on).",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<ReadConversation>,
    },
    Spec {
        name: "lookup_entity",
        title: "Look up a person, place or thing",
        description: "Find the people, places, organizations and things named in memories \
            by name (or part of it), each with its type, aliases, how many memories mention it \
            and its relations holding now (\"Marta lives_in Lisbon\"). Use it for questions \
            about someone or something and how they relate to others.",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<LookupEntity>,
    },
    Spec {
        name: "entity_relations",
        title: "How an entity's relations changed",
        description: "The relations of one entity by id (from lookup_entity) that held at a \
            time (as_of), or with all every version with when each held: use it to answer \
            where someone lived or worked before, or when that changed.",
        scope: Scope::Read,
        destructive: false,
        schema: schema_for_input::<EntityRelations>,
    },
];

/// The tool list as `tools/list` returns it.
pub fn catalogue() -> Vec<Tool> {
    TOOLS.iter().map(tool).collect()
}

pub fn find(name: &str) -> Option<Tool> {
    TOOLS.iter().find(|s| s.name == name).map(tool)
}

fn tool(s: &Spec) -> Tool {
    let schema = (s.schema)().unwrap_or_else(|e| panic!("schema of tool {}: {e}", s.name));
    let read_only = s.scope == Scope::Read;
    Tool::new(s.name, s.description, schema)
        .with_title(s.title)
        .with_annotations(
            ToolAnnotations::with_title(s.title)
                .read_only(read_only)
                .destructive(s.destructive)
                .idempotent(read_only || s.destructive)
                .open_world(false),
        )
}

/// Why a call failed, in terms the model can act on.
#[derive(Debug)]
enum Failure {
    Args(ArgError),
    Engine(Error),
    Scope(Scope),
}

impl From<ArgError> for Failure {
    fn from(e: ArgError) -> Failure {
        Failure::Args(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Engine(e)
    }
}

/// What a failed call tells the model and the program driving it.
struct ToolError {
    code: Code,
    field: Option<String>,
    message: String,
}

impl ToolError {
    /// The coarse class of the code, as tool errors had before codes
    /// (`kind`); clients that need the exact reason read `code`.
    fn kind(&self) -> &'static str {
        match self.code.status() {
            400 | 413 | 415 => "invalid_argument",
            401 | 403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            429 | 503 => "unavailable",
            _ => "internal",
        }
    }
}

impl Failure {
    fn describe(self, tool: &str) -> ToolError {
        match self {
            Failure::Args(a) => ToolError {
                code: Code::InvalidField,
                field: a.field,
                message: format!("{}. Fix the arguments and call {tool} again.", a.message),
            },
            Failure::Scope(s) => ToolError {
                code: Code::MissingScope,
                field: None,
                message: format!(
                    "this key lacks the '{}' scope, so {tool} is not allowed; it can only use the {} tools",
                    s.as_str(),
                    if s == Scope::Write { "read" } else { "write" }
                ),
            },
            Failure::Engine(e) => {
                let code = e.code();
                problem::log(code, &e.chain(), Some(tool));
                let field = e.field().map(str::to_string);
                let message = match code {
                    Code::InvalidField => format!("{e}. Fix the arguments and call {tool} again."),
                    Code::NotFound => format!("{e} (it was deleted, or the id is wrong)"),
                    Code::Unavailable => format!("{e}; try again in a moment"),
                    _ => problem::public_detail(code, e.to_string()),
                };
                ToolError {
                    code,
                    field,
                    message,
                }
            }
        }
    }
}

/// A successful call: text for the model, the REST body for programs.
struct Outcome {
    text: String,
    structured: Value,
}

impl Outcome {
    fn new(text: String, body: &impl Serialize) -> Result<Outcome, Failure> {
        Ok(Outcome {
            text,
            structured: serde_json::to_value(body).map_err(Error::internal)?,
        })
    }
}

/// Runs tool `name` for `principal`. An unknown tool is the only protocol
/// error; every other failure is a tool result with `isError: true`.
pub async fn call(
    engine: &Engine,
    principal: &Principal,
    name: &str,
    args: Map<String, Value>,
) -> Result<CallToolResult, ErrorData> {
    let spec = TOOLS.iter().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = TOOLS.iter().map(|s| s.name).collect();
        ErrorData::invalid_params(
            format!("unknown tool `{name}`; the tools are {}", names.join(", ")),
            None,
        )
    })?;
    let start = Instant::now();
    let result = if principal.scopes.contains(&spec.scope) {
        run(engine, &principal.tenant_id, spec.name, args).await
    } else {
        Err(Failure::Scope(spec.scope))
    };
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("engram_mcp_tool_calls_total", "tool" => spec.name, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("engram_mcp_tool_duration_seconds", "tool" => spec.name)
        .record(start.elapsed().as_secs_f64());
    Ok(match result {
        Ok(o) => {
            let mut r = CallToolResult::success(vec![ContentBlock::text(o.text)]);
            r.structured_content = Some(o.structured);
            r
        }
        Err(f) => {
            let e = f.describe(spec.name);
            let mut r = CallToolResult::error(vec![ContentBlock::text(e.message.clone())]);
            r.structured_content = Some(json!({ "error": {
                "code": e.code, "kind": e.kind(), "field": e.field, "message": e.message
            } }));
            r
        }
    })
}

async fn run(
    engine: &Engine,
    tenant: &str,
    name: &str,
    args: Map<String, Value>,
) -> Result<Outcome, Failure> {
    match name {
        "add_memory" => {
            let a: AddMemory = parse(args)?;
            let m = engine.add(tenant, a.into(), None, None).await?.memory;
            Outcome::new(format!("Remembered as {}: {}", m.id, m.content), &m)
        }
        "search_memories" => {
            let r = engine
                .search(tenant, &parse::<SearchMemories>(args)?.into())
                .await?;
            Outcome::new(render::search(&r), &r)
        }
        "get_memory" => {
            let a: MemoryId = parse(args)?;
            let m = engine.get(tenant, &a.id).await?;
            Outcome::new(render::memory_line(&m), &m)
        }
        "list_memories" => {
            let a: ListMemories = parse(args)?;
            let p = engine
                .list(tenant, &a.filter(), a.limit, a.cursor.as_deref())
                .await?;
            Outcome::new(render::page(&p), &p)
        }
        "update_memory" => {
            let (id, patch) = parse::<UpdateMemory>(args)?.into_parts();
            let m = engine.update(tenant, &id, patch).await?;
            Outcome::new(format!("Updated: {}", render::memory_line(&m)), &m)
        }
        "delete_memory" => {
            let a: MemoryId = parse(args)?;
            engine.delete(tenant, &a.id).await?;
            Outcome::new(
                format!("Deleted memory {}.", a.id),
                &json!({ "deleted": 1 }),
            )
        }
        "delete_all_memories" => {
            let filter = Filter::from(parse::<DeleteAll>(args)?);
            let n = engine.delete_where(tenant, &filter).await?;
            Outcome::new(format!("Deleted {n} memories."), &json!({ "deleted": n }))
        }
        "get_context" => {
            let r = engine
                .context(tenant, &parse::<GetContext>(args)?.into())
                .await?;
            Outcome::new(render::context(&r), &r)
        }
        "memory_history" => {
            let a: MemoryId = parse(args)?;
            let h = engine.history(tenant, &a.id).await?;
            Outcome::new(render::history(&h), &h)
        }
        "list_conversations" => {
            let a: ListConversations = parse(args)?;
            let p = engine.list_conversations(tenant, a.into()).await?;
            Outcome::new(render::conversations(&p), &p)
        }
        "search_conversations" => {
            let a: SearchConversations = parse(args)?;
            let r = engine.search_conversations(tenant, &a.into()).await?;
            Outcome::new(render::search(&r), &r)
        }
        "read_conversation" => {
            let a: ReadConversation = parse(args)?;
            let c = engine.get_conversation(tenant, &a.id).await?;
            let messages = engine
                .messages(tenant, &a.id, a.limit, a.cursor.as_deref())
                .await?;
            let text = render::conversation(&c, &messages);
            Outcome::new(text, &json!({ "conversation": c, "messages": messages }))
        }
        "lookup_entity" => {
            let (text, body) = super::graph::lookup(engine, tenant, parse(args)?).await?;
            Outcome::new(text, &body)
        }
        "entity_relations" => {
            let (text, body) = super::graph::relations(engine, tenant, parse(args)?).await?;
            Outcome::new(text, &body)
        }
        other => unreachable!("tool {other} is in the catalogue but has no handler"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_the_tools_with_object_schemas() {
        let tools = catalogue();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "add_memory",
                "search_memories",
                "get_memory",
                "list_memories",
                "update_memory",
                "delete_memory",
                "delete_all_memories",
                "get_context",
                "memory_history",
                "list_conversations",
                "search_conversations",
                "read_conversation",
                "lookup_entity",
                "entity_relations"
            ]
        );
        for t in &tools {
            assert_eq!(
                t.input_schema.get("type"),
                Some(&json!("object")),
                "{}",
                t.name
            );
            assert!(t.description.as_ref().is_some_and(|d| d.len() > 60));
        }
        let required = |name: &str| find(name).unwrap().input_schema.get("required").cloned();
        assert_eq!(required("search_memories"), Some(json!(["query"])));
        assert_eq!(required("add_memory"), Some(json!(["content"])));
        assert_eq!(required("delete_memory"), Some(json!(["id"])));
    }

    #[test]
    fn failures_become_actionable_messages_with_their_code() {
        let e = Failure::Args(ArgError {
            field: Some("query".into()),
            message: "missing field `query`".into(),
        })
        .describe("search_memories");
        assert_eq!(
            (e.code, e.kind(), e.field.as_deref()),
            (Code::InvalidField, "invalid_argument", Some("query"))
        );
        assert!(
            e.message.contains("call search_memories again"),
            "{}",
            e.message
        );

        let e = Failure::Scope(Scope::Write).describe("add_memory");
        assert_eq!((e.code, e.kind()), (Code::MissingScope, "forbidden"));
        assert!(e.message.contains("'write' scope"), "{}", e.message);

        let e = Failure::Engine(Error::not_found("memory x")).describe("get_memory");
        assert_eq!((e.code, e.kind()), (Code::NotFound, "not_found"));
        assert!(e.message.starts_with("memory x not found"), "{}", e.message);

        let e =
            Failure::Engine(Error::invalid("limit", "must be 1 to 100")).describe("list_memories");
        assert_eq!(e.field.as_deref(), Some("limit"));
        assert!(
            e.message.starts_with("limit: must be 1 to 100. Fix"),
            "{}",
            e.message
        );

        let e = Failure::Engine(Error::conflict(Code::MemoryIdTaken, "id m taken"))
            .describe("add_memory");
        assert_eq!(
            (e.code, e.kind(), e.message.as_str()),
            (Code::MemoryIdTaken, "conflict", "id m taken")
        );

        let e = Failure::Engine(Error::internal("disk on fire")).describe("get_memory");
        assert_eq!((e.code, e.kind()), (Code::Internal, "internal"));
        assert!(
            !e.message.contains("disk"),
            "internal details stay in the log: {}",
            e.message
        );
    }
}
