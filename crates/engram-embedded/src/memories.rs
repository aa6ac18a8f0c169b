//! Writing, reading and deleting memories: every change committed with its
//! `index_log` row, then applied to the in-memory indexes.

use chrono::Utc;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use engram_core::{Code, Error, Filter, Memory, Result};
use engram_store::{Idempotency, IdempotentResult, InsertOutcome, Listing, Record};

use crate::rows::{
    COLUMNS, WRITTEN, filter_sql, memory_from_row, memory_values, micros, record_from_row, sql_err,
    vector_to_blob,
};
use crate::{Inner, require_tenant};

/// Removes rows and logs the removals for the indexes, inside the caller's
/// transaction.
pub(crate) fn delete_rows(tx: &Connection, seq: i64, rows: &[i64]) -> Result<()> {
    for rowid in rows {
        tx.execute("DELETE FROM memories WHERE rowid = ?", [rowid])
            .map_err(sql_err)?;
        tx.execute(
            "INSERT INTO index_log(tenant_seq, mem_rowid) VALUES (?, ?)",
            params![seq, rowid],
        )
        .map_err(sql_err)?;
    }
    Ok(())
}

/// Inserts one memory: its id, tenant, [`WRITTEN`] values and embedding.
pub(crate) fn insert_sql() -> String {
    format!(
        "INSERT INTO memories(id, tenant_id, {}, embedding) VALUES (?, ?, {}, ?)",
        WRITTEN.join(", "),
        vec!["?"; WRITTEN.len()].join(", ")
    )
}

/// Replaces the [`WRITTEN`] values of the row whose rowid follows them.
pub(crate) fn update_sql() -> String {
    let set: Vec<String> = WRITTEN.iter().map(|c| format!("{c} = ?")).collect();
    format!("UPDATE memories SET {} WHERE rowid = ?", set.join(", "))
}

/// Records the idempotency key for `ids` inside the caller's transaction;
/// false when another request already holds it (nothing to write then).
pub(crate) fn claim_key(
    tx: &Connection,
    tenant_id: &str,
    idem: Option<&Idempotency>,
    ids: &[&str],
) -> Result<bool> {
    let Some(i) = idem else { return Ok(true) };
    let n = tx
        .execute(
            "INSERT INTO idempotency(tenant_id, key, fingerprint, ids, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            params![
                tenant_id,
                i.key,
                i.fingerprint,
                serde_json::to_string(ids).map_err(Error::internal)?,
                micros(Utc::now())
            ],
        )
        .map_err(sql_err)?;
    Ok(n > 0)
}

/// Inserts the rows with their `index_log` entries inside the caller's
/// transaction; their rowids, in order. The caller puts them in the
/// indexes once it committed.
pub(crate) fn insert_rows(
    tx: &Connection,
    seq: i64,
    tenant_id: &str,
    records: &[&Record],
) -> Result<Vec<i64>> {
    let mut added = Vec::with_capacity(records.len());
    let mut ins = tx.prepare_cached(&insert_sql()).map_err(sql_err)?;
    let mut log = tx
        .prepare_cached("INSERT INTO index_log(tenant_seq, mem_rowid) VALUES (?, ?)")
        .map_err(sql_err)?;
    for r in records {
        let mut values = vec![
            Value::Text(r.memory.id.clone()),
            Value::Text(tenant_id.to_string()),
        ];
        values.extend(memory_values(&r.memory)?);
        values.push(Value::Blob(vector_to_blob(&r.embedding)));
        ins.execute(params_from_iter(values)).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Error::conflict(
                    Code::MemoryIdTaken,
                    format!("a memory with id {} already exists", r.memory.id),
                )
            }
            e => sql_err(e),
        })?;
        let rowid = tx.last_insert_rowid();
        log.execute(params![seq, rowid]).map_err(sql_err)?;
        added.push(rowid);
    }
    Ok(added)
}

/// The tenant's rows that pass `filter`.
pub(crate) fn matching_rows(c: &Connection, tenant_id: &str, filter: &Filter) -> Result<Vec<i64>> {
    let mut params = vec![Value::Text(tenant_id.to_string())];
    let sql = format!(
        "SELECT m.rowid FROM memories m WHERE m.tenant_id = ?{}",
        filter_sql(filter, &mut params)
    );
    let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
    stmt.query_map(params_from_iter(params), |r| r.get(0))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)
}

