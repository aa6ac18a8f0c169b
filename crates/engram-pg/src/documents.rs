//! Documents on PostgreSQL. Replicas are stateless, so an upload's bytes
//! cannot be a file on one of them: each appended piece is a `bytea` row
//! of `upload_pieces`, written in the same transaction as the new offset
//! (under `FOR UPDATE` of the document row, so two appends to one upload
//! take turns), and any replica can take the next piece or read the whole
//! upload. Pieces are at most a PATCH body each, so no row nears
//! PostgreSQL's 1 GB value limit, and they go with their document
//! (`ON DELETE CASCADE`). A document's chunks are rows of `memories`
//! (`session_id` = its id), written and deleted with it in one
//! transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use engram_core::document::{Document, DocumentStatus};
use engram_core::query::Cursor;
use engram_core::{Error, Result};
use engram_store::Record;
use engram_store::documents::{Appended, DocumentStore};

use crate::PgStore;
use crate::memories::insert_rows;
use crate::rows::{Stored, all};
use crate::sql::{db_err, is_foreign_key_violation, time_from_micros};

const DOCUMENT_COLUMNS: &str = "id, filename, title, content_type, user_id, length, \
     upload_offset, status, chunks, error, created_at, updated_at";

fn count(s: &Stored<'_>, i: usize) -> Result<u64> {
    s.parse(i, |v: i64| u64::try_from(v).map_err(|e| e.to_string()))
}

fn document(r: &Row) -> Result<Document> {
    let s = Stored::new(r, "documents", 0);
    Ok(Document {
        id: s.get(0)?,
        filename: s.get(1)?,
        title: s.get(2)?,
        content_type: s.get(3)?,
        user_id: s.get(4)?,
        length: count(&s, 5)?,
        offset: count(&s, 6)?,
        status: s.parse(7, |v: String| {
            DocumentStatus::parse(&v).ok_or_else(|| format!("unknown status {v:?}"))
        })?,
        chunks: count(&s, 8)?,
        error: s.get(9)?,
        created_at: s.get(10)?,
        updated_at: s.get(11)?,
    })
}

fn pg_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const SELECT_FOR_UPDATE: &str = "SELECT id, filename, title, content_type, user_id, length, \
     upload_offset, status, chunks, error, created_at, updated_at \
     FROM documents WHERE tenant_id = $1 AND id = $2 FOR UPDATE";

/// Deletes the document's chunks (its memories) in the caller's
/// transaction; how many.
async fn delete_chunks(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant_id: &str,
    id: &str,
) -> Result<u64> {
    tx.execute(
        "DELETE FROM memories WHERE tenant_id = $1 AND session_id = $2",
        &[&tenant_id, &id],
    )
    .await
    .map_err(db_err)
}

