//! The job queue in PostgreSQL, shared by every replica: a claim is one
//! `UPDATE` of the row a `FOR UPDATE SKIP LOCKED` subquery picked, so two
//! replicas claiming at once take two different jobs and never wait for
//! each other; the database's clock times leases, so replicas with skewed
//! clocks agree on when one expired.

use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use engram_core::Result;
use engram_store::jobs::{Job, JobStatus, JobStore, NewJob, Retry};
use serde_json::Value;

use crate::PgStore;
use crate::rows::Stored;
use crate::sql::{db_err, tenant_missing};

const COLUMNS: &str = "id, tenant_id, kind, payload, status, dedupe_key, attempts, max_attempts, \
     last_error, result, run_after, lease_until, claim, worker, created_at, updated_at";

fn job(r: &Row) -> Result<Job> {
    let s = Stored::new(r, "jobs", 0);
    let count = |i: usize| s.parse(i, |n: i32| u32::try_from(n).map_err(|e| e.to_string()));
    Ok(Job {
        id: s.get(0)?,
        tenant_id: s.get(1)?,
        kind: s.get(2)?,
        payload: s.get(3)?,
        status: s.parse(4, |v: &str| {
            JobStatus::parse(v).ok_or_else(|| format!("unknown status {v:?}"))
        })?,
        dedupe_key: s.get(5)?,
        attempts: count(6)?,
        max_attempts: count(7)?,
        last_error: s.get(8)?,
        result: s.get(9)?,
        run_after: s.get(10)?,
        lease_until: s.get(11)?,
        claim: s.get(12)?,
        worker: s.get(13)?,
        created_at: s.get(14)?,
        updated_at: s.get(15)?,
    })
}

/// Lets this transaction see every tenant's jobs (the policy's exception).
const SEE_ALL: &str = "SELECT set_config('engram.jobs', 'claim', true)";

impl PgStore {
    /// Ends `j`'s claimed attempt by setting `set` ($4.. are `values`).
    async fn finish_job(
        &self,
        j: &Job,
        set: &str,
        values: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<bool> {
        let Some(claim) = &j.claim else {
            return Ok(false);
        };
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&j.tenant_id, &j.id, claim];
        params.extend_from_slice(values);
        let n = self
            .tenant_execute(
                &j.tenant_id,
                &format!(
                    "UPDATE jobs SET {set}, lease_until = NULL, claim = NULL, updated_at = now() \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND claim = $3"
                ),
                &params,
            )
            .await?;
        Ok(n == 1)
    }
}

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue_job(&self, tenant_id: &str, j: &NewJob) -> Result<Job> {
        let max_attempts = i32::try_from(j.max_attempts.max(1)).unwrap_or(i32::MAX);
        let payload = Json(&j.payload);
        self.with_tenant(tenant_id, async |tx| {
            // Inserted unless an unfinished job holds the dedupe key (the
            // partial unique index decides, race-free across replicas).
            let inserted = tx
                .query_opt(
                    &format!(
                        "INSERT INTO jobs({COLUMNS}) VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, NULL, NULL, \
                         $7, NULL, NULL, NULL, now(), now()) \
                         ON CONFLICT (tenant_id, kind, dedupe_key) WHERE status NOT IN ('done', 'dead') \
                         DO NOTHING RETURNING {COLUMNS}"
                    ),
                    &[&j.id, &tenant_id, &j.kind, &payload, &j.dedupe_key, &max_attempts, &j.run_after],
                )
                .await
                .map_err(db_err)?;
            if let Some(row) = inserted {
                return job(&row);
            }
            let row = tx
                .query_one(
                    &format!(
                        "SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND kind = $2 AND dedupe_key = $3 \
                         AND status NOT IN ('done', 'dead')"
                    ),
                    &[&tenant_id, &j.kind, &j.dedupe_key],
                )
                .await
                .map_err(db_err)?;
            job(&row)
        })
        .await
        .map_err(tenant_missing(tenant_id))
    }

    async fn claim_job(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
    ) -> Result<Option<Job>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        let lease = lease.as_secs_f64();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        tx.execute(SEE_ALL, &[]).await.map_err(db_err)?;
        let row = tx
            .query_opt(
                &format!(
                    "UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, \
                       lease_until = now() + $3 * interval '1 second', \
                       claim = $1 || ':' || (j.attempts + 1), worker = $1, updated_at = now() \
                     WHERE (j.tenant_id, j.id) = ( \
                       SELECT tenant_id, id FROM jobs \
                        WHERE kind = ANY($2) \
                          AND ((status IN ('queued', 'failed') AND run_after <= now()) \
                            OR (status = 'running' AND lease_until <= now())) \
                        ORDER BY run_after, id LIMIT 1 \
                        FOR UPDATE SKIP LOCKED) \
                     RETURNING {COLUMNS}"
                ),
                &[&worker, &kinds, &lease],
            )
            .await
            .map_err(db_err)?;
        let claimed = row.as_ref().map(job).transpose()?;
        tx.commit().await.map_err(db_err)?;
        Ok(claimed)
    }

    async fn complete_job(&self, j: &Job, result: &Value) -> Result<bool> {
        self.finish_job(j, "status = 'done', result = $4", &[&Json(result)])
            .await
    }

    async fn fail_job(&self, j: &Job, error: &str, retry: Retry) -> Result<bool> {
        match retry {
            Retry::At(at) => {
                self.finish_job(
                    j,
                    "status = 'failed', last_error = $4, run_after = $5",
                    &[&error, &at],
                )
                .await
            }
            Retry::Never => {
                self.finish_job(j, "status = 'dead', last_error = $4", &[&error])
                    .await
            }
        }
    }

    async fn get_job(&self, tenant_id: &str, id: &str) -> Result<Option<Job>> {
        let rows = self
            .tenant_query(
                tenant_id,
                &format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"),
                &[&tenant_id, &id],
            )
            .await?;
        rows.first().map(job).transpose()
    }

    async fn count_jobs(&self) -> Result<Vec<(JobStatus, u64)>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        tx.execute(SEE_ALL, &[]).await.map_err(db_err)?;
        let rows = tx
            .query("SELECT status, count(*) FROM jobs GROUP BY status", &[])
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let s = Stored::named(r, "jobs status count");
                let status = s.parse(0, |v: &str| {
                    JobStatus::parse(v).ok_or_else(|| format!("unknown status {v:?}"))
                })?;
                Ok((status, s.get::<i64>(1)?.max(0) as u64))
            })
            .collect()
    }
}
