//! The job queue in SQLite. One process serves a data directory (the lock
//! file), and every write goes through the one writer connection, so a
//! claim is one transaction: pick the job due longest, mark it running.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Row, params};

use engram_core::{Error, Result};
use engram_store::jobs::{Job, JobStatus, JobStore, NewJob, Retry};
use serde_json::Value;

use crate::rows::{micros, sql_err, time};
use crate::{EmbeddedStore, require_tenant};

const COLUMNS: &str = "id, tenant_id, kind, payload, status, dedupe_key, attempts, max_attempts, \
     last_error, result, run_after, lease_until, claim, worker, created_at, updated_at";

/// A job row read back, every column checked.
fn job(r: &Row<'_>) -> rusqlite::Result<Job> {
    let id: String = r.get(0)?;
    let bad = |col: &str, reason: String| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            Box::new(Error::inconsistent(
                format!("jobs row {id} ({col})"),
                reason,
            )),
        )
    };
    let json = |name: &str, text: Option<String>| {
        text.map(|t| serde_json::from_str(&t).map_err(|e| bad(name, e.to_string())))
            .transpose()
    };
    let t = |v: i64, name: &str| time(v).map_err(|e| bad(name, e));
    let status: String = r.get(4)?;
    let lease: Option<i64> = r.get(11)?;
    Ok(Job {
        tenant_id: r.get(1)?,
        kind: r.get(2)?,
        payload: json("payload", Some(r.get(3)?))?.unwrap_or_default(),
        status: JobStatus::parse(&status)
            .ok_or_else(|| bad("status", format!("unknown status {status:?}")))?,
        dedupe_key: r.get(5)?,
        attempts: r.get(6)?,
        max_attempts: r.get(7)?,
        last_error: r.get(8)?,
        result: json("result", r.get(9)?)?,
        run_after: t(r.get(10)?, "run_after")?,
        lease_until: lease.map(|l| t(l, "lease_until")).transpose()?,
        claim: r.get(12)?,
        worker: r.get(13)?,
        created_at: t(r.get(14)?, "created_at")?,
        updated_at: t(r.get(15)?, "updated_at")?,
        id,
    })
}

fn by_id(conn: &Connection, tenant_id: &str, id: &str) -> Result<Option<Job>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = ? AND id = ?"),
        [tenant_id, id],
        job,
    )
    .optional()
    .map_err(sql_err)
}

fn enqueue(conn: &mut Connection, tenant_id: &str, j: &NewJob) -> Result<Job> {
    let tx = conn.transaction().map_err(sql_err)?;
    require_tenant(&tx, tenant_id)?;
    if let Some(key) = &j.dedupe_key {
        let existing = tx
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM jobs WHERE tenant_id = ? AND kind = ? AND dedupe_key = ? \
                     AND status NOT IN ('done', 'dead')"
                ),
                [tenant_id, &j.kind, key],
                job,
            )
            .optional()
            .map_err(sql_err)?;
        if let Some(existing) = existing {
            return Ok(existing);
        }
    }
    let now = micros(Utc::now());
    tx.execute(
        &format!(
            "INSERT INTO jobs({COLUMNS}) VALUES (?, ?, ?, ?, 'queued', ?, 0, ?, NULL, NULL, ?, NULL, NULL, NULL, ?, ?)"
        ),
        params![
            j.id,
            tenant_id,
            j.kind,
            j.payload.to_string(),
            j.dedupe_key,
            j.max_attempts.max(1),
            micros(j.run_after),
            now,
            now
        ],
    )
    .map_err(sql_err)?;
    let stored = by_id(&tx, tenant_id, &j.id)?
        .ok_or_else(|| Error::internal("a job just inserted is not found"))?;
    tx.commit().map_err(sql_err)?;
    Ok(stored)
}

