//! Documents in SQLite, their upload bytes in files:
//! `uploads/<tenant seq>/<document id>.part` under the data directory (a
//! tenant's seq is never given again, so a file left behind names no
//! other tenant). An append truncates the file to the committed offset
//! (dropping bytes a crash left past it), writes, syncs, and only then
//! commits the new offset, all under the writer's lock, so two appends
//! to one upload never interleave and an acknowledged one survives a
//! crash. A document's chunks are rows of `memories` (`session_id` = its
//! id), written and deleted with the document in one transaction.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use engram_core::document::{Document, DocumentStatus};
use engram_core::query::Cursor;
use engram_core::{Error, Filter, Result};
use engram_store::Record;
use engram_store::documents::{Appended, DocumentStore};

use crate::memories::{delete_rows, insert_rows, matching_rows};
use crate::rows::{micros, read_back, sql_err, time};
use crate::{EmbeddedStore, Inner, require_tenant};

const DOCUMENT_COLUMNS: &str = "id, filename, title, content_type, user_id, length, \
     upload_offset, status, chunks, error, created_at, updated_at";

fn document_from_row(r: &Row<'_>) -> rusqlite::Result<Document> {
    let id: String = r.get(0)?;
    let row = format!("documents row {id}");
    let count = |i, column| -> rusqlite::Result<u64> {
        let v: i64 = r.get(i)?;
        read_back(&row, column, u64::try_from(v).map_err(|e| e.to_string()))
    };
    let status: String = r.get(7)?;
    Ok(Document {
        filename: r.get(1)?,
        title: r.get(2)?,
        content_type: r.get(3)?,
        user_id: r.get(4)?,
        length: count(5, "length")?,
        offset: count(6, "upload_offset")?,
        status: read_back(
            &row,
            "status",
            DocumentStatus::parse(&status).ok_or_else(|| format!("unknown status {status:?}")),
        )?,
        chunks: count(8, "chunks")?,
        error: r.get(9)?,
        created_at: read_back(&row, "created_at", time(r.get(10)?))?,
        updated_at: read_back(&row, "updated_at", time(r.get(11)?))?,
        id,
    })
}

fn get_document(c: &Connection, tenant_id: &str, id: &str) -> Result<Option<Document>> {
    c.query_row(
        &format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = ? AND id = ?"),
        params![tenant_id, id],
        document_from_row,
    )
    .optional()
    .map_err(sql_err)
}

fn sqlite_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The directory of a tenant's upload files.
pub(crate) fn tenant_uploads(dir: &Path, seq: i64) -> PathBuf {
    dir.join("uploads").join(seq.to_string())
}

/// Removes a deleted tenant's upload files; a failure is logged, not
/// returned: the tenant is gone, and its seq names no other tenant.
pub(crate) fn remove_tenant_uploads(dir: &Path, seq: i64) {
    let path = tenant_uploads(dir, seq);
    if let Err(e) = std::fs::remove_dir_all(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove a deleted tenant's uploads");
    }
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull {
        return Error::unavailable(format!(
            "no space left for upload {}; free space in ENGRAM_DATA_DIR",
            path.display()
        ));
    }
    Error::internal(format!("upload file {}: {e}", path.display()))
}

/// Removes a file that may not exist.
fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(path, e)),
        _ => Ok(()),
    }
}

/// Writes `bytes` at `offset` of the file and syncs it, dropping whatever
/// lay past `offset`.
fn write_at(path: &Path, offset: u64, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    f.set_len(offset).map_err(|e| io_err(path, e))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| io_err(path, e))?;
    f.write_all(bytes).map_err(|e| io_err(path, e))?;
    f.sync_data().map_err(|e| io_err(path, e))
}

impl Inner {
    fn upload_path(&self, seq: i64, id: &str) -> PathBuf {
        tenant_uploads(&self.dir, seq).join(format!("{id}.part"))
    }

