//! [`FactStore`] on PostgreSQL: a version is one transaction; the fact's
//! row is locked and checked at the version being replaced, so two
//! concurrent versions of one fact cannot both commit.

use async_trait::async_trait;
use pgvector::Vector;

use engram_core::{Memory, Result};
use engram_store::facts::{FactStore, Version};

use crate::PgStore;
use crate::rows::{self, COLUMNS, all};
use crate::sql::{MemoryRow, db_err, insert_memory_sql, update_memory_sql};

#[async_trait]
impl FactStore for PgStore {
    async fn write_version(&self, tenant_id: &str, v: Version<'_>) -> Result<bool> {
        let version = i32::try_from(v.earlier.memory.temporal.version).unwrap_or(i32::MAX);
        self.with_tenant(tenant_id, async |tx| {
            let found = tx
                .query_opt(
                    "SELECT 1 FROM memories WHERE tenant_id = $1 AND id = $2 AND version = $3 \
                     FOR UPDATE",
                    &[&tenant_id, &v.current.id, &version],
                )
                .await
                .map_err(db_err)?;
            if found.is_none() {
                return Ok(false);
            }
            let earlier = Vector::from(v.earlier.embedding.clone());
            tx.execute(
                &insert_memory_sql(),
                &MemoryRow::new(tenant_id, &v.earlier.memory).params(&earlier),
            )
            .await
            .map_err(db_err)?;
            let embedding = v.embedding.clone().map(Vector::from);
            tx.execute(
                &update_memory_sql(),
                &MemoryRow::new(tenant_id, v.current).params(&embedding),
            )
            .await
            .map_err(db_err)?;
            Ok(true)
        })
        .await
    }

    async fn history(&self, tenant_id: &str, id: &str) -> Result<Vec<Memory>> {
        let rows = self
            .tenant_query(
                tenant_id,
                &format!(
                    "SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = $1 \
                     AND (m.id = $2 OR m.version_of = $2) ORDER BY m.version, m.id"
                ),
                &[&tenant_id, &id],
            )
            .await?;
        all(&rows, rows::memory)
    }
}
