//! `engram maintain summaries`: the periodic work of the temporal model
//! (docs/FACTS.md). For every tenant and every
//! user with memories on the day before `--at` (default now): that day's
//! roll-up; on a Monday also the previous week's, on the 1st the previous
//! month's; then a reflection over the user's latest memories. Each is an
//! LLM call through the engine (metered, budgeted); one that fails is
//! logged and counted, and the run goes on with the next.

use std::collections::BTreeSet;

use anyhow::bail;
use chrono::{DateTime, Datelike, Duration, Utc, Weekday};

use engram_engine::Engine;
use engram_engine::core::summary::{Period, SummaryRequest};
use engram_engine::core::{Error, Filter};

use super::Counts;

/// The users with memories in `[start, end)` of `tenant`.
async fn active_users(
    engine: &Engine,
    tenant: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<BTreeSet<String>, Error> {
    let filter = Filter {
        after: Some(start),
        before: Some(end),
        ..Default::default()
    };
    let mut users = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = engine
            .list(tenant, &filter, Some(1000), cursor.as_deref())
            .await?;
        users.extend(page.items.into_iter().filter_map(|m| m.user_id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(users),
        }
    }
}

/// The periods ending at the start of `today`: always the day before, the
/// week before on a Monday, the month before on the 1st.
fn due(today: DateTime<Utc>) -> Vec<(Period, DateTime<Utc>)> {
    let yesterday = today - Duration::days(1);
    let mut out = vec![(Period::Daily, yesterday)];
    if today.weekday() == Weekday::Mon {
        out.push((Period::Weekly, yesterday));
    }
    if today.day() == 1 {
        out.push((Period::Monthly, yesterday));
    }
    out
}

/// With `dry_run`, only counts the users that would be summarized.
pub async fn run(
    engine: &Engine,
    at: Option<DateTime<Utc>>,
    dry_run: bool,
) -> anyhow::Result<Counts> {
    if !dry_run {
        engine.require_llm()?;
    }
    let (today, _) = Period::Daily.bounds(at.unwrap_or_else(Utc::now));
    let (mut written, mut failed, mut users_seen) = (0u64, 0u64, 0u64);
    for tenant in engine.store().list_tenants().await? {
        let users = active_users(engine, &tenant.id, today - Duration::days(1), today).await?;
        users_seen += users.len() as u64;
        if dry_run {
            continue;
        }
        for user in users {
            for (period, at) in due(today) {
                let req = SummaryRequest {
                    session_id: None,
                    user_id: Some(user.clone()),
                    agent_id: None,
                    period: Some(period.clone()),
                    at: Some(at),
                };
                match engine.summarize(&tenant.id, None, &req).await {
                    Ok(w) => written += w.ids.len() as u64,
                    Err(e) => {
                        failed += 1;
                        tracing::warn!(tenant = %tenant.id, %user, period = period.as_str(), error = %e, "roll-up failed");
                    }
                }
            }
            match engine.reflect(&tenant.id, None, &user, None).await {
                Ok(w) => written += w.ids.len() as u64,
                Err(e) => {
                    failed += 1;
                    tracing::warn!(tenant = %tenant.id, %user, error = %e, "reflection failed");
                }
            }
        }
    }
    if failed > 0 {
        bail!("{failed} roll-ups or reflections failed (see the log); the next run tries again");
    }
    Ok(vec![("users", users_seen), ("written", written)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_rolled_up_on_mondays_and_months_on_the_first() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let kinds = |t| {
            due(at(t))
                .into_iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds("2024-12-19T00:00:00Z"), ["daily"]);
        assert_eq!(kinds("2024-12-16T00:00:00Z"), ["daily", "weekly"]);
        assert_eq!(kinds("2025-01-01T00:00:00Z"), ["daily", "monthly"]);
    }
}
