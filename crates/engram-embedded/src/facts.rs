//! [`FactStore`] on SQLite: a version is one transaction that inserts the
//! earlier state and replaces the fact, both logged for the indexes.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params, params_from_iter};

use engram_core::{Memory, Result};
use engram_store::Record;
use engram_store::facts::{FactStore, Version};

use crate::memories::{insert_sql, update_sql};
use crate::rows::{COLUMNS, memory_from_row, memory_values, sql_err, vector_to_blob};
use crate::{EmbeddedStore, Inner, require_tenant};

impl Inner {
    fn write_version(&self, tenant_id: &str, v: Version<'_>) -> Result<bool> {
        let indexes = self.indexes()?;
        indexes.vectors.fits(&v.earlier.embedding)?;
        if let Some(e) = &v.embedding {
            indexes.vectors.fits(e)?;
        }
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            let fact: Option<i64> = tx
                .query_row(
                    "SELECT rowid FROM memories WHERE tenant_id = ? AND id = ? AND version = ?",
                    params![tenant_id, v.current.id, v.earlier.memory.temporal.version],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err)?;
            let Some(fact) = fact else { return Ok(false) };
            let mut values = vec![
                Value::Text(v.earlier.memory.id.clone()),
                Value::Text(tenant_id.to_string()),
            ];
            values.extend(memory_values(&v.earlier.memory)?);
            values.push(Value::Blob(vector_to_blob(&v.earlier.embedding)));
            tx.execute(&insert_sql(), params_from_iter(values))
                .map_err(sql_err)?;
            let earlier = tx.last_insert_rowid();
            let mut values = memory_values(v.current)?;
            values.push(Value::Integer(fact));
            tx.execute(&update_sql(), params_from_iter(values))
                .map_err(sql_err)?;
            if let Some(e) = &v.embedding {
                tx.execute(
                    "UPDATE memories SET embedding = ? WHERE rowid = ?",
                    params![vector_to_blob(e), fact],
                )
                .map_err(sql_err)?;
            }
            for rowid in [earlier, fact] {
                tx.execute(
                    "INSERT INTO index_log(tenant_seq, mem_rowid) VALUES (?, ?)",
                    params![seq, rowid],
                )
                .map_err(sql_err)?;
            }
            tx.commit().map_err(sql_err)?;
            indexes.upsert(seq, &[(earlier, &v.earlier)])?;
            match v.embedding {
                Some(embedding) => {
                    let record = Record {
                        memory: v.current.clone(),
                        embedding,
                    };
                    indexes.upsert(seq, &[(fact, &record)])?;
                }
                None => indexes.recatalog(seq, fact, v.current)?,
            }
            Ok(true)
        })
    }

    fn history(&self, tenant_id: &str, id: &str) -> Result<Vec<Memory>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = ? \
                     AND (m.id = ? OR m.version_of = ?) ORDER BY m.version, m.id"
                ))
                .map_err(sql_err)?;
            stmt.query_map(params![tenant_id, id, id], memory_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }
}

#[async_trait]
impl FactStore for EmbeddedStore {
    async fn write_version(&self, tenant_id: &str, v: Version<'_>) -> Result<bool> {
        let tenant_id = tenant_id.to_string();
        let (earlier, current, embedding) = (v.earlier, v.current.clone(), v.embedding);
        self.run(move |db| {
            db.write_version(
                &tenant_id,
                Version {
                    earlier,
                    current: &current,
                    embedding,
                },
            )
        })
        .await
    }

    async fn history(&self, tenant_id: &str, id: &str) -> Result<Vec<Memory>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.history(&tenant_id, &id)).await
    }
}
