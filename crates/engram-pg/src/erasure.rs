//! Exact erasure in PostgreSQL: the same steps as the embedded store, in one
//! transaction confined to the tenant. The deleted rows are gone from every
//! query, dump and replica at commit; their old tuples stay in the table
//! files until autovacuum reuses the space (see docs/LIFECYCLE.md).

use async_trait::async_trait;
use tokio_postgres::types::Json;

use engram_core::Result;
use engram_core::erasure::Erased;
use engram_store::erasure::{ErasureStore, Scope};

use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use crate::PgStore;
use crate::rows::Stored;
use crate::sql::db_err;

#[async_trait]
impl ErasureStore for PgStore {
    async fn erase_user(&self, tenant_id: &str, user_id: &str) -> Result<Erased> {
        self.with_tenant(tenant_id, async |tx| {
            let own = tx
                .query(
                    "DELETE FROM memories WHERE tenant_id = $1 AND user_id = $2 \
                     RETURNING id, session_id",
                    &[&tenant_id, &user_id],
                )
                .await
                .map_err(db_err)?;
            let mut scope = Scope {
                user_id,
                ids: Default::default(),
                sessions: Default::default(),
            };
            for r in &own {
                let s = Stored::named(r, "erased memory");
                scope.ids.insert(s.get(0)?);
                if let Some(session) = s.get::<Option<String>>(1)? {
                    scope.sessions.insert(session);
                }
            }
            let cited = tx
                .query(
                    "SELECT id, sources FROM memories WHERE tenant_id = $1 \
                     AND cardinality(sources) > 0",
                    &[&tenant_id],
                )
                .await
                .map_err(db_err)?;
            let mut derived = Vec::new();
            for r in &cited {
                let s = Stored::named(r, "memory citing sources");
                if scope.derived_only(&s.get::<Vec<String>>(1)?) {
                    derived.push(s.get::<String>(0)?);
                }
            }
            exec(
                tx,
                "DELETE FROM memories WHERE tenant_id = $1 AND id = ANY($2)",
                &[&tenant_id, &derived],
            )
            .await?;
            scope.ids.extend(derived.iter().cloned());

            let conversations = exec(
                tx,
                "DELETE FROM conversations WHERE tenant_id = $1 AND user_id = $2",
                &[&tenant_id, &user_id],
            )
            .await?;
            let ids: Vec<&str> = scope.ids.iter().map(String::as_str).collect();
            // Scope::answered_with, as an array overlap.
            let idempotency_records = exec(
                tx,
                "DELETE FROM idempotency WHERE tenant_id = $1 AND ids && $2::text[]",
                &[&tenant_id, &ids],
            )
            .await?;
            let mut jobs = Vec::new();
            for r in &tx
                .query(
                    "SELECT id, payload FROM jobs WHERE tenant_id = $1",
                    &[&tenant_id],
                )
                .await
                .map_err(db_err)?
            {
                let s = Stored::named(r, "jobs row");
                let Json(payload): Json<serde_json::Value> = s.get(1)?;
                if scope.job_concerns(&payload) {
                    jobs.push(s.get::<String>(0)?);
                }
            }
            let jobs = exec(
                tx,
                "DELETE FROM jobs WHERE tenant_id = $1 AND id = ANY($2)",
                &[&tenant_id, &jobs],
            )
            .await?;
            Ok(Erased {
                memories: own.len() as u64,
                derived: derived.len() as u64,
                conversations,
                idempotency_records,
                jobs,
                ..Erased::default()
            })
        })
        .await
    }
}

/// One statement; the rows it changed.
async fn exec(tx: &Transaction<'_>, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    tx.execute(sql, params).await.map_err(db_err)
}
