//! The machine-readable error codes: one row per way a request can fail.
//!
//! A client branches on `code`, never on `detail` or on the status alone
//! (a 409 is a duplicate id, a taken tenant name or an idempotency key
//! reused with another body: three different next steps). The REST
//! problem+json `code` and `type`, the MCP tool error's `code`, the OpenAPI
//! enum and docs/ERRORS.md all come from the table below, so a code cannot
//! mean one thing in one place and another elsewhere. Names are a contract:
//! add codes freely, never rename or remove one.

use serde::{Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

/// Whether the server writes a log line when it answers with a code.
/// Client mistakes are not logged (a scanner would fill the log); faults
/// of the server or of its dependencies are, with their whole cause chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    No,
    Warn,
    Error,
}

impl Log {
    pub fn as_str(self) -> &'static str {
        match self {
            Log::No => "no",
            Log::Warn => "warn",
            Log::Error => "error",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $name:literal, $status:literal, $log:ident, $doc:literal;)*) => {
        /// Every way a request can fail; see the module docs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $doc] $variant,)*
        }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable snake_case name clients match on.
            pub const fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The HTTP status the REST API answers with.
            pub const fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            pub const fn log(self) -> Log {
                match self { $(Code::$variant => Log::$log,)* }
            }

            /// One line for the docs: what happened and what to do next.
            pub const fn description(self) -> &'static str {
                match self { $(Code::$variant => $doc,)* }
            }
        }
    };
}

codes! {
    InvalidField = "invalid_field", 400, No,
        "A field of the request is not acceptable; `field` names it (a JSON path such as `items[1].content`, a query parameter or a header) and `detail` says what is allowed.";
    MalformedJson = "malformed_json", 400, No,
        "The body is not valid JSON (or not valid UTF-8); `field` is `body` and `detail` gives the line and column.";
    UnreadableBody = "unreadable_body", 400, No,
        "The body could not be read to its end (the client closed the connection or sent a broken chunked encoding); send it again.";
    PayloadTooLarge = "payload_too_large", 413, No,
        "The body is larger than the server accepts (`ENGRAM_MAX_BODY_BYTES`); split the request, e.g. into several batches.";
    UnsupportedMediaType = "unsupported_media_type", 415, No,
        "The body is not declared as JSON; send `Content-Type: application/json`.";
    MissingKey = "missing_key", 401, No,
        "No usable key: the `Authorization` header is missing or not `Bearer <key>`.";
    InvalidKey = "invalid_key", 401, No,
        "The key is unknown or revoked; ask the admin for a new one.";
    AdminDisabled = "admin_disabled", 401, No,
        "The admin routes are disabled because the server runs without `ENGRAM_ADMIN_KEY`; set it and restart.";
    MissingScope = "missing_scope", 403, No,
        "The key lacks the scope the route or tool needs (`read` or `write`); use a key that has it.";
    AdminOnly = "admin_only", 403, No,
        "The route manages tenants and keys and needs the admin key; a tenant key cannot use it.";
    TenantOnly = "tenant_only", 403, No,
        "The route reads or writes memories and needs a tenant key; the admin key manages tenants and keys only.";
    NotFound = "not_found", 404, No,
        "The memory, tenant, key or job does not exist (ids of other tenants are not found either); `detail` names it.";
    RouteNotFound = "route_not_found", 404, No,
        "No route has this path; the routes are listed at `GET /openapi.json`.";
    MethodNotAllowed = "method_not_allowed", 405, No,
        "The route exists but not with this method; see `GET /openapi.json`.";
    MemoryIdTaken = "memory_id_taken", 409, No,
        "A memory with this id already exists in the tenant; send another id, or omit it and engram picks one.";
    TenantNameTaken = "tenant_name_taken", 409, No,
        "A tenant with this name already exists; pick another name or use the existing tenant.";
    IdempotencyKeyReused = "idempotency_key_reused", 409, No,
        "This `Idempotency-Key` was already used with a different body; a retry must send the same body, a new request needs a new key.";
    IdempotencyKeyInFlight = "idempotency_key_in_flight", 409, No,
        "A request with this `Idempotency-Key` is still being processed; retry in a moment to get its answer.";
    IdempotencyKeySpent = "idempotency_key_spent", 409, No,
        "This `Idempotency-Key` created a memory that has since been deleted, so its answer cannot be replayed; use a new key.";
    VersionConflict = "version_conflict", 409, No,
        "Another version of this fact was written while this one was being made; read the fact (or its history) and send the change again if it still applies.";
    StoreNotEmpty = "store_not_empty", 409, No,
        "A restore needs an empty store, and this one already holds tenants; restore into a new data directory or database.";
    MalformedImport = "malformed_import", 422, No,
        "The import file is not in the named format or is cut short; `field` names the conversation (and node or message) at fault and `detail` what is wrong. Nothing of the file was imported: fix or re-export it and send it again.";
    RateLimited = "rate_limited", 429, No,
        "The key has used up its request budget (`ENGRAM_RATE_LIMIT_*`); retry after the seconds in `Retry-After`.";
    Unavailable = "unavailable", 503, Warn,
        "A dependency (the store, the embedding model or service) cannot serve right now; retry after `Retry-After` seconds.";
    Timeout = "timeout", 503, Warn,
        "The request took longer than the server's `request_timeout_seconds` (30 s by default) and was abandoned; retry after `Retry-After` seconds, with a smaller request if it persists.";
    InconsistentStorage = "inconsistent_storage", 500, Error,
        "Stored data cannot be read back as it was written (changed outside engram, or by a bug); the server log names the row or file.";
    Internal = "internal", 500, Error,
        "A bug or an unexpected fault, never caused by the request; the server log has the details.";
    LlmNotConfigured = "llm_not_configured", 409, No,
        "The request needs an LLM and the server has none: set `ENGRAM_LLM_URL` and `ENGRAM_LLM_MODEL` and restart (docs/LLM.md); everything else works without one.";
    BudgetExceeded = "budget_exceeded", 402, No,
        "A hard budget of the tenant (or of its `X-Project-ID` project) is used up; `detail` names the budget and when it resets. Wait for the reset or ask the admin to raise it (docs/BUDGETS.md).";
    UploadTooLarge = "upload_too_large", 413, No,
        "The upload is larger than the server accepts (`ENGRAM_UPLOAD_MAX_BYTES`, shown as `Tus-Max-Size`), or a PATCH would pass its `Upload-Length`; `field` names the header. Split the document or ask the operator to raise the limit.";
    UnsupportedDocumentType = "unsupported_document_type", 415, No,
        "The document's type is not one engram can read; `field` names where it came from (`Upload-Metadata` filetype or filename, or `Content-Type` of a PATCH, which must be `application/offset+octet-stream`). Upload text/plain, text/markdown, text/html or application/pdf.";
    UploadOffsetMismatch = "upload_offset_mismatch", 409, No,
        "The PATCH's `Upload-Offset` is not where the upload is (or the upload is complete); HEAD the upload for its `Upload-Offset` and resume from there.";
    ChecksumMismatch = "checksum_mismatch", 460, No,
        "The PATCH body does not match its `Upload-Checksum`; nothing of it was stored and the offset is unchanged: send the same piece again.";
    TusVersionUnsupported = "tus_version_unsupported", 412, No,
        "The `Tus-Resumable` header names a tus version this server does not speak; send `Tus-Resumable: 1.0.0` (OPTIONS /v1/uploads lists `Tus-Version`).";
    EntityNotMerged = "entity_not_merged", 409, No,
        "The entity was not merged into another, so there is no merge to undo; `GET /v1/entities/{id}` lists under `merged` the entities merged into it, each of which can be unmerged.";
}

