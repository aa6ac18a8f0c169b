//! What every backend's metering must do (behind the `testing` feature):
//! usage added up by day, kind and project within a tenant, the totals
//! budgets are checked against, and budgets set, replaced and deleted.

use chrono::{Duration, TimeZone, Utc};
use engram_core::tenant::Tenant;

use crate::Store;
use crate::metering::{Budget, BudgetMetric, BudgetPeriod, Spent, UsageGroup, UsageRecord};

async fn tenant(store: &dyn Store) -> String {
    let t = Tenant {
        id: uuid::Uuid::now_v7().to_string(),
        name: format!("metered-{}", uuid::Uuid::now_v7()),
        created_at: Utc::now(),
    };
    store.create_tenant(&t).await.expect("create tenant");
    t.id
}

fn usage(
    tenant: &str,
    project: Option<&str>,
    kind: &str,
    day: u32,
    tokens: (u64, u64),
) -> UsageRecord {
    UsageRecord {
        tenant_id: tenant.into(),
        project: project.map(str::to_string),
        kind: kind.into(),
        model: "m".into(),
        calls: 1,
        input_tokens: tokens.0,
        output_tokens: tokens.1,
        cost: (tokens.0 + tokens.1) as f64 / 1000.0,
        duration_ms: 10,
        at: Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap(),
    }
}

pub async fn metering_contract(store: &dyn Store) {
    let (a, b) = (tenant(store).await, tenant(store).await);
    store
        .record_usage(&[
            usage(&a, None, "facts", 1, (100, 20)),
            usage(&a, Some("p1"), "summary", 1, (50, 10)),
            usage(&a, Some("p1"), "embedding", 2, (7, 0)),
            usage(&a, Some("p2"), "facts", 3, (1, 1)),
            usage(&b, None, "facts", 1, (999, 999)),
        ])
        .await
        .unwrap();
    let (from, to) = (
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 3, 0, 0, 0).unwrap(),
    );

    let by_day = store.usage(&a, from, to, UsageGroup::Day).await.unwrap();
    let days: Vec<(&str, u64, u64, u64)> = by_day
        .iter()
        .map(|r| (r.group.as_str(), r.calls, r.input_tokens, r.output_tokens))
        .collect();
    assert_eq!(
        days,
        [("2026-03-01", 2, 150, 30), ("2026-03-02", 1, 7, 0)],
        "`to` is exclusive"
    );
    assert!((by_day[0].cost - 0.18).abs() < 1e-9 && by_day[0].duration_ms == 20);
    let by_kind = store
        .usage(&a, from, to + Duration::days(1), UsageGroup::Kind)
        .await
        .unwrap();
    let kinds: Vec<(&str, u64)> = by_kind
        .iter()
        .map(|r| (r.group.as_str(), r.input_tokens))
        .collect();
    assert_eq!(kinds, [("embedding", 7), ("facts", 101), ("summary", 50)]);
    let by_project = store
        .usage(&a, from, to + Duration::days(1), UsageGroup::Project)
        .await
        .unwrap();
    let projects: Vec<(&str, u64)> = by_project
        .iter()
        .map(|r| (r.group.as_str(), r.calls))
        .collect();
    assert_eq!(projects, [("", 1), ("p1", 2), ("p2", 1)]);

    // Budgets count every kind but the excluded one.
    let all = store
        .spent_since(&a, None, from, "embedding")
        .await
        .unwrap();
    assert_eq!(all.tokens, 120 + 60 + 2);
    assert!((all.cost - 0.182).abs() < 1e-9);
    let p1 = store
        .spent_since(&a, Some("p1"), from, "embedding")
        .await
        .unwrap();
    assert_eq!(p1.tokens, 60);
    let late = store.spent_since(&a, None, to, "embedding").await.unwrap();
    assert_eq!(late.tokens, 2);
    let none = store
        .spent_since(&a, Some("nope"), from, "embedding")
        .await
        .unwrap();
    assert_eq!(none, Spent::default());

    // Budgets: set, replaced by the same key, listed tenant-wide first.
    let budget = |project: Option<&str>, metric, limit, hard| Budget {
        tenant_id: a.clone(),
        project: project.map(str::to_string),
        metric,
        period: BudgetPeriod::Day,
        limit,
        hard,
        updated_at: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
    };
    store
        .set_budget(&budget(Some("p1"), BudgetMetric::Cost, 2.5, false))
        .await
        .unwrap();
    store
        .set_budget(&budget(None, BudgetMetric::Tokens, 100.0, false))
        .await
        .unwrap();
    store
        .set_budget(&budget(None, BudgetMetric::Tokens, 500.0, true))
        .await
        .unwrap();
    let listed = store.budgets(&a).await.unwrap();
    assert_eq!(
        listed,
        [
            budget(None, BudgetMetric::Tokens, 500.0, true),
            budget(Some("p1"), BudgetMetric::Cost, 2.5, false)
        ]
    );
    assert!(
        store.budgets(&b).await.unwrap().is_empty(),
        "another tenant's budgets"
    );
    assert!(
        !store
            .delete_budget(&b, None, BudgetMetric::Tokens, BudgetPeriod::Day)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_budget(&a, None, BudgetMetric::Tokens, BudgetPeriod::Day)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_budget(&a, None, BudgetMetric::Tokens, BudgetPeriod::Day)
            .await
            .unwrap()
    );
    assert_eq!(store.budgets(&a).await.unwrap().len(), 1);

    // Tenants are a wall, and a deleted tenant's usage goes with it.
    let other = store.usage(&b, from, to, UsageGroup::Kind).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].input_tokens, 999);
    assert!(store.delete_tenant(&a).await.unwrap());
    assert!(
        store
            .usage(&a, from, to, UsageGroup::Day)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.budgets(&a).await.unwrap().is_empty());
    let gone = store
        .record_usage(&[usage(&a, None, "facts", 1, (1, 1))])
        .await
        .unwrap_err();
    assert_eq!(gone.code(), engram_core::Code::NotFound, "{gone}");
}