    fn create_document(&self, tenant_id: &str, d: &Document) -> Result<()> {
        self.write(|conn| {
            require_tenant(conn, tenant_id)?;
            conn.execute(
                &format!(
                    "INSERT INTO documents(tenant_id, {DOCUMENT_COLUMNS}) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                params![
                    tenant_id,
                    d.id,
                    d.filename,
                    d.title,
                    d.content_type,
                    d.user_id,
                    sqlite_count(d.length),
                    sqlite_count(d.offset),
                    d.status.as_str(),
                    sqlite_count(d.chunks),
                    d.error,
                    micros(d.created_at),
                    micros(d.updated_at),
                ],
            )
            .map_err(sql_err)?;
            Ok(())
        })
    }

    fn list_documents(
        &self,
        tenant_id: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Document>> {
        let (at, id) = after.map_or((i64::MAX, String::new()), |c| {
            (c.occurred_at_us, c.id.clone())
        });
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = ?1 \
                     AND (created_at < ?2 OR (created_at = ?2 AND (?3 = '' OR id < ?3))) \
                     ORDER BY created_at DESC, id DESC LIMIT ?4"
                ))
                .map_err(sql_err)?;
            stmt.query_map(
                params![tenant_id, at, id, sqlite_count(limit as u64)],
                document_from_row,
            )
            .map_err(sql_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sql_err)
        })
    }

    fn append_upload(
        &self,
        tenant_id: &str,
        id: &str,
        offset: u64,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Appended> {
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let Some(mut d) = get_document(conn, tenant_id, id)? else {
                return Ok(Appended::NotFound);
            };
            let end = offset.saturating_add(bytes.len() as u64);
            if d.status != DocumentStatus::Uploading || d.offset != offset || end > d.length {
                return Ok(Appended::Conflict(d));
            }
            write_at(&self.upload_path(seq, id), offset, bytes)?;
            d.offset = end;
            d.updated_at = now;
            if d.offset == d.length {
                d.status = DocumentStatus::Processing;
            }
            conn.execute(
                "UPDATE documents SET upload_offset = ?, status = ?, updated_at = ? \
                 WHERE tenant_id = ? AND id = ?",
                params![
                    sqlite_count(d.offset),
                    d.status.as_str(),
                    micros(now),
                    tenant_id,
                    id
                ],
            )
            .map_err(sql_err)?;
            Ok(Appended::Stored(d))
        })
    }

    fn upload_bytes(&self, tenant_id: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let found = self.read(|c| {
            let Some(seq) = crate::tenant_seq(c, tenant_id)? else {
                return Ok(None);
            };
            Ok(get_document(c, tenant_id, id)?.map(|d| (seq, d.offset)))
        })?;
        let Some((seq, offset)) = found else {
            return Ok(None);
        };
        let path = self.upload_path(seq, id);
        let mut bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && offset == 0 => Vec::new(),
            Err(e) => return Err(io_err(&path, e)),
        };
        if (bytes.len() as u64) < offset {
            return Err(Error::inconsistent(
                format!("upload file {}", path.display()),
                format!("holds {} bytes, {offset} were acknowledged", bytes.len()),
            ));
        }
        bytes.truncate(offset as usize);
        Ok(Some(bytes))
    }

    fn finish_document(&self, tenant_id: &str, d: &Document, chunks: Vec<Record>) -> Result<bool> {
        let indexes = self.indexes()?;
        for r in &chunks {
            indexes.vectors.fits(&r.embedding)?;
        }
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            let n = tx
                .execute(
                    "UPDATE documents SET status = ?, chunks = ?, error = ?, updated_at = ? \
                     WHERE tenant_id = ? AND id = ?",
                    params![
                        d.status.as_str(),
                        sqlite_count(d.chunks),
                        d.error,
                        micros(d.updated_at),
                        tenant_id,
                        d.id
                    ],
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Ok(false);
            }
            let old = matching_rows(&tx, tenant_id, &chunks_of(&d.id))?;
            delete_rows(&tx, seq, &old)?;
            let fresh: Vec<&Record> = chunks.iter().collect();
            let rows = insert_rows(&tx, seq, tenant_id, &fresh)?;
            tx.commit().map_err(sql_err)?;
            for rowid in &old {
                indexes.delete(seq, *rowid)?;
            }
            let rows: Vec<(i64, &Record)> = rows.into_iter().zip(fresh).collect();
            indexes.upsert(seq, &rows)?;
            Ok(true)
        })
    }

    fn delete_document(&self, tenant_id: &str, id: &str) -> Result<Option<u64>> {
        let indexes = self.indexes()?;
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            let n = tx
                .execute(
                    "DELETE FROM documents WHERE tenant_id = ? AND id = ?",
                    params![tenant_id, id],
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Ok(None);
            }
            let rows = matching_rows(&tx, tenant_id, &chunks_of(id))?;
            delete_rows(&tx, seq, &rows)?;
            tx.commit().map_err(sql_err)?;
            for rowid in &rows {
                indexes.delete(seq, *rowid)?;
            }
            // After the commit: a crash before this leaves a file no row
            // names, which nothing reads and the tenant's deletion removes.
            remove(&self.upload_path(seq, id))?;
            Ok(Some(rows.len() as u64))
        })
    }

    fn document_ids(
        &self,
        tenant_id: &str,
        sql: &str,
        arg: rusqlite::types::Value,
    ) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(sql).map_err(sql_err)?;
            stmt.query_map(params![tenant_id, arg], |r| r.get(0))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }
}