/// A code is sent as its name.
impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// In OpenAPI, a string enum of every name.
impl utoipa::PartialSchema for Code {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(Code::ALL.iter().map(|c| c.name())))
            .description(Some(
                "The error's stable code; docs/ERRORS.md explains each one.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Code {}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_snake_case_and_serialized_as_such() {
        let names: HashSet<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Code::ALL.len(), "duplicate code names");
        for c in Code::ALL {
            let n = c.name();
            assert!(
                !n.is_empty() && n.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{n} is not snake_case"
            );
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(n));
            assert!((400..600).contains(&c.status()), "{n}");
            assert_eq!(
                c.log() != Log::No,
                c.status() >= 500,
                "{n}: faults of the server are logged, client mistakes are not"
            );
        }
    }

    /// Clients match on these names: renaming one breaks them. A new code
    /// is added here as well as to the table.
    #[test]
    fn names_are_stable() {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "invalid_field",
                "malformed_json",
                "unreadable_body",
                "payload_too_large",
                "unsupported_media_type",
                "missing_key",
                "invalid_key",
                "admin_disabled",
                "missing_scope",
                "admin_only",
                "tenant_only",
                "not_found",
                "route_not_found",
                "method_not_allowed",
                "memory_id_taken",
                "tenant_name_taken",
                "idempotency_key_reused",
                "idempotency_key_in_flight",
                "idempotency_key_spent",
                "version_conflict",
                "store_not_empty",
                "malformed_import",
                "rate_limited",
                "unavailable",
                "timeout",
                "inconsistent_storage",
                "internal",
                "llm_not_configured",
                "budget_exceeded",
                "upload_too_large",
                "unsupported_document_type",
                "upload_offset_mismatch",
                "checksum_mismatch",
                "tus_version_unsupported",
                "entity_not_merged",
            ]
        );
    }

    /// docs/ERRORS.md holds the table as clients read it; it must list
    /// exactly these codes with these statuses and log levels.
    #[test]
    fn the_errors_doc_lists_exactly_the_table() {
        let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ERRORS.md"));
        let documented: Vec<String> = doc
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                format!("| {} | {} | {} |", cells[1], cells[2], cells[3])
            })
            .collect();
        let expected: Vec<String> = Code::ALL
            .iter()
            .map(|c| format!("| `{}` | {} | {} |", c.name(), c.status(), c.log().as_str()))
            .collect();
        let rows: String = Code::ALL
            .iter()
            .map(|c| {
                format!(
                    "| `{}` | {} | {} | {} |\n",
                    c.name(),
                    c.status(),
                    c.log().as_str(),
                    c.description()
                )
            })
            .collect();
        assert_eq!(
            documented, expected,
            "docs/ERRORS.md is out of date; its table rows should be:\n{rows}"
        );
    }
}
