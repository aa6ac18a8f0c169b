//! What every backend's leases and run records must do (behind the
//! `testing` feature): one holder at a time, the holder renews, a lease
//! kept after a success still excludes, an expired one (a killed holder's)
//! is free, and the run records add up by task.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Duration as Span, Utc};

use crate::Store;
use crate::maintenance::TaskRun;

fn run(task: &str, ok: bool, removed: u64, secs: i64) -> TaskRun {
    let started_at = Utc::now() - Span::seconds(10);
    TaskRun {
        task: task.into(),
        holder: "h".into(),
        started_at,
        finished_at: started_at + Span::seconds(secs),
        error: (!ok).then(|| "it broke".to_string()),
        counts: BTreeMap::from([("removed".to_string(), removed)]),
    }
}

pub async fn lease_contract(store: &dyn Store) {
    let name = format!("maintain:test-{}", uuid::Uuid::now_v7());
    let long = Duration::from_secs(60);
    assert!(store.take_lease(&name, "a", long).await.unwrap());
    assert!(
        !store.take_lease(&name, "b", long).await.unwrap(),
        "two holders at once"
    );
    assert!(
        store.take_lease(&name, "a", long).await.unwrap(),
        "the holder cannot renew"
    );
    // Kept after a success: still excludes others.
    store.release_lease(&name, "a", long).await.unwrap();
    assert!(!store.take_lease(&name, "b", long).await.unwrap());
    // Released by someone else: nothing changes.
    store
        .release_lease(&name, "b", Duration::ZERO)
        .await
        .unwrap();
    assert!(!store.take_lease(&name, "b", long).await.unwrap());
    // Freed: the next taker gets it.
    store
        .release_lease(&name, "a", Duration::ZERO)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        store
            .take_lease(&name, "b", Duration::from_millis(200))
            .await
            .unwrap()
    );
    // Expired (its holder died): free again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store.take_lease(&name, "a", long).await.unwrap(),
        "an expired lease stays taken"
    );

    let task = format!("t-{}", uuid::Uuid::now_v7());
    store
        .record_task_run(&run(&task, true, 2, 3))
        .await
        .unwrap();
    store
        .record_task_run(&run(&task, false, 0, 1))
        .await
        .unwrap();
    let last_ok = run(&task, true, 5, 4);
    store.record_task_run(&last_ok).await.unwrap();
    let totals = store.task_totals().await.unwrap();
    let t = totals
        .iter()
        .find(|t| t.task == task)
        .expect("the task's totals");
    assert_eq!((t.runs_ok, t.runs_failed), (2, 1));
    assert_eq!(t.items.get("removed"), Some(&7));
    let last = t.last_success.expect("a last success");
    assert!(
        (last - last_ok.finished_at).num_milliseconds().abs() <= 1,
        "{last}"
    );
    assert!(
        (t.last_duration_seconds - 4.0).abs() < 0.01,
        "{}",
        t.last_duration_seconds
    );
    let runs = store.task_runs(&task, 2).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].counts, last_ok.counts, "newest first");
    assert!(runs.iter().all(|r| r.task == task));
}
