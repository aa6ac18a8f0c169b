//! The OpenAPI document, generated from the handlers and types themselves
//! so it cannot drift from what the server does.

use axum::http::StatusCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    admin, console, conversations, documents, erasure, facts, graph, jobs, me, memories, ops,
    retention, retrieval, uploads, usage,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "engram", description = "Long-term memory for LLM agents and chat applications."),
    paths(
        ops::health, ops::ready, ops::metrics, ops::openapi,
        admin::create_tenant, admin::list_tenants, admin::delete_tenant,
        admin::create_key, admin::list_keys, admin::delete_key,
        memories::create, memories::batch, memories::get, memories::update, memories::delete,
        memories::list, memories::delete_where, facts::new_version, facts::history,
        facts::summarize, facts::reflect,
        retrieval::search, retrieval::context, retrieval::answer,
        conversations::create, conversations::list, conversations::get, conversations::update,
        conversations::delete, conversations::append, conversations::append_batch,
        conversations::messages, conversations::export, conversations::search,
        conversations::folders, conversations::import, conversations::import_job,
        jobs::get, jobs::reembed,
        usage::usage, usage::set_budget, usage::list_budgets, usage::delete_budget,
        me::me, console::index, console::index_slash, console::file,
        retention::set, retention::get, retention::delete,
        uploads::options, uploads::create, uploads::head, uploads::patch, uploads::terminate,
        documents::list, documents::get, documents::delete,
        graph::list, graph::get, graph::neighbors, graph::relations, graph::delete, graph::unmerge,
        erasure::erase_user,
    ),
    modifiers(&BearerKeys, &ProblemResponses),
    tags(
        (name = "memories", description = "Write and read memories"),
        (name = "retrieval", description = "Search and context assembly"),
        (name = "conversations", description = "Threads of messages (each a memory), folders, import and export"),
        (name = "jobs", description = "Background jobs (docs/JOBS.md)"),
        (name = "documents", description = "Resumable uploads (tus 1.0) and the documents they become (docs/DOCUMENTS.md)"),
        (name = "graph", description = "Knowledge graph: entities and relations (docs/GRAPH.md)"),
        (name = "usage", description = "LLM and embedding usage (docs/BUDGETS.md)"),
        (name = "admin", description = "Tenants and keys (admin key)"),
        (name = "operations", description = "Health, readiness, metrics, the calling key"),
        (name = "console", description = "The web console's files (docs/CONSOLE.md)"),
    )
)]
pub struct ApiDoc;

struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        for name in ["tenant_key", "admin_key"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Completes what each route documents about errors, from what every
/// route shares: the auth and rate-limit layer (401, 403, 429), the body
/// and query extractors (400, 413, 415) and the store and request timeout
/// (503). Routes document only the errors of their own logic (404, 409).
/// Also names the media type errors really have: `body = Problem` says
/// `application/json`, but `problem.rs` serves `application/problem+json`,
/// and a client or schema checker going by the document would reject every
/// real error.
struct ProblemResponses;

impl ProblemResponses {
    fn problem(status: u16) -> RefOr<Response> {
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        RefOr::T(
            ResponseBuilder::new()
                .description(reason)
                .content(PROBLEM_JSON, Self::content())
                .build(),
        )
    }

    fn content() -> Content {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build()
    }
}

const PROBLEM_JSON: &str = "application/problem+json";

impl Modify for ProblemResponses {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let is_problem = |c: &Content| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
        for item in api.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let mut shared = Vec::new();
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    shared.extend([401, 403, 429, 503]);
                }
                if op.request_body.is_some() {
                    shared.extend([400, 413, 415]);
                }
                if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                    shared.push(400);
                }
                let responses = &mut op.responses.responses;
                for status in shared {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| Self::problem(status));
                }
                for response in responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    response.content = std::mem::take(&mut response.content)
                        .into_iter()
                        .map(|(media, content)| match media.as_str() {
                            "application/json" if is_problem(&content) => {
                                (PROBLEM_JSON.to_string(), content)
                            }
                            _ => (media, content),
                        })
                        .collect();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clients generated from the document see every code a problem can carry.
    #[test]
    fn the_problem_schema_lists_every_code() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let code = &doc["components"]["schemas"]["Problem"]["properties"]["code"];
        let names: Vec<&str> = code["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("code is not an enum: {code}"))
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let expected: Vec<&str> = engram_core::Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, expected);
        let required = doc["components"]["schemas"]["Problem"]["required"].to_string();
        assert!(required.contains("\"code\""), "{required}");
    }
}
