//! What LLM and embedding calls spend: every LLM call is recorded when it
//! returns (`Engine::complete`); embedding calls, one or more per write and
//! search, are added up in memory per tenant and written with the index
//! saves (every 30 s and at shutdown), so the write and search paths gain
//! no store write. A crash loses at most that window of embedding usage,
//! never an LLM call's. Budgets are checked before each LLM call.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use engram_core::{Code, Error, Result};
use engram_llm::Usage;
use engram_store::metering::{Budget, BudgetMetric, BudgetPeriod, UsageRecord};

use crate::{Engine, Spend};

/// The usage kind of embedding calls; budgets leave it out (see
/// docs/BUDGETS.md: refusing writes and searches is not a budget's job).
pub const EMBEDDING: &str = "embedding";

/// USD per million tokens, in and out, for one model.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// Prices by model name (`ENGRAM_PRICES`: `model=IN/OUT,...`). A model not
/// listed costs nothing: a local model's tokens are still counted, only
/// their cost is 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices(BTreeMap<String, Price>);

impl Prices {
    /// The cost in USD of `input` and `output` tokens of `model`.
    pub fn cost(&self, model: &str, input: u64, output: u64) -> f64 {
        self.0.get(model).map_or(0.0, |p| {
            (input as f64 * p.input_per_million + output as f64 * p.output_per_million) / 1e6
        })
    }
}

impl FromStr for Prices {
    type Err = String;

    fn from_str(s: &str) -> Result<Prices, String> {
        let mut prices = BTreeMap::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || {
                format!(
                    "`{entry}` is not `model=IN/OUT` (USD per million tokens in and out, \
                     e.g. `gpt-4o-mini=0.15/0.6`)"
                )
            };
            let (model, pair) = entry.rsplit_once('=').ok_or_else(bad)?;
            let (input, output) = pair.split_once('/').ok_or_else(bad)?;
            let number = |v: &str| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(bad)
            };
            let price = Price {
                input_per_million: number(input)?,
                output_per_million: number(output)?,
            };
            let model = model.trim();
            if model.is_empty() {
                return Err(bad());
            }
            if prices.insert(model.to_string(), price).is_some() {
                return Err(format!("model `{model}` is priced twice"));
            }
        }
        Ok(Prices(prices))
    }
}

/// Embedding usage not yet written, per tenant.
#[derive(Default)]
pub(crate) struct EmbeddingMeter {
    pending: Mutex<HashMap<String, Pending>>,
}

#[derive(Default, Clone, Copy)]
struct Pending {
    calls: u64,
    tokens: u64,
    duration: Duration,
}

/// The start of the budget period holding `now`, and the next one's (its
/// reset), in UTC.
pub fn period_window(period: BudgetPeriod, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()
        .unwrap_or(now);
    match period {
        BudgetPeriod::Day => (day, day + chrono::Duration::days(1)),
        BudgetPeriod::Month => {
            let start = Utc
                .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
                .single()
                .unwrap_or(day);
            let (y, m) = if now.month() == 12 {
                (now.year() + 1, 1)
            } else {
                (now.year(), now.month() + 1)
            };
            let next = Utc
                .with_ymd_and_hms(y, m, 1, 0, 0, 0)
                .single()
                .unwrap_or(start);
            (start, next)
        }
    }
}

/// Whether `budget` limits a call made for `project`: a tenant-wide one
/// limits every call, a project's only that project's.
fn applies(budget: &Budget, project: Option<&str>) -> bool {
    budget.project.is_none() || budget.project.as_deref() == project
}

fn scope(budget: &Budget) -> String {
    match &budget.project {
        Some(p) => format!("project {p:?}"),
        None => "the tenant".to_string(),
    }
}

impl Engine {
    /// The tokens `texts` make for the embedding model (its own tokenizer).
    pub(crate) fn embedding_tokens<S: AsRef<str>>(&self, texts: &[S]) -> u64 {
        texts
            .iter()
            .map(|t| self.tokens.count(t.as_ref()) as u64)
            .sum()
    }

    /// Adds one embedding call to the tenant's pending usage.
    pub(crate) fn meter_embedding(&self, tenant: &str, tokens: u64, duration: Duration) {
        let mut pending = self
            .embedding_meter
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let p = pending.entry(tenant.to_string()).or_default();
        p.calls += 1;
        p.tokens += tokens;
        p.duration += duration;
        metrics::counter!("engram_embedding_tokens_total").increment(tokens);
    }