#[async_trait]
impl DocumentStore for PgStore {
    async fn create_document(&self, tenant_id: &str, d: &Document) -> Result<()> {
        let (length, offset, chunks) = (pg_count(d.length), pg_count(d.offset), pg_count(d.chunks));
        self.with_tenant(tenant_id, async |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO documents(tenant_id, {DOCUMENT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ),
                &[
                    &tenant_id,
                    &d.id,
                    &d.filename,
                    &d.title,
                    &d.content_type,
                    &d.user_id,
                    &length,
                    &offset,
                    &d.status.as_str(),
                    &chunks,
                    &d.error,
                    &d.created_at,
                    &d.updated_at,
                ],
            )
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    Error::not_found(format!("tenant {tenant_id}"))
                } else {
                    db_err(e)
                }
            })
        })
        .await?;
        Ok(())
    }

    async fn get_document(&self, tenant_id: &str, id: &str) -> Result<Option<Document>> {
        let rows = self
            .tenant_query(
                tenant_id,
                &format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = $1 AND id = $2"
                ),
                &[&tenant_id, &id],
            )
            .await?;
        rows.first().map(document).transpose()
    }

    async fn list_documents(
        &self,
        tenant_id: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Document>> {
        let (at, id) = match after {
            Some(c) => (time_from_micros(c.occurred_at_us)?, c.id.clone()),
            None => (DateTime::<Utc>::MAX_UTC, String::new()),
        };
        let limit = pg_count(limit as u64);
        let rows = self
            .tenant_query(
                tenant_id,
                &format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = $1 \
                     AND (created_at < $2 OR (created_at = $2 AND ($3 = '' OR id < $3))) \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                ),
                &[&tenant_id, &at, &id, &limit],
            )
            .await?;
        all(&rows, document)
    }

    async fn append_upload(
        &self,
        tenant_id: &str,
        id: &str,
        offset: u64,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Appended> {
        self.with_tenant(tenant_id, async |tx| {
            let Some(row) = tx
                .query_opt(SELECT_FOR_UPDATE, &[&tenant_id, &id])
                .await
                .map_err(db_err)?
            else {
                return Ok(Appended::NotFound);
            };
            let mut d = document(&row)?;
            let end = offset.saturating_add(bytes.len() as u64);
            if d.status != DocumentStatus::Uploading || d.offset != offset || end > d.length {
                return Ok(Appended::Conflict(d));
            }
            tx.execute(
                "INSERT INTO upload_pieces(tenant_id, document_id, start_offset, bytes) \
                 VALUES ($1, $2, $3, $4)",
                &[&tenant_id, &id, &pg_count(offset), &bytes],
            )
            .await
            .map_err(db_err)?;
            d.offset = end;
            d.updated_at = now;
            if d.offset == d.length {
                d.status = DocumentStatus::Processing;
            }
            tx.execute(
                "UPDATE documents SET upload_offset = $3, status = $4, updated_at = $5 \
                 WHERE tenant_id = $1 AND id = $2",
                &[
                    &tenant_id,
                    &id,
                    &pg_count(d.offset),
                    &d.status.as_str(),
                    &now,
                ],
            )
            .await
            .map_err(db_err)?;
            Ok(Appended::Stored(d))
        })
        .await
    }

    async fn upload_bytes(&self, tenant_id: &str, id: &str) -> Result<Option<Vec<u8>>> {
        self.with_tenant(tenant_id, async |tx| {
            let Some(row) = tx
                .query_opt(
                    "SELECT upload_offset FROM documents WHERE tenant_id = $1 AND id = $2",
                    &[&tenant_id, &id],
                )
                .await
                .map_err(db_err)?
            else {
                return Ok(None);
            };
            let offset = count(&Stored::named(&row, format!("documents row {id}")), 0)?;
            let pieces = tx
                .query(
                    "SELECT start_offset, bytes FROM upload_pieces \
                     WHERE tenant_id = $1 AND document_id = $2 ORDER BY start_offset",
                    &[&tenant_id, &id],
                )
                .await
                .map_err(db_err)?;
            let mut bytes = Vec::with_capacity(offset as usize);
            for p in &pieces {
                let s = Stored::named(p, format!("upload_pieces of {id}"));
                let (start, piece): (u64, Vec<u8>) = (count(&s, 0)?, s.get(1)?);
                if start != bytes.len() as u64 {
                    return Err(Error::inconsistent(
                        format!("upload_pieces of document {id}"),
                        format!(
                            "a piece starts at {start}, the one before ends at {}",
                            bytes.len()
                        ),
                    ));
                }
                bytes.extend_from_slice(&piece);
            }
            if bytes.len() as u64 != offset {
                return Err(Error::inconsistent(
                    format!("upload_pieces of document {id}"),
                    format!("hold {} bytes, {offset} were acknowledged", bytes.len()),
                ));
            }
            Ok(Some(bytes))
        })
        .await
    }

    async fn finish_document(
        &self,
        tenant_id: &str,
        d: &Document,
        chunks: Vec<Record>,
    ) -> Result<bool> {
        self.with_tenant(tenant_id, async |tx| {
            let n = tx
                .execute(
                    "UPDATE documents SET status = $3, chunks = $4, error = $5, updated_at = $6 \
                     WHERE tenant_id = $1 AND id = $2",
                    &[
                        &tenant_id,
                        &d.id,
                        &d.status.as_str(),
                        &pg_count(d.chunks),
                        &d.error,
                        &d.updated_at,
                    ],
                )
                .await
                .map_err(db_err)?;
            if n == 0 {
                return Ok(false);
            }
            delete_chunks(tx, tenant_id, &d.id).await?;
            insert_rows(tx, tenant_id, chunks.iter(), db_err).await?;
            Ok(true)
        })
        .await
    }

    async fn delete_document(&self, tenant_id: &str, id: &str) -> Result<Option<u64>> {
        self.with_tenant(tenant_id, async |tx| {
            // The pieces go with the row (ON DELETE CASCADE).
            let n = tx
                .execute(
                    "DELETE FROM documents WHERE tenant_id = $1 AND id = $2",
                    &[&tenant_id, &id],
                )
                .await
                .map_err(db_err)?;
            if n == 0 {
                return Ok(None);
            }
            Ok(Some(delete_chunks(tx, tenant_id, id).await?))
        })
        .await
    }

    async fn user_documents(&self, tenant_id: &str, user_id: &str) -> Result<Vec<String>> {
        let rows = self
            .tenant_query(
                tenant_id,
                "SELECT id FROM documents WHERE tenant_id = $1 AND user_id = $2",
                &[&tenant_id, &user_id],
            )
            .await?;
        all(&rows, |r| Stored::new(r, "documents", 0).get(0))
    }

    async fn stale_uploads(&self, tenant_id: &str, before: DateTime<Utc>) -> Result<Vec<String>> {
        let rows = self
            .tenant_query(
                tenant_id,
                "SELECT id FROM documents WHERE tenant_id = $1 AND status = 'uploading' \
                 AND updated_at < $2",
                &[&tenant_id, &before],
            )
            .await?;
        all(&rows, |r| Stored::new(r, "documents", 0).get(0))
    }
}
