//! Documents: resumable uploads (the tus 1.0 core's semantics; the HTTP
//! headers are the server's) and the job that turns a finished upload
//! into memories. An upload and its document are one row with one id:
//! `uploading` while bytes arrive, `processing` once the last byte is
//! stored (a `document` job is queued then), `ready` when its chunks are
//! memories, `failed` when no text could be extracted.

mod checksum;
mod extract;
mod job;

use std::time::Duration;

use chrono::Utc;
use engram_core::chunk::ChunkConfig;
use engram_core::document::{
    CONTENT_TYPES, Document, DocumentPage, DocumentStatus, UploadMetadata, content_type,
};
use engram_core::query::Cursor;
use engram_core::{Code, Error, Result};
use engram_store::documents::Appended;
use serde_json::json;

use crate::Engine;

pub use checksum::{ALGORITHMS as CHECKSUM_ALGORITHMS, Checksum};
pub use job::DOCUMENT;
pub(crate) use job::ProcessDocument;

/// How documents are taken (`ENGRAM_UPLOAD_*`).
#[derive(Debug, Clone)]
pub struct DocumentsConfig {
    /// Largest upload accepted (`Tus-Max-Size`).
    pub max_bytes: u64,
    /// How chunks are sized.
    pub chunking: ChunkConfig,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        DocumentsConfig {
            max_bytes: 25 * 1024 * 1024,
            chunking: ChunkConfig::default(),
        }
    }
}

/// A new upload: its declared length and metadata.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub length: u64,
    pub metadata: UploadMetadata,
}

/// The type a file name's extension stands for.
fn type_of_name(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" | "text" => "text/plain",
        "md" | "markdown" => "text/markdown",
        "html" | "htm" => "text/html",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

fn unsupported(field: &str, message: String) -> Error {
    Error::User {
        code: Code::UnsupportedDocumentType,
        field: Some(field.into()),
        message,
    }
}

pub(crate) fn too_large(field: &str, message: String) -> Error {
    Error::User {
        code: Code::UploadTooLarge,
        field: Some(field.into()),
        message,
    }
}

/// The document's type: the metadata's `filetype`, else its file name's
/// extension.
fn document_type(m: &UploadMetadata) -> Result<&'static str> {
    let accepted = CONTENT_TYPES.join(", ");
    if let Some(t) = &m.content_type {
        return content_type(t).ok_or_else(|| {
            unsupported(
                "Upload-Metadata",
                format!("filetype {t:?} is not a type engram reads; upload one of {accepted}"),
            )
        });
    }
    match &m.filename {
        Some(name) => type_of_name(name).ok_or_else(|| {
            unsupported(
                "Upload-Metadata",
                format!(
                    "the type of {name:?} is not known from its name; give filetype (one of {accepted})"
                ),
            )
        }),
        None => Err(unsupported(
            "Upload-Metadata",
            format!("give filetype (one of {accepted}) or a filename with its extension"),
        )),
    }
}

impl Engine {
    pub fn with_documents_config(mut self, config: DocumentsConfig) -> Engine {
        self.documents = config;
        self
    }

    pub fn documents_config(&self) -> &DocumentsConfig {
        &self.documents
    }

    /// Creates an upload (tus creation): nothing stored yet but its row. A
    /// zero-length document is complete at once.
    pub async fn create_upload(&self, tenant: &str, new: NewUpload) -> Result<Document> {
        let max = self.documents.max_bytes;
        if new.length > max {
            return Err(too_large(
                "Upload-Length",
                format!(
                    "{} bytes is more than this server accepts ({max}, ENGRAM_UPLOAD_MAX_BYTES)",
                    new.length
                ),
            ));
        }
        let content_type = document_type(&new.metadata)?;
        if let Some(u) = &new.metadata.user_id {
            engram_core::memory::validate_id(u, "Upload-Metadata")?;
        }
        let now = Utc::now();
        let id = uuid::Uuid::now_v7().to_string();
        let m = new.metadata;
        let d = Document {
            title: m
                .title
                .clone()
                .or_else(|| m.filename.clone())
                .unwrap_or_else(|| id.clone()),
            id,
            filename: m.filename,
            content_type: content_type.to_string(),
            user_id: m.user_id,
            length: new.length,
            offset: 0,
            status: if new.length == 0 {
                DocumentStatus::Processing
            } else {
                DocumentStatus::Uploading
            },
            chunks: 0,
            error: None,
            created_at: now,
            updated_at: now,
        };
        self.store.create_document(tenant, &d).await?;
        if d.status == DocumentStatus::Processing {
            self.queue_document(tenant, &d.id).await?;
        }
        metrics::counter!("engram_uploads_created_total").increment(1);
        Ok(d)
    }

