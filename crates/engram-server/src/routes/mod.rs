//! The route table. Handlers are grouped by who may call them.

pub mod admin;
pub mod console;
pub mod conversations;
pub mod documents;
pub mod erasure;
pub mod facts;
pub mod graph;
pub mod jobs;
pub mod me;
pub mod memories;
pub mod ops;
pub mod retention;
pub mod retrieval;
pub mod uploads;
pub mod usage;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, head, options, post, put};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/ui", get(console::index))
        .route("/ui/", get(console::index_slash))
        .route("/ui/{file}", get(console::file))
        .route("/v1/me", get(me::me))
        .route(
            "/v1/tenants",
            post(admin::create_tenant).get(admin::list_tenants),
        )
        .route("/v1/tenants/{id}", delete(admin::delete_tenant))
        .route(
            "/v1/tenants/{id}/keys",
            post(admin::create_key).get(admin::list_keys),
        )
        .route("/v1/tenants/{id}/keys/{key_id}", delete(admin::delete_key))
        .route(
            "/v1/tenants/{id}/budgets",
            put(usage::set_budget)
                .get(usage::list_budgets)
                .delete(usage::delete_budget),
        )
        .route(
            "/v1/tenants/{id}/retention",
            put(retention::set)
                .get(retention::get)
                .delete(retention::delete),
        )
        .route("/v1/usage", get(usage::usage))
        .route("/v1/users/{user_id}", delete(erasure::erase_user))
        .route(
            "/v1/memories",
            post(memories::create)
                .get(memories::list)
                .delete(memories::delete_where),
        )
        .route("/v1/memories/batch", post(memories::batch))
        .route("/v1/memories/reembed", post(jobs::reembed))
        .route("/v1/jobs/{id}", get(jobs::get))
        .route(
            "/v1/memories/{id}",
            get(memories::get)
                .patch(memories::update)
                .delete(memories::delete),
        )
        .route("/v1/memories/{id}/versions", post(facts::new_version))
        .route("/v1/memories/{id}/history", get(facts::history))
        .route("/v1/summaries", post(facts::summarize))
        .route("/v1/reflections", post(facts::reflect))
        .route("/v1/search", post(retrieval::search))
        .route("/v1/context", post(retrieval::context))
        .route(
            "/v1/conversations",
            post(conversations::create).get(conversations::list),
        )
        .route("/v1/conversations/search", post(conversations::search))
        .route(
            "/v1/conversations/{id}",
            get(conversations::get)
                .patch(conversations::update)
                .delete(conversations::delete),
        )
        .route(
            "/v1/conversations/{id}/messages",
            post(conversations::append).get(conversations::messages),
        )
        .route(
            "/v1/conversations/{id}/messages/batch",
            post(conversations::append_batch),
        )
        .route("/v1/conversations/{id}/export", get(conversations::export))
        .route("/v1/folders", get(conversations::folders))
        // An export is spooled to a file (conversations::MAX_IMPORT_BYTES),
        // not held in memory: the server's body limit does not apply.
        .route(
            "/v1/import",
            post(conversations::import).layer(DefaultBodyLimit::max(
                conversations::MAX_IMPORT_BYTES as usize,
            )),
        )
        .route("/v1/import/{id}", get(conversations::import_job))
        .route("/v1/answer", post(retrieval::answer))
        // tus uploads: a PATCH body is bounded by what the upload can
        // still take (ENGRAM_UPLOAD_MAX_BYTES), not the body limit.
        .route(
            "/v1/uploads",
            options(uploads::options)
                .post(uploads::create)
                .layer(axum::middleware::map_response(uploads::tus_headers)),
        )
        .route(
            "/v1/uploads/{id}",
            head(uploads::head)
                .patch(uploads::patch)
                .delete(uploads::terminate)
                .layer(axum::middleware::map_response(uploads::tus_headers)),
        )
        .route("/v1/documents", get(documents::list))
        .route(
            "/v1/documents/{id}",
            get(documents::get).delete(documents::delete),
        )
        .route("/v1/entities", get(graph::list))
        .route("/v1/entities/{id}", get(graph::get).delete(graph::delete))
        .route("/v1/entities/{id}/neighbors", get(graph::neighbors))
        .route("/v1/entities/{id}/relations", get(graph::relations))
        .route("/v1/entities/{id}/unmerge", post(graph::unmerge))
}
