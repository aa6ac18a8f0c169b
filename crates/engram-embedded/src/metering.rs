//! Usage and budgets in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Row, params};

use engram_core::{Error, Result};
use engram_store::metering::{
    Budget, BudgetMetric, BudgetPeriod, MeteringStore, Spent, UsageGroup, UsageRecord, UsageRow,
};

use crate::rows::{micros, sql_err, time};
use crate::{EmbeddedStore, require_tenant};

fn usage_row(r: &Row<'_>) -> rusqlite::Result<UsageRow> {
    let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
    Ok(UsageRow {
        group: r.get(0)?,
        calls: n(1)?,
        input_tokens: n(2)?,
        output_tokens: n(3)?,
        cost: r.get(4)?,
        duration_ms: n(5)?,
    })
}

fn budget(r: &Row<'_>) -> Result<Budget> {
    let get = |i: usize| r.get::<_, String>(i).map_err(sql_err);
    let (tenant_id, project, metric, period) = (get(0)?, get(1)?, get(2)?, get(3)?);
    let what = || format!("budgets row of tenant {tenant_id} project {project:?}");
    Ok(Budget {
        metric: BudgetMetric::parse(&metric)
            .ok_or_else(|| Error::inconsistent(what(), format!("unknown metric {metric:?}")))?,
        period: BudgetPeriod::parse(&period)
            .ok_or_else(|| Error::inconsistent(what(), format!("unknown period {period:?}")))?,
        limit: r.get(4).map_err(sql_err)?,
        hard: r.get::<_, i64>(5).map_err(sql_err)? != 0,
        updated_at: time(r.get(6).map_err(sql_err)?).map_err(|e| Error::inconsistent(what(), e))?,
        project: (!project.is_empty()).then_some(project),
        tenant_id,
    })
}

#[async_trait]
impl MeteringStore for EmbeddedStore {
    async fn record_usage(&self, records: &[UsageRecord]) -> Result<()> {
        let records = records.to_vec();
        self.run(move |db| {
            db.write(|conn| {
                let tx = conn.transaction().map_err(sql_err)?;
                for u in &records {
                    require_tenant(&tx, &u.tenant_id)?;
                    tx.execute(
                        "INSERT INTO usage(tenant_id, project, kind, model, calls, input_tokens, \
                         output_tokens, cost, duration_ms, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        params![
                            u.tenant_id,
                            u.project,
                            u.kind,
                            u.model,
                            u.calls as i64,
                            u.input_tokens as i64,
                            u.output_tokens as i64,
                            u.cost,
                            u.duration_ms as i64,
                            micros(u.at)
                        ],
                    )
                    .map_err(sql_err)?;
                }
                tx.commit().map_err(sql_err)
            })
        })
        .await
    }

    async fn usage(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group: UsageGroup,
    ) -> Result<Vec<UsageRow>> {
        let key = match group {
            UsageGroup::Day => "strftime('%Y-%m-%d', at / 1000000, 'unixepoch')",
            UsageGroup::Kind => "kind",
            UsageGroup::Project => "coalesce(project, '')",
        };
        let sql = format!(
            "SELECT {key} AS g, sum(calls), sum(input_tokens), sum(output_tokens), sum(cost), \
             sum(duration_ms) FROM usage WHERE tenant_id = ? AND at >= ? AND at < ? GROUP BY g ORDER BY g"
        );
        let tenant_id = tenant_id.to_string();
        self.run(move |db| {
            db.read(|conn| {
                let mut stmt = conn.prepare(&sql).map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![tenant_id, micros(from), micros(to)], usage_row)
                    .map_err(sql_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
            })
        })
        .await
    }

    async fn spent_since(
        &self,
        tenant_id: &str,
        project: Option<&str>,
        from: DateTime<Utc>,
        except_kind: &str,
    ) -> Result<Spent> {
        let (tenant_id, project, except) = (
            tenant_id.to_string(),
            project.map(str::to_string),
            except_kind.to_string(),
        );
        self.run(move |db| {
            db.read(|conn| {
                conn.query_row(
                    "SELECT coalesce(sum(input_tokens + output_tokens), 0), coalesce(sum(cost), 0.0) \
                     FROM usage WHERE tenant_id = ?1 AND at >= ?2 AND kind <> ?3 \
                     AND (?4 IS NULL OR project = ?4)",
                    params![tenant_id, micros(from), except, project],
                    |r| {
                        Ok(Spent {
                            tokens: r.get::<_, i64>(0)?.max(0) as u64,
                            cost: r.get(1)?,
                        })
                    },
                )
                .map_err(sql_err)
            })
        })
        .await
    }

    async fn set_budget(&self, b: &Budget) -> Result<()> {
        let b = b.clone();
        self.run(move |db| {
            db.write(|conn| {
                require_tenant(conn, &b.tenant_id)?;
                conn.execute(
                    "INSERT INTO budgets(tenant_id, project, metric, period, limit_value, hard, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, project, metric, period) \
                     DO UPDATE SET limit_value = excluded.limit_value, hard = excluded.hard, \
                     updated_at = excluded.updated_at",
                    params![
                        b.tenant_id,
                        b.project.clone().unwrap_or_default(),
                        b.metric.as_str(),
                        b.period.as_str(),
                        b.limit,
                        b.hard as i64,
                        micros(b.updated_at)
                    ],
                )
                .map_err(sql_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn budgets(&self, tenant_id: &str) -> Result<Vec<Budget>> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| {
            db.read(|conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT tenant_id, project, metric, period, limit_value, hard, updated_at \
                         FROM budgets WHERE tenant_id = ? ORDER BY project, metric, period",
                    )
                    .map_err(sql_err)?;
                let mut rows = stmt.query([&tenant_id]).map_err(sql_err)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(sql_err)? {
                    out.push(budget(r)?);
                }
                Ok(out)
            })
        })
        .await
    }

    async fn delete_budget(
        &self,
        tenant_id: &str,
        project: Option<&str>,
        metric: BudgetMetric,
        period: BudgetPeriod,
    ) -> Result<bool> {
        let (tenant_id, project) = (tenant_id.to_string(), project.unwrap_or("").to_string());
        self.run(move |db| {
            db.write(|conn| {
                let n = conn
                    .execute(
                        "DELETE FROM budgets WHERE tenant_id = ? AND project = ? AND metric = ? AND period = ?",
                        params![tenant_id, project, metric.as_str(), period.as_str()],
                    )
                    .map_err(sql_err)?;
                Ok(n == 1)
            })
        })
        .await
    }
}