/// The memories that are a document's chunks.
fn chunks_of(id: &str) -> Filter {
    Filter {
        session_id: Some(id.to_string()),
        ..Default::default()
    }
}

#[async_trait]
impl DocumentStore for EmbeddedStore {
    async fn create_document(&self, tenant_id: &str, d: &Document) -> Result<()> {
        let (tenant_id, d) = (tenant_id.to_string(), d.clone());
        self.run(move |db| db.create_document(&tenant_id, &d)).await
    }

    async fn get_document(&self, tenant_id: &str, id: &str) -> Result<Option<Document>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.read(|c| get_document(c, &tenant_id, &id)))
            .await
    }

    async fn list_documents(
        &self,
        tenant_id: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Document>> {
        let (tenant_id, after) = (tenant_id.to_string(), after.cloned());
        self.run(move |db| db.list_documents(&tenant_id, after.as_ref(), limit))
            .await
    }

    async fn append_upload(
        &self,
        tenant_id: &str,
        id: &str,
        offset: u64,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Appended> {
        let (tenant_id, id, bytes) = (tenant_id.to_string(), id.to_string(), bytes.to_vec());
        self.run(move |db| db.append_upload(&tenant_id, &id, offset, &bytes, now))
            .await
    }

    async fn upload_bytes(&self, tenant_id: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.upload_bytes(&tenant_id, &id)).await
    }

    async fn finish_document(
        &self,
        tenant_id: &str,
        d: &Document,
        chunks: Vec<Record>,
    ) -> Result<bool> {
        let (tenant_id, d) = (tenant_id.to_string(), d.clone());
        self.run(move |db| db.finish_document(&tenant_id, &d, chunks))
            .await
    }

    async fn delete_document(&self, tenant_id: &str, id: &str) -> Result<Option<u64>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.delete_document(&tenant_id, &id))
            .await
    }

    async fn user_documents(&self, tenant_id: &str, user_id: &str) -> Result<Vec<String>> {
        let (tenant_id, user) = (tenant_id.to_string(), user_id.to_string());
        self.run(move |db| {
            db.document_ids(
                &tenant_id,
                "SELECT id FROM documents WHERE tenant_id = ? AND user_id = ?",
                user.into(),
            )
        })
        .await
    }

    async fn stale_uploads(&self, tenant_id: &str, before: DateTime<Utc>) -> Result<Vec<String>> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| {
            db.document_ids(
                &tenant_id,
                "SELECT id FROM documents WHERE tenant_id = ? AND status = 'uploading' \
                 AND updated_at < ?",
                micros(before).into(),
            )
        })
        .await
    }
}