impl Inner {
    pub(crate) fn insert(
        &self,
        tenant_id: &str,
        records: Vec<Record>,
        idem: Option<Idempotency>,
    ) -> Result<InsertOutcome> {
        let indexes = self.indexes()?;
        for r in &records {
            indexes.vectors.fits(&r.embedding)?;
        }
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            let ids: Vec<&str> = records.iter().map(|r| r.memory.id.as_str()).collect();
            if !claim_key(&tx, tenant_id, idem.as_ref(), &ids)? {
                return Ok(InsertOutcome::KeyTaken);
            }
            let all: Vec<&Record> = records.iter().collect();
            let added = insert_rows(&tx, seq, tenant_id, &all)?;
            tx.commit().map_err(sql_err)?;
            let rows: Vec<(i64, &Record)> = added.iter().copied().zip(&records).collect();
            indexes.upsert(seq, &rows)?;
            Ok(InsertOutcome::Inserted)
        })
    }

    pub(crate) fn idempotent_result(
        &self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<IdempotentResult>> {
        self.read(|c| {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT fingerprint, ids FROM idempotency WHERE tenant_id = ? AND key = ?",
                    params![tenant_id, key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql_err)?;
            row.map(|(fingerprint, ids)| {
                let ids = serde_json::from_str(&ids).map_err(|e| {
                    Error::inconsistent(
                        format!("idempotency row {key} of tenant {tenant_id}"),
                        format!("ids: not the JSON engram writes ({e})"),
                    )
                })?;
                Ok(IdempotentResult { fingerprint, ids })
            })
            .transpose()
        })
    }

    pub(crate) fn get(&self, tenant_id: &str, id: &str) -> Result<Option<Memory>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = ? AND m.id = ?"),
                params![tenant_id, id],
                memory_from_row,
            )
            .optional()
            .map_err(sql_err)
        })
    }

    pub(crate) fn get_records(&self, tenant_id: &str, ids: &[String]) -> Result<Vec<Record>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS}, m.embedding FROM memories m WHERE m.tenant_id = ? AND m.id = ?"
                ))
                .map_err(sql_err)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(r) = stmt
                    .query_row(params![tenant_id, id], record_from_row)
                    .optional()
                    .map_err(sql_err)?
                {
                    out.push(r);
                }
            }
            Ok(out)
        })
    }

    pub(crate) fn update(
        &self,
        tenant_id: &str,
        m: &Memory,
        embedding: Option<Vec<f32>>,
    ) -> Result<bool> {
        let indexes = self.indexes()?;
        if let Some(v) = &embedding {
            indexes.vectors.fits(v)?;
        }
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            let old: Option<i64> = tx
                .query_row(
                    "SELECT rowid FROM memories WHERE tenant_id = ? AND id = ?",
                    params![tenant_id, m.id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err)?;
            let Some(rowid) = old else { return Ok(false) };
            let mut values = memory_values(m)?;
            values.push(Value::Integer(rowid));
            tx.execute(&update_sql(), params_from_iter(values))
                .map_err(sql_err)?;
            if let Some(e) = &embedding {
                tx.execute(
                    "UPDATE memories SET embedding = ? WHERE rowid = ?",
                    params![vector_to_blob(e), rowid],
                )
                .map_err(sql_err)?;
            }
            // Logged even when only the catalogued fields changed, so a
            // crash before the next save replays them too.
            tx.execute(
                "INSERT INTO index_log(tenant_seq, mem_rowid) VALUES (?, ?)",
                params![seq, rowid],
            )
            .map_err(sql_err)?;
            tx.commit().map_err(sql_err)?;
            match embedding {
                Some(embedding) => {
                    let record = Record {
                        memory: m.clone(),
                        embedding,
                    };
                    indexes.upsert(seq, &[(rowid, &record)])?;
                }
                None => indexes.recatalog(seq, rowid, m)?,
            }
            Ok(true)
        })
    }

    pub(crate) fn delete(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let indexes = self.indexes()?;
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            let row: Option<i64> = tx
                .query_row(
                    "SELECT rowid FROM memories WHERE tenant_id = ? AND id = ?",
                    params![tenant_id, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err)?;
            let Some(rowid) = row else { return Ok(false) };
            delete_rows(&tx, seq, &[rowid])?;
            tx.commit().map_err(sql_err)?;
            indexes.delete(seq, rowid)?;
            Ok(true)
        })
    }

    pub(crate) fn list(&self, tenant_id: &str, listing: &Listing<'_>) -> Result<Vec<Memory>> {
        let Listing {
            filter,
            limit,
            after,
        } = *listing;
        self.read(|c| {
            let mut params = vec![Value::Text(tenant_id.to_string())];
            let mut sql = format!("SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = ?");
            sql.push_str(&filter_sql(filter, &mut params));
            if let Some(cur) = after {
                sql.push_str(" AND (m.occurred_at < ? OR (m.occurred_at = ? AND m.id < ?))");
                params.extend([
                    Value::Integer(cur.occurred_at_us),
                    Value::Integer(cur.occurred_at_us),
                    Value::Text(cur.id.clone()),
                ]);
            }
            sql.push_str(" ORDER BY m.occurred_at DESC, m.id DESC LIMIT ?");
            params.push(Value::Integer(limit as i64));
            let mut stmt = c.prepare(&sql).map_err(sql_err)?;
            stmt.query_map(params_from_iter(params), memory_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }

    pub(crate) fn export_page(
        &self,
        tenant_id: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Record>> {
        self.read(|c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {COLUMNS}, m.embedding FROM memories m WHERE m.tenant_id = ? AND m.id > ? \
                     ORDER BY m.id LIMIT ?"
                ))
                .map_err(sql_err)?;
            stmt.query_map(params![tenant_id, after, limit as i64], record_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }

    pub(crate) fn delete_where(&self, tenant_id: &str, filter: &Filter) -> Result<u64> {
        let indexes = self.indexes()?;
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            let rows = matching_rows(&tx, tenant_id, filter)?;
            delete_rows(&tx, seq, &rows)?;
            tx.commit().map_err(sql_err)?;
            for rowid in &rows {
                indexes.delete(seq, *rowid)?;
            }
            Ok(rows.len() as u64)
        })
    }

    pub(crate) fn count_memories(&self) -> Result<u64> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM memories", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(sql_err)
        })
    }
}
