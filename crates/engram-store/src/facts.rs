//! The store's part in the temporal model (docs/FACTS.md): writing a new
//! version of a fact without losing the old one, and reading a fact's
//! versions back.

use async_trait::async_trait;
use engram_core::{Memory, Result};

use crate::Record;

/// A fact's next version, written as one change.
pub struct Version<'a> {
    /// The fact's state until now, under an id of its own, `version_of`
    /// the fact and valid until the change: inserted.
    pub earlier: Record,
    /// The fact as it now holds, keeping the fact's id, its version one
    /// more than `earlier`'s: replaces the stored fact.
    pub current: &'a Memory,
    /// `Some` when the content changed (embedded again).
    pub embedding: Option<Vec<f32>>,
}

#[async_trait]
pub trait FactStore {
    /// Writes `v` in one transaction, or nothing: false when the stored
    /// fact is gone or no longer at `v.earlier`'s version (another version
    /// was written meanwhile), so two concurrent changes cannot both
    /// replace the same state.
    async fn write_version(&self, tenant_id: &str, v: Version<'_>) -> Result<bool>;

    /// The memory `id` and every memory that is `version_of` it, oldest
    /// version first.
    async fn history(&self, tenant_id: &str, id: &str) -> Result<Vec<Memory>>;
}