    /// The tenant's document (or upload) with this id.
    pub async fn document(&self, tenant: &str, id: &str) -> Result<Document> {
        self.store
            .get_document(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("document {id}")))
    }

    /// Appends a piece at `offset` (tus PATCH): refused with nothing
    /// stored when the offset is not the upload's (409), the piece would
    /// pass the declared length (413) or its checksum does not match (460).
    /// The last piece queues the document's processing.
    pub async fn append_upload(
        &self,
        tenant: &str,
        id: &str,
        offset: u64,
        bytes: &[u8],
        checksum: Option<&Checksum>,
    ) -> Result<Document> {
        let d = self.document(tenant, id).await?;
        self.check_append(&d, offset, bytes.len() as u64)?;
        if let Some(c) = checksum {
            c.verify(bytes)?;
        }
        match self
            .store
            .append_upload(tenant, id, offset, bytes, Utc::now())
            .await?
        {
            Appended::Stored(d) => {
                metrics::counter!("engram_upload_bytes_total").increment(bytes.len() as u64);
                if d.status == DocumentStatus::Processing {
                    self.queue_document(tenant, &d.id).await?;
                }
                Ok(d)
            }
            Appended::NotFound => Err(Error::not_found(format!("document {id}"))),
            // Another PATCH moved the upload since it was read.
            Appended::Conflict(now) => {
                self.check_append(&now, offset, bytes.len() as u64)?;
                Err(Error::internal(format!(
                    "upload {id} refused an append that fits at offset {offset}"
                )))
            }
        }
    }

    /// Whether `len` bytes may be appended at `offset` of `d`: the server
    /// asks before reading a body (with `len` 0), the append again.
    pub fn check_append(&self, d: &Document, offset: u64, len: u64) -> Result<()> {
        if d.status != DocumentStatus::Uploading {
            return Err(Error::conflict(
                Code::UploadOffsetMismatch,
                format!(
                    "upload {} is complete ({} bytes); nothing more can be appended",
                    d.id, d.length
                ),
            ));
        }
        if offset != d.offset {
            return Err(Error::conflict(
                Code::UploadOffsetMismatch,
                format!(
                    "upload {} is at offset {}, not {offset}; resume from Upload-Offset {}",
                    d.id, d.offset, d.offset
                ),
            ));
        }
        if offset.saturating_add(len) > d.length {
            return Err(too_large(
                "Upload-Length",
                format!(
                    "{len} bytes at offset {offset} pass the upload's length ({}); send at most {} more",
                    d.length,
                    d.length - offset
                ),
            ));
        }
        Ok(())
    }

    async fn queue_document(&self, tenant: &str, id: &str) -> Result<()> {
        self.enqueue(
            tenant,
            DOCUMENT,
            json!({ "document_id": id }),
            Some(id.to_string()),
            None,
        )
        .await?;
        Ok(())
    }

    /// One page of the tenant's documents, newest first.
    pub async fn documents(
        &self,
        tenant: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<DocumentPage> {
        let limit = limit.unwrap_or(50);
        if !(1..=1000).contains(&limit) {
            return Err(Error::invalid("limit", "must be 1 to 1000"));
        }
        let after = cursor.map(Cursor::decode).transpose()?;
        let mut items = self
            .store
            .list_documents(tenant, after.as_ref(), limit + 1)
            .await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|d| d.cursor().encode())
        } else {
            None
        };
        Ok(DocumentPage { items, next_cursor })
    }

    /// Deletes a document (or an unfinished upload) with its chunks and
    /// bytes; the number of chunks deleted.
    pub async fn delete_document(&self, tenant: &str, id: &str) -> Result<u64> {
        self.store
            .delete_document(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("document {id}")))
    }

    /// Deletes every document of `user` with its chunks and bytes (erasing
    /// the user); how many documents and how many chunks went.
    pub(crate) async fn erase_user_documents(
        &self,
        tenant: &str,
        user: &str,
    ) -> Result<(u64, u64)> {
        let (mut documents, mut chunks) = (0, 0);
        for id in self.store.user_documents(tenant, user).await? {
            if let Some(n) = self.store.delete_document(tenant, &id).await? {
                documents += 1;
                chunks += n;
            }
        }
        Ok((documents, chunks))
    }

    /// Deletes (or, with `dry_run`, counts) the uploads of every tenant
    /// that received no byte for `abandon_after` and are still not
    /// complete; complete documents are never touched.
    pub async fn collect_abandoned_uploads(
        &self,
        abandon_after: Duration,
        dry_run: bool,
    ) -> Result<u64> {
        let before = Utc::now()
            - chrono::Duration::from_std(abandon_after)
                .map_err(|_| Error::invalid("abandon_after", "is too long"))?;
        let mut n = 0;
        for tenant in self.store.list_tenants().await? {
            for id in self.store.stale_uploads(&tenant.id, before).await? {
                if dry_run {
                    n += 1;
                    continue;
                }
                // Deleted only while still unfinished: the last piece may
                // have arrived since it was listed.
                let still = self.store.get_document(&tenant.id, &id).await?;
                if still.is_some_and(|d| d.status == DocumentStatus::Uploading)
                    && self.store.delete_document(&tenant.id, &id).await?.is_some()
                {
                    tracing::info!(tenant = %tenant.id, upload = %id, "abandoned upload removed");
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_comes_from_filetype_else_from_the_name() {
        let m = |t: Option<&str>, n: Option<&str>| UploadMetadata {
            content_type: t.map(String::from),
            filename: n.map(String::from),
            ..Default::default()
        };
        assert_eq!(
            document_type(&m(None, Some("Notes.MD"))).unwrap(),
            "text/markdown"
        );
        assert_eq!(
            document_type(&m(Some("application/pdf"), Some("x.txt"))).unwrap(),
            "application/pdf"
        );
        for bad in [
            m(Some("image/png"), None),
            m(None, Some("a.docx")),
            m(None, None),
        ] {
            let e = document_type(&bad).unwrap_err();
            assert_eq!(e.code(), Code::UnsupportedDocumentType);
            assert_eq!(e.field(), Some("Upload-Metadata"));
        }
    }
}
