//! Usage and budgets: what each tenant's LLM and embedding calls spent,
//! and the limits set on it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engram_core::Result;

/// Calls of one kind and model, for a tenant (and project), at a time:
/// one LLM call, or the embedding calls of a few seconds added up.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub tenant_id: String,
    /// The `X-Project-ID` the calls were made for (none: the tenant's own).
    pub project: Option<String>,
    /// "facts", "summary", "reflection", "embedding", ...
    pub kind: String,
    pub model: String,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// USD, from the configured price table.
    pub cost: f64,
    pub duration_ms: u64,
    pub at: DateTime<Utc>,
}

/// How `GET /v1/usage` adds usage up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGroup {
    /// By UTC day (`2026-12-03`).
    Day,
    Kind,
    /// By project (`""` for calls without one).
    Project,
}

/// One group's totals.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub group: String,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost: f64,
    pub duration_ms: u64,
}

pub use engram_core::budget::{BudgetMetric, BudgetPeriod};

/// A limit on a tenant's (or one of its projects') spending per period.
/// One per tenant, project, metric and period: setting it again replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub tenant_id: String,
    /// None: the whole tenant's spending, every project's included.
    pub project: Option<String>,
    pub metric: BudgetMetric,
    pub period: BudgetPeriod,
    pub limit: f64,
    /// Hard: calls are refused (402) once it is used up. Soft: only the
    /// metric and alerts say so.
    pub hard: bool,
    pub updated_at: DateTime<Utc>,
}

/// What a tenant spent since a time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spent {
    pub tokens: u64,
    pub cost: f64,
}

#[async_trait]
pub trait MeteringStore: Send + Sync {
    /// Appends usage; the tenant must exist.
    async fn record_usage(&self, records: &[UsageRecord]) -> Result<()>;

    /// The tenant's usage with `at` in `[from, to)`, added up by `group`,
    /// ordered by group.
    async fn usage(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group: UsageGroup,
    ) -> Result<Vec<UsageRow>>;

    /// What the tenant (with `project`: that project) spent since `from`
    /// on every kind but `except_kind` (budgets leave embeddings out).
    async fn spent_since(
        &self,
        tenant_id: &str,
        project: Option<&str>,
        from: DateTime<Utc>,
        except_kind: &str,
    ) -> Result<Spent>;

    /// Sets (or replaces) a budget.
    async fn set_budget(&self, budget: &Budget) -> Result<()>;
    /// The tenant's budgets, tenant-wide first, then by project.
    async fn budgets(&self, tenant_id: &str) -> Result<Vec<Budget>>;
    async fn delete_budget(
        &self,
        tenant_id: &str,
        project: Option<&str>,
        metric: BudgetMetric,
        period: BudgetPeriod,
    ) -> Result<bool>;
}
