//! Maintenance leases, run records and retention policies in SQLite.
//!
//! A lease is a row with an expiry, taken in one upsert by the single
//! writer connection; SQLite's locking makes that atomic for a second
//! process on the same file too.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{OptionalExtension, Row, params};

use engram_core::retention::Policy;
use engram_core::{Error, Result};
use engram_store::maintenance::{LeaseStore, TaskRun, TaskTotals};
use engram_store::retention::RetentionStore;

use crate::rows::{inconsistent, micros, sql_err, time};
use crate::{EmbeddedStore, require_tenant};

fn until(ttl: Duration) -> i64 {
    micros(Utc::now()) + i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX / 2)
}

fn counts(json: &str, what: &str) -> rusqlite::Result<BTreeMap<String, u64>> {
    serde_json::from_str(json).map_err(|e| inconsistent(what, e))
}

fn task_run(r: &Row<'_>) -> rusqlite::Result<TaskRun> {
    let what = "maintenance_runs row";
    let at =
        |i: usize| -> rusqlite::Result<_> { time(r.get(i)?).map_err(|e| inconsistent(what, e)) };
    Ok(TaskRun {
        task: r.get(0)?,
        holder: r.get(1)?,
        started_at: at(2)?,
        finished_at: at(3)?,
        error: r.get(4)?,
        counts: counts(&r.get::<_, String>(5)?, what)?,
    })
}

#[async_trait]
impl LeaseStore for EmbeddedStore {
    async fn take_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(move |db| {
            db.write(|conn| {
                let n = conn
                    .execute(
                        "INSERT INTO leases AS l (name, holder, until) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
                         WHERE l.holder = excluded.holder OR l.until < ?4",
                        params![name, holder, until(ttl), micros(Utc::now())],
                    )
                    .map_err(sql_err)?;
                Ok(n == 1)
            })
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str, keep: Duration) -> Result<()> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(move |db| {
            db.write(|conn| {
                conn.execute(
                    "UPDATE leases SET until = ? WHERE name = ? AND holder = ?",
                    params![until(keep), name, holder],
                )
                .map_err(sql_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn record_task_run(&self, run: &TaskRun) -> Result<()> {
        let run = run.clone();
        let counts = serde_json::to_string(&run.counts).map_err(Error::internal)?;
        self.run(move |db| {
            db.write(|conn| {
                conn.execute(
                    "INSERT INTO maintenance_runs(task, holder, started_at, finished_at, error, counts) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                    params![
                        run.task,
                        run.holder,
                        micros(run.started_at),
                        micros(run.finished_at),
                        run.error,
                        counts
                    ],
                )
                .map_err(sql_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn task_totals(&self) -> Result<Vec<TaskTotals>> {
        self.run(|db| {
            db.read(|conn| {
                let what = "maintenance_runs totals";
                let mut totals: BTreeMap<String, TaskTotals> = BTreeMap::new();
                let mut stmt = conn
                    .prepare(
                        "SELECT task, sum(error IS NULL), sum(error IS NOT NULL), \
                         max(CASE WHEN error IS NULL THEN finished_at END), \
                         (SELECT finished_at - started_at FROM maintenance_runs l WHERE l.task = r.task \
                          ORDER BY finished_at DESC LIMIT 1) \
                         FROM maintenance_runs r GROUP BY task",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([], |r| {
                        let last: Option<i64> = r.get(3)?;
                        Ok(TaskTotals {
                            task: r.get(0)?,
                            runs_ok: r.get::<_, i64>(1)?.max(0) as u64,
                            runs_failed: r.get::<_, i64>(2)?.max(0) as u64,
                            last_success: last
                                .map(time)
                                .transpose()
                                .map_err(|e| inconsistent(what, e))?,
                            last_duration_seconds: r.get::<_, i64>(4)?.max(0) as f64 / 1e6,
                            items: BTreeMap::new(),
                        })
                    })
                    .map_err(sql_err)?;
                for t in rows {
                    let t = t.map_err(sql_err)?;
                    totals.insert(t.task.clone(), t);
                }
                let mut stmt = conn
                    .prepare(
                        "SELECT task, j.key, sum(j.value) FROM maintenance_runs, json_each(counts) j \
                         GROUP BY task, j.key",
                    )
                    .map_err(sql_err)?;
                let items = stmt
                    .query_map([], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                    })
                    .map_err(sql_err)?;
                for item in items {
                    let (task, outcome, n) = item.map_err(sql_err)?;
                    if let Some(t) = totals.get_mut(&task) {
                        t.items.insert(outcome, n.max(0) as u64);
                    }
                }
                Ok(totals.into_values().collect())
            })
        })
        .await
    }

    async fn task_runs(&self, task: &str, limit: usize) -> Result<Vec<TaskRun>> {
        let task = task.to_string();
        self.run(move |db| {
            db.read(|conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT task, holder, started_at, finished_at, error, counts FROM maintenance_runs \
                         WHERE task = ? ORDER BY finished_at DESC, rowid DESC LIMIT ?",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![task, limit as i64], task_run)
                    .map_err(sql_err)?;
                rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
            })
        })
        .await
    }
}

#[async_trait]
impl RetentionStore for EmbeddedStore {
    async fn set_retention(&self, tenant_id: &str, policies: &[Policy]) -> Result<()> {
        let tenant_id = tenant_id.to_string();
        let json = serde_json::to_string(policies).map_err(Error::internal)?;
        self.run(move |db| {
            db.write(|conn| {
                require_tenant(conn, &tenant_id)?;
                conn.execute(
                    "INSERT INTO retention_policies(tenant_id, policies, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (tenant_id) DO UPDATE SET policies = ?2, updated_at = ?3",
                    params![tenant_id, json, micros(Utc::now())],
                )
                .map_err(sql_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn retention(&self, tenant_id: &str) -> Result<Vec<Policy>> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| {
            db.read(|conn| {
                let json: Option<String> = conn
                    .query_row(
                        "SELECT policies FROM retention_policies WHERE tenant_id = ?",
                        [&tenant_id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql_err)?;
                json.map_or(Ok(Vec::new()), |j| {
                    serde_json::from_str(&j).map_err(|e| {
                        Error::inconsistent(
                            format!("retention_policies row of tenant {tenant_id}"),
                            e,
                        )
                    })
                })
            })
        })
        .await
    }

    async fn delete_retention(&self, tenant_id: &str) -> Result<bool> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| {
            db.write(|conn| {
                let n = conn
                    .execute(
                        "DELETE FROM retention_policies WHERE tenant_id = ?",
                        [&tenant_id],
                    )
                    .map_err(sql_err)?;
                Ok(n > 0)
            })
        })
        .await
    }
}
