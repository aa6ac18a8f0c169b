//! Maintenance leases, run records and retention policies in PostgreSQL.
//!
//! A lease is a row taken in one upsert that succeeds only when the row is
//! free, expired or already the taker's, so of two replicas trying at once
//! exactly one gets it; the database's clock times it, so replicas with
//! skewed clocks agree on when it expired.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use engram_core::Result;
use engram_core::retention::Policy;
use engram_store::maintenance::{LeaseStore, TaskRun, TaskTotals};
use engram_store::retention::RetentionStore;

use crate::PgStore;
use crate::rows::Stored;
use crate::sql::{db_err, tenant_missing};

fn task_run(r: &Row) -> Result<TaskRun> {
    let s = Stored::named(r, "maintenance_runs row");
    let Json(counts): Json<BTreeMap<String, u64>> = s.get(5)?;
    Ok(TaskRun {
        task: s.get(0)?,
        holder: s.get(1)?,
        started_at: s.get(2)?,
        finished_at: s.get(3)?,
        error: s.get(4)?,
        counts,
    })
}

fn count(r: &Stored<'_>, i: usize) -> Result<u64> {
    Ok(r.get::<i64>(i)?.max(0) as u64)
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn take_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO leases AS l (name, holder, until) \
                 VALUES ($1, $2, now() + make_interval(secs => $3)) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
                 WHERE l.holder = excluded.holder OR l.until < now()",
                &[&name, &holder, &ttl.as_secs_f64()],
            )
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str, keep: Duration) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE leases SET until = now() + make_interval(secs => $3) \
                 WHERE name = $1 AND holder = $2",
                &[&name, &holder, &keep.as_secs_f64()],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn record_task_run(&self, run: &TaskRun) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO maintenance_runs(task, holder, started_at, finished_at, error, counts) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &run.task,
                    &run.holder,
                    &run.started_at,
                    &run.finished_at,
                    &run.error,
                    &Json(&run.counts),
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn task_totals(&self) -> Result<Vec<TaskTotals>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT task, count(*) FILTER (WHERE error IS NULL), count(*) FILTER (WHERE error IS NOT NULL), \
                 max(finished_at) FILTER (WHERE error IS NULL), \
                 (SELECT extract(epoch FROM l.finished_at - l.started_at)::float8 FROM maintenance_runs l \
                  WHERE l.task = r.task ORDER BY l.finished_at DESC LIMIT 1) \
                 FROM maintenance_runs r GROUP BY task ORDER BY task",
                &[],
            )
            .await
            .map_err(db_err)?;
        let mut totals = BTreeMap::new();
        for row in &rows {
            let s = Stored::named(row, "maintenance_runs totals");
            let t = TaskTotals {
                task: s.get(0)?,
                runs_ok: count(&s, 1)?,
                runs_failed: count(&s, 2)?,
                last_success: s.get(3)?,
                last_duration_seconds: s.get::<f64>(4)?.max(0.0),
                items: BTreeMap::new(),
            };
            totals.insert(t.task.clone(), t);
        }
        let items = client
            .query(
                "SELECT task, j.key, sum(j.value::bigint)::bigint \
                 FROM maintenance_runs, jsonb_each_text(counts) j GROUP BY task, j.key",
                &[],
            )
            .await
            .map_err(db_err)?;
        for row in &items {
            let s = Stored::named(row, "maintenance_runs counts");
            let task: String = s.get(0)?;
            if let Some(t) = totals.get_mut(&task) {
                t.items.insert(s.get(1)?, count(&s, 2)?);
            }
        }
        Ok(totals.into_values().collect())
    }

    async fn task_runs(&self, task: &str, limit: usize) -> Result<Vec<TaskRun>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client()
            .await?
            .query(
                "SELECT task, holder, started_at, finished_at, error, counts FROM maintenance_runs \
                 WHERE task = $1 ORDER BY finished_at DESC, id DESC LIMIT $2",
                &[&task, &limit],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(task_run).collect()
    }
}

#[async_trait]
impl RetentionStore for PgStore {
    async fn set_retention(&self, tenant_id: &str, policies: &[Policy]) -> Result<()> {
        self.tenant_execute(
            tenant_id,
            "INSERT INTO retention_policies(tenant_id, policies, updated_at) VALUES ($1, $2, now()) \
             ON CONFLICT (tenant_id) DO UPDATE SET policies = excluded.policies, updated_at = now()",
            &[&tenant_id, &Json(policies)],
        )
        .await
        .map_err(tenant_missing(tenant_id))?;
        Ok(())
    }

    async fn retention(&self, tenant_id: &str) -> Result<Vec<Policy>> {
        let rows = self
            .tenant_query(
                tenant_id,
                "SELECT policies FROM retention_policies WHERE tenant_id = $1",
                &[&tenant_id],
            )
            .await?;
        match rows.first() {
            None => Ok(Vec::new()),
            Some(row) => {
                let s = Stored::named(row, format!("retention_policies row of tenant {tenant_id}"));
                let Json(policies): Json<Vec<Policy>> = s.get(0)?;
                Ok(policies)
            }
        }
    }

    async fn delete_retention(&self, tenant_id: &str) -> Result<bool> {
        let n = self
            .tenant_execute(
                tenant_id,
                "DELETE FROM retention_policies WHERE tenant_id = $1",
                &[&tenant_id],
            )
            .await?;
        Ok(n > 0)
    }
}
