//! engram over the Model Context Protocol: the REST API's memory
//! operations as tools an agent's model can call, through the official SDK
//! (`rmcp`). Served over Streamable HTTP at `/mcp` ([`http`]) and over
//! stdio by `engram mcp` ([`serve_stdio`]); both run the same handler.

mod args;
mod graph;
mod http;
mod render;
mod tools;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

use engram_engine::{Engine, Principal};

pub(crate) use http::routes;

/// What a model is told about the server as a whole when it connects.
const INSTRUCTIONS: &str = "engram is long-term memory that persists across conversations. \
Before answering anything that may depend on earlier conversations, call search_memories (or \
get_context for a ready-made block) with the question and the user's user_id. When the user \
shares something worth remembering (facts, preferences, plans, events), call add_memory with a \
self-contained statement and the same user_id. Correct wrong memories with update_memory; \
forget on request with delete_memory or delete_all_memories.";

/// The MCP tool handler.
#[derive(Clone)]
pub struct MemoryServer {
    engine: Arc<Engine>,
    caller: Caller,
}

#[derive(Clone)]
enum Caller {
    /// stdio: one key, resolved when the process started.
    Fixed(Principal),
    /// HTTP: every request carries its own key, resolved by the
    /// authentication layer in front of the transport.
    PerRequest,
}

impl MemoryServer {
    fn principal(&self, ctx: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
        match &self.caller {
            Caller::Fixed(p) => Ok(p.clone()),
            Caller::PerRequest => ctx
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<Principal>())
                .cloned()
                .ok_or_else(|| {
                    tracing::error!("MCP request reached a tool without an authenticated key");
                    ErrorData::internal_error("request is not authenticated", None)
                }),
        }
    }
}

impl ServerHandler for MemoryServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("engram", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::catalogue()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::find(name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let principal = self.principal(&ctx)?;
        let args = request.arguments.unwrap_or_default();
        tools::call(&self.engine, &principal, &request.name, args)
            .await
            .map(Into::into)
    }
}

/// Serves the tools over stdin/stdout as `principal` until the client
/// closes stdin. Nothing else may write to stdout meanwhile.
pub async fn serve_stdio(engine: Arc<Engine>, principal: Principal) -> std::io::Result<()> {
    let server = MemoryServer {
        engine,
        caller: Caller::Fixed(principal),
    };
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
