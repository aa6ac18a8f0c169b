//! Usage and budgets in PostgreSQL, each query inside its tenant.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use engram_core::{Error, Result};
use engram_store::metering::{
    Budget, BudgetMetric, BudgetPeriod, MeteringStore, Spent, UsageGroup, UsageRecord, UsageRow,
};

use crate::PgStore;
use crate::rows::Stored;
use crate::sql::tenant_missing;

fn usage_row(r: &Row) -> Result<UsageRow> {
    let s = Stored::named(r, "usage totals");
    let n = |i: usize| s.get::<i64>(i).map(|v| v.max(0) as u64);
    Ok(UsageRow {
        group: s.get(0)?,
        calls: n(1)?,
        input_tokens: n(2)?,
        output_tokens: n(3)?,
        cost: s.get(4)?,
        duration_ms: n(5)?,
    })
}

fn budget(r: &Row) -> Result<Budget> {
    let s = Stored::named(r, "budgets row");
    let project: String = s.get(1)?;
    Ok(Budget {
        tenant_id: s.get(0)?,
        metric: s.parse(2, |v: &str| {
            BudgetMetric::parse(v).ok_or_else(|| format!("unknown metric {v:?}"))
        })?,
        period: s.parse(3, |v: &str| {
            BudgetPeriod::parse(v).ok_or_else(|| format!("unknown period {v:?}"))
        })?,
        limit: s.get(4)?,
        hard: s.get(5)?,
        updated_at: s.get(6)?,
        project: (!project.is_empty()).then_some(project),
    })
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl MeteringStore for PgStore {
    async fn record_usage(&self, records: &[UsageRecord]) -> Result<()> {
        for u in records {
            self.tenant_execute(
                &u.tenant_id,
                "INSERT INTO usage(tenant_id, project, kind, model, calls, input_tokens, output_tokens, \
                 cost, duration_ms, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &u.tenant_id,
                    &u.project,
                    &u.kind,
                    &u.model,
                    &count(u.calls),
                    &count(u.input_tokens),
                    &count(u.output_tokens),
                    &u.cost,
                    &count(u.duration_ms),
                    &u.at,
                ],
            )
            .await
            .map_err(tenant_missing(&u.tenant_id))?;
        }
        Ok(())
    }

    async fn usage(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group: UsageGroup,
    ) -> Result<Vec<UsageRow>> {
        let key = match group {
            UsageGroup::Day => "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            UsageGroup::Kind => "kind",
            UsageGroup::Project => "coalesce(project, '')",
        };
        let rows = self
            .tenant_query(
                tenant_id,
                &format!(
                    "SELECT {key} AS g, sum(calls)::int8, sum(input_tokens)::int8, sum(output_tokens)::int8, \
                     sum(cost)::float8, sum(duration_ms)::int8 FROM usage \
                     WHERE tenant_id = $1 AND at >= $2 AND at < $3 GROUP BY g ORDER BY g"
                ),
                &[&tenant_id, &from, &to],
            )
            .await?;
        rows.iter().map(usage_row).collect()
    }

    async fn spent_since(
        &self,
        tenant_id: &str,
        project: Option<&str>,
        from: DateTime<Utc>,
        except_kind: &str,
    ) -> Result<Spent> {
        let rows = self
            .tenant_query(
                tenant_id,
                "SELECT coalesce(sum(input_tokens + output_tokens), 0)::int8, coalesce(sum(cost), 0)::float8 \
                 FROM usage WHERE tenant_id = $1 AND at >= $2 AND kind <> $3 \
                 AND ($4::text IS NULL OR project = $4)",
                &[&tenant_id, &from, &except_kind, &project],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| Error::internal("an aggregate returned no row"))?;
        let s = Stored::named(row, "usage totals");
        Ok(Spent {
            tokens: s.get::<i64>(0)?.max(0) as u64,
            cost: s.get(1)?,
        })
    }

    async fn set_budget(&self, b: &Budget) -> Result<()> {
        let project = b.project.clone().unwrap_or_default();
        self.tenant_execute(
            &b.tenant_id,
            "INSERT INTO budgets(tenant_id, project, metric, period, limit_value, hard, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, project, metric, period) \
             DO UPDATE SET limit_value = excluded.limit_value, hard = excluded.hard, \
             updated_at = excluded.updated_at",
            &[
                &b.tenant_id,
                &project,
                &b.metric.as_str(),
                &b.period.as_str(),
                &b.limit,
                &b.hard,
                &b.updated_at,
            ],
        )
        .await
        .map_err(tenant_missing(&b.tenant_id))?;
        Ok(())
    }

    async fn budgets(&self, tenant_id: &str) -> Result<Vec<Budget>> {
        let rows = self
            .tenant_query(
                tenant_id,
                "SELECT tenant_id, project, metric, period, limit_value, hard, updated_at FROM budgets \
                 WHERE tenant_id = $1 ORDER BY project, metric, period",
                &[&tenant_id],
            )
            .await?;
        rows.iter().map(budget).collect()
    }

    async fn delete_budget(
        &self,
        tenant_id: &str,
        project: Option<&str>,
        metric: BudgetMetric,
        period: BudgetPeriod,
    ) -> Result<bool> {
        let n = self
            .tenant_execute(
                tenant_id,
                "DELETE FROM budgets WHERE tenant_id = $1 AND project = $2 AND metric = $3 AND period = $4",
                &[&tenant_id, &project.unwrap_or(""), &metric.as_str(), &period.as_str()],
            )
            .await?;
        Ok(n == 1)
    }
}
