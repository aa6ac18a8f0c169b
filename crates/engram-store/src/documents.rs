//! Where documents and their uploaded bytes live. A document's chunks are
//! memories (the `Store`'s rows, `session_id` = the document's id); this
//! trait keeps the document rows, the bytes of their uploads, and the
//! writes that must change both in one step: chunks written with the
//! document's new status, a document deleted with its chunks and bytes.
//!
//! An acknowledged append is durable: the embedded store syncs the bytes
//! to its file before it commits the new offset, PostgreSQL writes the
//! piece and the offset in one transaction. Bytes past the committed
//! offset (a crash between the two) are never read and are overwritten by
//! the next append.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engram_core::Result;
use engram_core::document::Document;
use engram_core::query::Cursor;

use crate::Record;

/// What an append did.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// Stored; the document with its new offset (and status
    /// `processing` once the last byte arrived).
    Stored(Document),
    /// No such document in the tenant.
    NotFound,
    /// The upload is not at the offset the append assumed (nothing was
    /// stored); it is at this one, or it is no longer `uploading`.
    Conflict(Document),
}

#[async_trait]
pub trait DocumentStore: Send + Sync {
    async fn create_document(&self, tenant_id: &str, d: &Document) -> Result<()>;
    async fn get_document(&self, tenant_id: &str, id: &str) -> Result<Option<Document>>;
    /// Newest first by `created_at`, then id; at most `limit`, after `after`.
    async fn list_documents(
        &self,
        tenant_id: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Document>>;
    /// Appends `bytes` at `offset` of an `uploading` document whose offset
    /// is `offset` and whose length they do not pass, at `now`.
    async fn append_upload(
        &self,
        tenant_id: &str,
        id: &str,
        offset: u64,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Appended>;
    /// The bytes received (up to the document's offset).
    async fn upload_bytes(&self, tenant_id: &str, id: &str) -> Result<Option<Vec<u8>>>;
    /// Replaces the document's chunks (memories of `session_id` = its id)
    /// with `chunks` and writes its status, chunk count, error and
    /// `updated_at` from `d`, in one transaction; false (nothing written)
    /// when the document no longer exists.
    async fn finish_document(
        &self,
        tenant_id: &str,
        d: &Document,
        chunks: Vec<Record>,
    ) -> Result<bool>;
    /// Deletes the document, its chunks and its bytes: the number of
    /// chunks deleted, `None` when it does not exist.
    async fn delete_document(&self, tenant_id: &str, id: &str) -> Result<Option<u64>>;
    /// The ids of the documents of `user_id` (for erasing the user).
    async fn user_documents(&self, tenant_id: &str, user_id: &str) -> Result<Vec<String>>;
    /// The ids of the uploads still `uploading` whose last byte arrived
    /// (or which were created) before `before`: abandoned ones.
    async fn stale_uploads(&self, tenant_id: &str, before: DateTime<Utc>) -> Result<Vec<String>>;
}
