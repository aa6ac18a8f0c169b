//! What an exact erasure of a user removed: counts per kind of thing, never
//! content, so the receipt can be returned, logged and kept as proof.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// The rows an erasure removed, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Erased {
    /// The user's memories (conversation messages included: they are memories).
    pub memories: u64,
    /// Other memories (facts, summaries) whose every cited source was erased.
    pub derived: u64,
    /// The user's conversations (titles and metadata).
    pub conversations: u64,
    /// Idempotency records that answered with an erased memory.
    pub idempotency_records: u64,
    /// Jobs (payload and result) about the user, their sessions or erased memories.
    pub jobs: u64,
    /// The user's uploaded documents, their bytes and their chunks'
    /// documents (the chunks themselves count under `memories`).
    pub documents: u64,
    /// The user's knowledge-graph entities (their relations and mentions
    /// with them).
    pub entities: u64,
}

/// The erasure receipt: which scope, when, and the counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Receipt {
    pub tenant_id: String,
    pub user_id: String,
    pub erased_at: DateTime<Utc>,
    pub erased: Erased,
}
