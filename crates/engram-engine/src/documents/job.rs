//! `document`: a finished upload's text extracted, chunked and written as
//! memories (`session_id` = the document's id, so the chunks of a
//! document are found, replaced and deleted together). A run again after a
//! crash replaces the chunks the first one wrote: the chunks and the
//! document's new status are one store transaction.

use async_trait::async_trait;
use chrono::Utc;
use engram_core::chunk::{Chunk, chunk};
use engram_core::document::{Document, DocumentStatus};
use engram_core::{Error, Kind, NewMemory, Result};
use engram_store::jobs::Job;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::extract;
use crate::Engine;
use crate::jobs::JobHandler;

pub const DOCUMENT: &str = "document";

/// The label every chunk carries, so searches can keep to documents
/// (`filters.labels: ["document"]`) or leave them out.
const LABEL: &str = "document";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    document_id: String,
}

pub(crate) struct ProcessDocument;

/// A chunk as a memory of `d`.
fn memory(d: &Document, c: Chunk, index: usize, count: usize) -> NewMemory {
    let mut metadata = Map::new();
    metadata.insert("document_id".into(), json!(d.id));
    metadata.insert("document_title".into(), json!(d.title));
    if let Some(f) = &d.filename {
        metadata.insert("filename".into(), json!(f));
    }
    metadata.insert("content_type".into(), json!(d.content_type));
    metadata.insert("chunk_index".into(), json!(index));
    metadata.insert("chunk_count".into(), json!(count));
    metadata.insert("heading_path".into(), json!(c.headings));
    metadata.insert("text_offset".into(), json!(c.start));
    NewMemory {
        content: c.text,
        kind: Kind::Semantic,
        user_id: d.user_id.clone(),
        session_id: Some(d.id.clone()),
        labels: vec![LABEL.to_string()],
        metadata,
        ..Default::default()
    }
}

#[async_trait]
impl JobHandler for ProcessDocument {
    fn kind(&self) -> &'static str {
        DOCUMENT
    }

    async fn run(&self, engine: &Engine, job: &Job) -> Result<Value> {
        let p: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| Error::internal(format!("document job {}: bad payload: {e}", job.id)))?;
        let tenant = &job.tenant_id;
        let Some(mut d) = engine.store.get_document(tenant, &p.document_id).await? else {
            return Ok(json!({ "deleted": true }));
        };
        if d.status != DocumentStatus::Processing {
            return Ok(json!({ "status": d.status.as_str() }));
        }
        let bytes = engine
            .store
            .upload_bytes(tenant, &d.id)
            .await?
            .ok_or_else(|| Error::not_found(format!("document {}", d.id)))?;
        let content_type = d.content_type.clone();
        let text = tokio::task::spawn_blocking(move || extract::text(&content_type, bytes))
            .await
            .map_err(Error::internal)?;
        d.updated_at = Utc::now();
        let records = match text {
            Ok(text) => {
                let chunks = chunk(&text, &engine.documents.chunking);
                let count = chunks.len();
                let items: Vec<NewMemory> = chunks
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| memory(&d, c, i, count))
                    .collect();
                let records = engine
                    .prepare(tenant, items, |i| format!("chunks[{i}]."))
                    .await?;
                d.status = DocumentStatus::Ready;
                d.chunks = records.len() as u64;
                records
            }
            Err(reason) => {
                d.status = DocumentStatus::Failed;
                d.error = Some(reason);
                Vec::new()
            }
        };
        let written = engine.store.finish_document(tenant, &d, records).await?;
        metrics::counter!("engram_documents_processed_total", "status" => d.status.as_str())
            .increment(1);
        Ok(json!({
            "status": if written { d.status.as_str() } else { "deleted" },
            "chunks": d.chunks,
            "error": d.error,
        }))
    }
}
