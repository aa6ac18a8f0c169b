//! The OpenAPI document, generated from the handlers and types themselves
//! so it cannot drift from what the server does.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, memories, ops, retrieval};

#[derive(OpenApi)]
#[openapi(
    info(title = "engram", description = "Long-term memory for LLM agents and chat applications."),
    paths(
        ops::health, ops::ready, ops::metrics, ops::openapi,
        admin::create_tenant, admin::list_tenants, admin::delete_tenant,
        admin::create_key, admin::list_keys, admin::delete_key,
        memories::create, memories::batch, memories::get, memories::update, memories::delete,
        memories::list, memories::delete_where,
        retrieval::search, retrieval::context,
    ),
    modifiers(&BearerKeys),
    tags(
        (name = "memories", description = "Write and read memories"),
        (name = "retrieval", description = "Search and context assembly"),
        (name = "admin", description = "Tenants and keys (admin key)"),
        (name = "operations", description = "Health, readiness, metrics"),
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