fn claim(
    conn: &mut Connection,
    worker: &str,
    kinds: &[&str],
    lease: Duration,
) -> Result<Option<Job>> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(lease).map_err(Error::internal)?;
    let kinds_json = serde_json::to_string(kinds).map_err(Error::internal)?;
    let tx = conn.transaction().map_err(sql_err)?;
    let id: Option<(String, String)> = tx
        .query_row(
            "SELECT id, tenant_id FROM jobs \
             WHERE kind IN (SELECT value FROM json_each(?1)) \
               AND ((status IN ('queued', 'failed') AND run_after <= ?2) \
                 OR (status = 'running' AND lease_until <= ?2)) \
             ORDER BY run_after, id LIMIT 1",
            params![kinds_json, micros(now)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql_err)?;
    let Some((id, tenant)) = id else {
        return Ok(None);
    };
    // The attempt number makes each claim's token unique to it.
    tx.execute(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?1, \
         claim = ?2 || ':' || (attempts + 1), worker = ?2, updated_at = ?3 WHERE id = ?4",
        params![micros(until), worker, micros(now), id],
    )
    .map_err(sql_err)?;
    let claimed = by_id(&tx, &tenant, &id)?;
    tx.commit().map_err(sql_err)?;
    Ok(claimed)
}

/// Ends the attempt of `j`'s claim with these columns; false when the claim
/// is no longer the job's.
fn finish(conn: &Connection, j: &Job, set: &str, values: &[&dyn rusqlite::ToSql]) -> Result<bool> {
    let Some(claim) = &j.claim else {
        return Ok(false);
    };
    let now = micros(Utc::now());
    let mut all: Vec<&dyn rusqlite::ToSql> = values.to_vec();
    all.extend([&now as &dyn rusqlite::ToSql, &j.tenant_id, &j.id, claim]);
    let n = conn
        .execute(
            &format!(
                "UPDATE jobs SET {set}, lease_until = NULL, claim = NULL, updated_at = ? \
                 WHERE tenant_id = ? AND id = ? AND status = 'running' AND claim = ?"
            ),
            all.as_slice(),
        )
        .map_err(sql_err)?;
    Ok(n == 1)
}

#[async_trait]
impl JobStore for EmbeddedStore {
    async fn enqueue_job(&self, tenant_id: &str, job: &NewJob) -> Result<Job> {
        let (tenant_id, job) = (tenant_id.to_string(), job.clone());
        self.run(move |db| db.write(|conn| enqueue(conn, &tenant_id, &job)))
            .await
    }

    async fn claim_job(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
    ) -> Result<Option<Job>> {
        let worker = worker.to_string();
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        self.run(move |db| {
            let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
            db.write(|conn| claim(conn, &worker, &kinds, lease))
        })
        .await
    }

    async fn complete_job(&self, job: &Job, result: &Value) -> Result<bool> {
        let (job, result) = (job.clone(), result.to_string());
        self.run(move |db| {
            db.write(|conn| finish(conn, &job, "status = 'done', result = ?", &[&result]))
        })
        .await
    }

    async fn fail_job(&self, job: &Job, error: &str, retry: Retry) -> Result<bool> {
        let (job, error) = (job.clone(), error.to_string());
        self.run(move |db| {
            db.write(|conn| match retry {
                Retry::At(at) => finish(
                    conn,
                    &job,
                    "status = 'failed', last_error = ?, run_after = ?",
                    &[&error, &micros(at)],
                ),
                Retry::Never => finish(conn, &job, "status = 'dead', last_error = ?", &[&error]),
            })
        })
        .await
    }

    async fn get_job(&self, tenant_id: &str, id: &str) -> Result<Option<Job>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.read(|conn| by_id(conn, &tenant_id, &id)))
            .await
    }

    async fn count_jobs(&self) -> Result<Vec<(JobStatus, u64)>> {
        self.run(|db| {
            db.read(|conn| {
                let mut stmt = conn
                    .prepare("SELECT status, count(*) FROM jobs GROUP BY status")
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(sql_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (status, n) = row.map_err(sql_err)?;
                    let status = JobStatus::parse(&status).ok_or_else(|| {
                        Error::inconsistent("jobs table", format!("unknown status {status:?}"))
                    })?;
                    out.push((status, n as u64));
                }
                Ok(out)
            })
        })
        .await
    }

    async fn prune_jobs(&self, before: chrono::DateTime<Utc>) -> Result<u64> {
        self.run(move |db| {
            db.write(|conn| {
                conn.execute(
                    "DELETE FROM jobs WHERE status IN ('done', 'dead') AND updated_at < ?",
                    [micros(before)],
                )
                .map(|n| n as u64)
                .map_err(sql_err)
            })
        })
        .await
    }
}
