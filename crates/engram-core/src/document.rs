//! Documents: a file uploaded in resumable pieces (tus 1.0), then split
//! into chunks that become memories. The upload and the document are one
//! row with one id, so a client follows one thing from its first byte to
//! its last chunk.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::query::Cursor;
use crate::{Error, Result};

/// The types a document may have; anything else is refused at creation
/// (415), before a byte is stored.
pub const CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "text/markdown",
    "text/html",
    "application/pdf",
];

/// The accepted type `declared` names (parameters such as `; charset=utf-8`
/// and case ignored).
pub fn content_type(declared: &str) -> Option<&'static str> {
    let essence = declared.split(';').next().unwrap_or("").trim();
    CONTENT_TYPES
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(essence))
}

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Bytes are still arriving (`offset` < `length`).
    Uploading,
    /// Complete; a job extracts and chunks it.
    Processing,
    /// Its chunks are memories.
    Ready,
    /// Its text could not be extracted; `error` says why.
    Failed,
}

impl DocumentStatus {
    pub const ALL: [DocumentStatus; 4] = [
        DocumentStatus::Uploading,
        DocumentStatus::Processing,
        DocumentStatus::Ready,
        DocumentStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Uploading => "uploading",
            DocumentStatus::Processing => "processing",
            DocumentStatus::Ready => "ready",
            DocumentStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentStatus> {
        DocumentStatus::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A document and its upload.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Document {
    pub id: String,
    /// `filename` of the upload's metadata.
    pub filename: Option<String>,
    /// `title` of the metadata, else the file name, else the id: what each
    /// chunk's metadata names the document by.
    pub title: String,
    /// One of [`CONTENT_TYPES`].
    pub content_type: String,
    /// The user whose memories the chunks become (erased with the user).
    pub user_id: Option<String>,
    /// Bytes the upload declared (`Upload-Length`).
    pub length: u64,
    /// Bytes received and stored so far (`Upload-Offset`).
    pub offset: u64,
    pub status: DocumentStatus,
    /// Memories written from it (when `ready`).
    pub chunks: u64,
    /// Why extraction failed (when `failed`).
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Document {
    /// Where a listing resumes after this document (newest first).
    pub fn cursor(&self) -> Cursor {
        Cursor {
            occurred_at_us: self.created_at.timestamp_micros(),
            id: self.id.clone(),
        }
    }
}

/// One page of `GET /v1/documents`, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    pub items: Vec<Document>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The `Upload-Metadata` keys a document takes (tus: `key base64value`
/// pairs, already decoded).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadMetadata {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub title: Option<String>,
    pub user_id: Option<String>,
}

impl UploadMetadata {
    /// Takes the known keys from decoded pairs; unknown keys are refused
    /// so a misspelt `user_id` does not silently leave a document unowned.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<UploadMetadata> {
        let mut m = UploadMetadata::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "filename" => &mut m.filename,
                "filetype" | "content_type" => &mut m.content_type,
                "title" => &mut m.title,
                "user_id" => &mut m.user_id,
                other => {
                    return Err(Error::invalid(
                        "Upload-Metadata",
                        format!(
                            "has an unknown key {other:?}; the keys are filename, filetype (or content_type), title and user_id"
                        ),
                    ));
                }
            };
            if v.is_empty() || v.chars().count() > 512 {
                return Err(Error::invalid(
                    "Upload-Metadata",
                    format!("{k} must be 1 to 512 characters"),
                ));
            }
            *slot = Some(v);
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_ignore_parameters_and_case() {
        assert_eq!(
            content_type("text/Markdown; charset=utf-8"),
            Some("text/markdown")
        );
        assert_eq!(content_type("application/pdf"), Some("application/pdf"));
        assert_eq!(content_type("image/png"), None);
        assert_eq!(content_type(""), None);
    }

    #[test]
    fn statuses_round_trip() {
        for s in DocumentStatus::ALL {
            assert_eq!(DocumentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DocumentStatus::parse("done"), None);
    }

    #[test]
    fn metadata_takes_known_keys_and_names_the_unknown() {
        let m = UploadMetadata::from_pairs(vec![
            ("filename".into(), "a.md".into()),
            ("filetype".into(), "text/markdown".into()),
            ("user_id".into(), "u1".into()),
        ])
        .unwrap();
        assert_eq!(m.filename.as_deref(), Some("a.md"));
        assert_eq!(m.content_type.as_deref(), Some("text/markdown"));
        assert_eq!(m.user_id.as_deref(), Some("u1"));
        let e = UploadMetadata::from_pairs(vec![("owner".into(), "x".into())]).unwrap_err();
        assert_eq!(e.field(), Some("Upload-Metadata"));
    }
}
