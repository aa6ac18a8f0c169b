//! Usage reports and budgets as the API serves them: the admin sets and
//! reads budgets per tenant (optionally per project), a tenant reads its
//! own usage.

use chrono::{DateTime, Datelike, Utc};
use engram_core::budget::validate_project;
use engram_core::{Error, Result};
use engram_store::metering::{BudgetMetric, BudgetPeriod};

use crate::Engine;
use crate::metering::period_window;

pub use engram_store::metering::{Budget, UsageGroup, UsageRow};

/// Longest span one usage report covers.
const MAX_REPORT_DAYS: i64 = 366;

/// A budget to set.
#[derive(Debug, Clone)]
pub struct BudgetSpec {
    pub project: Option<String>,
    pub metric: BudgetMetric,
    pub period: BudgetPeriod,
    pub limit: f64,
    pub hard: bool,
}

/// A budget with what it has used in the current period.
#[derive(Debug, Clone)]
pub struct BudgetStatus {
    pub budget: Budget,
    pub used: f64,
    pub resets_at: DateTime<Utc>,
}

impl Engine {
    pub(crate) async fn require_tenant(&self, tenant: &str) -> Result<()> {
        match self.store.get_tenant(tenant).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found(format!("tenant {tenant}"))),
        }
    }

    async fn status(&self, budget: Budget) -> Result<BudgetStatus> {
        let (start, resets_at) = period_window(budget.period, Utc::now());
        let used = self.used(&budget, start).await?;
        Ok(BudgetStatus {
            budget,
            used,
            resets_at,
        })
    }

    /// Sets (or replaces) the tenant's budget of this project, metric and
    /// period.
    pub async fn set_budget(&self, tenant: &str, spec: BudgetSpec) -> Result<BudgetStatus> {
        if let Some(p) = &spec.project {
            validate_project(p).map_err(|e| Error::invalid("project", e))?;
        }
        if !(spec.limit.is_finite() && spec.limit >= 0.0) {
            return Err(Error::invalid(
                "limit",
                "must be a number of at least 0 (0 refuses every call)",
            ));
        }
        self.require_tenant(tenant).await?;
        let budget = Budget {
            tenant_id: tenant.to_string(),
            project: spec.project,
            metric: spec.metric,
            period: spec.period,
            limit: spec.limit,
            hard: spec.hard,
            updated_at: Utc::now(),
        };
        self.store.set_budget(&budget).await?;
        self.gauge_budgets(tenant).await?;
        self.status(budget).await
    }

    /// The tenant's budgets with what each has used.
    pub async fn budgets(&self, tenant: &str) -> Result<Vec<BudgetStatus>> {
        self.require_tenant(tenant).await?;
        let mut out = Vec::new();
        for b in self.store.budgets(tenant).await? {
            out.push(self.status(b).await?);
        }
        Ok(out)
    }

    pub async fn delete_budget(
        &self,
        tenant: &str,
        project: Option<&str>,
        metric: BudgetMetric,
        period: BudgetPeriod,
    ) -> Result<()> {
        if let Some(p) = project {
            validate_project(p).map_err(|e| Error::invalid("project", e))?;
        }
        self.require_tenant(tenant).await?;
        if self
            .store
            .delete_budget(tenant, project, metric, period)
            .await?
        {
            Ok(())
        } else {
            Err(Error::not_found(format!(
                "{} budget of {} per {}",
                project.map_or("the tenant's".to_string(), |p| format!("project {p:?}'s")),
                metric.as_str(),
                period.as_str()
            )))
        }
    }

    /// The tenant's usage in `[from, to)` (default: the last 30 days),
    /// by `group`. Embedding usage of the last few seconds is written with
    /// the next index save (every 30 s) and shows then.
    pub async fn usage(
        &self,
        tenant: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        group: UsageGroup,
    ) -> Result<Vec<UsageRow>> {
        // Both stores hold these times; beyond them PostgreSQL's range ends.
        let in_range = |field: &str, t: DateTime<Utc>| {
            if t < DateTime::UNIX_EPOCH || t.year() > 9999 {
                Err(Error::invalid(
                    field,
                    "must be a time between 1970 and 9999",
                ))
            } else {
                Ok(t)
            }
        };
        let to = in_range("to", to.unwrap_or_else(Utc::now))?;
        let from = match from {
            Some(f) => in_range("from", f)?,
            None => (to - chrono::Duration::days(30)).max(DateTime::UNIX_EPOCH),
        };
        if from >= to {
            return Err(Error::invalid("from", "must be before `to`"));
        }
        if to - from > chrono::Duration::days(MAX_REPORT_DAYS) {
            return Err(Error::invalid(
                "from",
                format!("a report covers at most {MAX_REPORT_DAYS} days; ask for several"),
            ));
        }
        self.store.usage(tenant, from, to, group).await
    }
}
