//! Metering: a tenant's usage report, and the admin's budgets.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use engram_engine::budgets::{BudgetSpec, BudgetStatus, UsageGroup, UsageRow};
use engram_engine::core::budget::{BudgetMetric, BudgetPeriod};

use crate::AppState;
use crate::auth::{Admin, Reader};
use crate::extract::{Body, Path, QueryParams};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    #[default]
    Day,
    Kind,
    Project,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// Start (RFC 3339, inclusive); default 30 days before `to`.
    from: Option<DateTime<Utc>>,
    /// End (RFC 3339, exclusive); default now. At most 366 days after `from`.
    to: Option<DateTime<Utc>>,
    /// `day` (UTC, default), `kind` or `project`.
    group_by: Option<GroupBy>,
}

/// One group's totals.
#[derive(Serialize, ToSchema)]
pub struct UsageItem {
    /// The day (`2026-12-03`), the kind (`facts`, `embedding`, ...) or the
    /// project (`""` for calls without `X-Project-ID`).
    group: String,
    calls: u64,
    input_tokens: u64,
    output_tokens: u64,
    /// USD, from the price table (`ENGRAM_PRICES`).
    cost: f64,
    duration_ms: u64,
}

#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    group_by: GroupBy,
    items: Vec<UsageItem>,
}

impl From<UsageRow> for UsageItem {
    fn from(r: UsageRow) -> UsageItem {
        UsageItem {
            group: r.group,
            calls: r.calls,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cost: r.cost,
            duration_ms: r.duration_ms,
        }
    }
}

/// The tenant's LLM and embedding usage: calls, tokens in and out, cost and
/// time, by day, kind or project.
#[utoipa::path(get, path = "/v1/usage", tag = "usage", security(("tenant_key" = ["read"])),
    params(UsageParams),
    responses((status = 200, body = UsageReport), (status = 400, body = Problem)))]
pub async fn usage(
    Reader(p): Reader,
    State(s): State<AppState>,
    QueryParams(q): QueryParams<UsageParams>,
) -> ApiResult<Json<UsageReport>> {
    let group_by = q.group_by.unwrap_or_default();
    let group = match group_by {
        GroupBy::Day => UsageGroup::Day,
        GroupBy::Kind => UsageGroup::Kind,
        GroupBy::Project => UsageGroup::Project,
    };
    let rows = s.engine.usage(&p.tenant_id, q.from, q.to, group).await?;
    Ok(Json(UsageReport {
        group_by,
        items: rows.into_iter().map(UsageItem::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBudget {
    /// A project (`X-Project-ID`) of the tenant; absent: the whole tenant,
    /// every project included.
    project: Option<String>,
    metric: BudgetMetric,
    period: BudgetPeriod,
    /// Tokens, or USD; 0 refuses every call when hard.
    limit: f64,
    /// Hard: LLM calls over it are refused with 402 `budget_exceeded`.
    /// Soft (default): only `engram_budget_used_ratio` and the alerts at 80%
    /// and 100% say so.
    #[serde(default)]
    hard: bool,
}

#[derive(Serialize, ToSchema)]
pub struct BudgetView {
    project: Option<String>,
    metric: BudgetMetric,
    period: BudgetPeriod,
    limit: f64,
    hard: bool,
    /// Spent in the current period (tokens or USD).
    used: f64,
    /// When the current period ends and `used` starts again from 0.
    resets_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<BudgetStatus> for BudgetView {
    fn from(s: BudgetStatus) -> BudgetView {
        BudgetView {
            project: s.budget.project,
            metric: s.budget.metric,
            period: s.budget.period,
            limit: s.budget.limit,
            hard: s.budget.hard,
            used: s.used,
            resets_at: s.resets_at,
            updated_at: s.budget.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BudgetList {
    items: Vec<BudgetView>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BudgetKey {
    /// The budget's project; absent: the tenant-wide budget.
    project: Option<String>,
    metric: BudgetMetric,
    period: BudgetPeriod,
}

/// Set a budget of a tenant (or of one of its projects); one per project,
/// metric and period, so setting it again replaces it.
#[utoipa::path(put, path = "/v1/tenants/{id}/budgets", tag = "admin", request_body = NewBudget,
    security(("admin_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = BudgetView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn set_budget(
    _: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<NewBudget>,
) -> ApiResult<Json<BudgetView>> {
    let spec = BudgetSpec {
        project: b.project,
        metric: b.metric,
        period: b.period,
        limit: b.limit,
        hard: b.hard,
    };
    Ok(Json(s.engine.set_budget(&id, spec).await?.into()))
}

/// A tenant's budgets, with what each used in its current period.
#[utoipa::path(get, path = "/v1/tenants/{id}/budgets", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = BudgetList), (status = 404, body = Problem)))]
pub async fn list_budgets(
    _: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<BudgetList>> {
    let items = s.engine.budgets(&id).await?;
    Ok(Json(BudgetList {
        items: items.into_iter().map(BudgetView::from).collect(),
    }))
}

/// Delete one budget of a tenant.
#[utoipa::path(delete, path = "/v1/tenants/{id}/budgets", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path), BudgetKey),
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_budget(
    _: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
    QueryParams(k): QueryParams<BudgetKey>,
) -> ApiResult<StatusCode> {
    s.engine
        .delete_budget(&id, k.project.as_deref(), k.metric, k.period)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