    /// Writes the pending embedding usage (with the index saves). A tenant
    /// deleted meanwhile has nothing to write to; its usage is dropped.
    pub(crate) async fn flush_usage(&self) -> Result<()> {
        let pending: Vec<(String, Pending)> = {
            let mut p = self
                .embedding_meter
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            p.drain().collect()
        };
        let model = self.embedder.model_id().to_string();
        for (tenant, p) in pending {
            let record = UsageRecord {
                cost: self.prices.cost(&model, p.tokens, 0),
                tenant_id: tenant,
                project: None,
                kind: EMBEDDING.to_string(),
                model: model.clone(),
                calls: p.calls,
                input_tokens: p.tokens,
                output_tokens: 0,
                duration_ms: p.duration.as_millis() as u64,
                at: Utc::now(),
            };
            match self.store.record_usage(std::slice::from_ref(&record)).await {
                Ok(()) => {}
                Err(e) if e.code() == Code::NotFound => {}
                Err(e) => {
                    // Kept for the next save rather than lost.
                    let mut pending = self
                        .embedding_meter
                        .pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    let back = pending.entry(record.tenant_id).or_default();
                    back.calls += p.calls;
                    back.tokens += p.tokens;
                    back.duration += p.duration;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Refuses the call with `budget_exceeded` when a hard budget that
    /// limits it is used up.
    pub(crate) async fn check_budgets(&self, spend: &Spend<'_>) -> Result<()> {
        let now = Utc::now();
        for b in self.store.budgets(spend.tenant_id).await? {
            if !b.hard || !applies(&b, spend.project) {
                continue;
            }
            let (start, reset) = period_window(b.period, now);
            let used = self.used(&b, start).await?;
            if used >= b.limit {
                return Err(Error::user(
                    Code::BudgetExceeded,
                    format!(
                        "the hard budget of {} {} per {} for {} is used up ({} spent); it resets at {}. \
                         Wait until then, or ask the admin to raise it (PUT /v1/tenants/{{id}}/budgets)",
                        b.limit,
                        b.metric.as_str(),
                        b.period.as_str(),
                        scope(&b),
                        used,
                        reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    ),
                ));
            }
        }
        Ok(())
    }

    /// What `budget` has used since `start`.
    pub(crate) async fn used(&self, b: &Budget, start: DateTime<Utc>) -> Result<f64> {
        let spent = self
            .store
            .spent_since(&b.tenant_id, b.project.as_deref(), start, EMBEDDING)
            .await?;
        Ok(match b.metric {
            BudgetMetric::Tokens => spent.tokens as f64,
            BudgetMetric::Cost => spent.cost,
        })
    }

    /// Records one LLM call, then refreshes `engram_budget_used_ratio` for
    /// the tenant's budgets (what the 80% and 100% alerts watch).
    pub(crate) async fn record_llm_usage(
        &self,
        spend: &Spend<'_>,
        model: &str,
        usage: Usage,
        duration: Duration,
    ) -> Result<()> {
        let record = UsageRecord {
            tenant_id: spend.tenant_id.to_string(),
            project: spend.project.map(str::to_string),
            kind: spend.kind.to_string(),
            model: model.to_string(),
            calls: 1,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost: self
                .prices
                .cost(model, usage.input_tokens, usage.output_tokens),
            duration_ms: duration.as_millis() as u64,
            at: Utc::now(),
        };
        self.store.record_usage(&[record]).await?;
        self.gauge_budgets(spend.tenant_id).await
    }

    /// Sets `engram_budget_used_ratio` for each of the tenant's budgets.
    pub async fn gauge_budgets(&self, tenant: &str) -> Result<()> {
        let now = Utc::now();
        for b in self.store.budgets(tenant).await? {
            let (start, _) = period_window(b.period, now);
            let used = self.used(&b, start).await?;
            let ratio = if b.limit > 0.0 {
                used / b.limit
            } else {
                f64::INFINITY
            };
            let project = b.project.clone().unwrap_or_default();
            let enforcement = if b.hard { "hard" } else { "soft" };
            let (metric, period) = (b.metric.as_str(), b.period.as_str());
            metrics::gauge!(
                "engram_budget_used_ratio",
                "tenant" => b.tenant_id.clone(),
                "project" => project,
                "metric" => metric,
                "period" => period,
                "enforcement" => enforcement
            )
            .set(ratio);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_utc_midnight_and_the_first_of_the_month() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap();
        let (s, r) = period_window(BudgetPeriod::Day, now);
        assert_eq!(
            (s.to_rfc3339(), r.to_rfc3339()),
            (
                "2026-12-31T00:00:00+00:00".into(),
                "2027-01-01T00:00:00+00:00".into()
            )
        );
        let (s, r) = period_window(BudgetPeriod::Month, now);
        assert_eq!(
            (s.to_rfc3339(), r.to_rfc3339()),
            (
                "2026-12-01T00:00:00+00:00".into(),
                "2027-01-01T00:00:00+00:00".into()
            )
        );
        let feb = Utc.with_ymd_and_hms(2028, 2, 29, 1, 0, 0).unwrap();
        assert_eq!(
            period_window(BudgetPeriod::Month, feb).1.to_rfc3339(),
            "2028-03-01T00:00:00+00:00"
        );
    }

    #[test]
    fn prices_parse_and_cost_per_million() {
        let p: Prices = "gpt-4o-mini=0.15/0.6, bge-small-en-v1.5=0.02/0"
            .parse()
            .unwrap();
        assert!((p.cost("gpt-4o-mini", 1_000_000, 500_000) - 0.45).abs() < 1e-12);
        assert!((p.cost("bge-small-en-v1.5", 50_000, 0) - 0.001).abs() < 1e-12);
        assert_eq!(p.cost("unlisted", 10, 10), 0.0);
        assert_eq!("".parse::<Prices>().unwrap(), Prices::default());
        // A model name may itself hold '=' or '/' before the last '='.
        let p: Prices = "org/model=1/2".parse().unwrap();
        assert!((p.cost("org/model", 1_000_000, 1_000_000) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn bad_prices_say_the_format() {
        for bad in ["m", "m=1", "m=x/1", "m=-1/1", "=1/1", "m=1/inf"] {
            let e = bad.parse::<Prices>().unwrap_err();
            assert!(e.contains("model=IN/OUT"), "{bad}: {e}");
        }
        assert!(
            "m=1/1,m=2/2"
                .parse::<Prices>()
                .unwrap_err()
                .contains("twice")
        );
    }
}
