//! What every backend's job queue must do (behind the `testing` feature):
//! tenant-scoped reads, deduplication, claims under a lease, completion
//! once per claim, retries and the dead letter.

use std::time::Duration;

use chrono::Utc;
use engram_core::tenant::Tenant;
use serde_json::json;

use crate::Store;
use crate::jobs::{JobStatus, NewJob, Retry};

fn new_job(kind: &str, dedupe: Option<&str>) -> NewJob {
    NewJob {
        id: uuid::Uuid::now_v7().to_string(),
        kind: kind.into(),
        payload: json!({"ids": ["m1"]}),
        dedupe_key: dedupe.map(str::to_string),
        run_after: Utc::now(),
        max_attempts: 2,
    }
}

/// A new tenant named after `name` (unique per run), its id.
pub(crate) async fn tenant(store: &dyn Store, name: &str) -> String {
    let t = Tenant {
        id: uuid::Uuid::now_v7().to_string(),
        name: format!("{name}-{}", uuid::Uuid::now_v7()),
        created_at: Utc::now(),
    };
    store.create_tenant(&t).await.expect("create tenant");
    t.id
}

/// The whole contract, on a store with no other jobs.
pub async fn job_queue_contract(store: &dyn Store) {
    let (a, b) = (tenant(store, "a").await, tenant(store, "b").await);
    let lease = Duration::from_secs(60);

    // Queued, readable in its tenant only.
    let j = store
        .enqueue_job(&a, &new_job("reembed", Some("k")))
        .await
        .unwrap();
    assert_eq!(
        (j.status, j.attempts, j.max_attempts),
        (JobStatus::Queued, 0, 2)
    );
    assert_eq!(j.payload, json!({"ids": ["m1"]}));
    assert_eq!(store.get_job(&a, &j.id).await.unwrap().as_ref(), Some(&j));
    assert_eq!(
        store.get_job(&b, &j.id).await.unwrap(),
        None,
        "another tenant's job"
    );

    // The same dedupe key while unfinished: the same job.
    let again = store
        .enqueue_job(&a, &new_job("reembed", Some("k")))
        .await
        .unwrap();
    assert_eq!(again.id, j.id);
    let other_tenant = store
        .enqueue_job(&b, &new_job("reembed", Some("k")))
        .await
        .unwrap();
    assert_ne!(other_tenant.id, j.id, "dedupe keys are per tenant");

    // Only the asked-for kinds are claimed; the oldest first.
    assert!(
        store
            .claim_job("w1", &["facts"], lease)
            .await
            .unwrap()
            .is_none()
    );
    let c1 = store
        .claim_job("w1", &["reembed"], lease)
        .await
        .unwrap()
        .expect("a job");
    assert_eq!(
        (c1.id.as_str(), c1.status, c1.attempts),
        (j.id.as_str(), JobStatus::Running, 1)
    );
    assert_eq!(c1.worker.as_deref(), Some("w1"));
    assert!(c1.claim.is_some() && c1.lease_until.is_some());
    let c2 = store
        .claim_job("w2", &["reembed"], lease)
        .await
        .unwrap()
        .expect("b's job");
    assert_eq!(c2.id, other_tenant.id);
    assert!(
        store
            .claim_job("w3", &["reembed"], lease)
            .await
            .unwrap()
            .is_none(),
        "both are leased"
    );

    // Done once: a second completion of the same claim changes nothing.
    assert!(store.complete_job(&c1, &json!({"n": 1})).await.unwrap());
    assert!(!store.complete_job(&c1, &json!({"n": 2})).await.unwrap());
    let done = store.get_job(&a, &j.id).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.result),
        (JobStatus::Done, Some(json!({"n": 1})))
    );
    // Finished, the key is free again.
    let fresh = store
        .enqueue_job(&a, &new_job("reembed", Some("k")))
        .await
        .unwrap();
    assert_ne!(fresh.id, j.id);

    // A failed attempt waits for its retry time, then the last one is dead.
    assert!(
        store
            .fail_job(
                &c2,
                "boom",
                Retry::At(Utc::now() + chrono::Duration::hours(1))
            )
            .await
            .unwrap()
    );
    let failed = store.get_job(&b, &c2.id).await.unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.last_error.as_deref()),
        (JobStatus::Failed, Some("boom"))
    );
    let next = store
        .claim_job("w1", &["reembed"], lease)
        .await
        .unwrap()
        .expect("a's fresh job");
    assert_eq!(
        next.id, fresh.id,
        "the failed job is not due before its retry time"
    );
    assert!(
        store
            .fail_job(&next, "now", Retry::At(Utc::now()))
            .await
            .unwrap()
    );
    let retried = store
        .claim_job("w2", &["reembed"], lease)
        .await
        .unwrap()
        .expect("due again");
    assert_eq!(
        (retried.id.as_str(), retried.attempts),
        (fresh.id.as_str(), 2)
    );
    assert!(
        !store
            .fail_job(&next, "stale claim", Retry::Never)
            .await
            .unwrap(),
        "an old claim"
    );
    assert!(
        store
            .fail_job(&retried, "gave up", Retry::Never)
            .await
            .unwrap()
    );
    let dead = store.get_job(&a, &fresh.id).await.unwrap().unwrap();
    assert_eq!(
        (dead.status, dead.last_error.as_deref()),
        (JobStatus::Dead, Some("gave up"))
    );
    assert!(
        store
            .claim_job("w1", &["reembed"], lease)
            .await
            .unwrap()
            .is_none(),
        "dead stays dead"
    );

    // An expired lease (a killed worker) makes the job claimable again, and
    // the first worker's late completion is refused.
    let l = store
        .enqueue_job(&a, &new_job("reembed", None))
        .await
        .unwrap();
    let first = store
        .claim_job("w1", &["reembed"], Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.id, l.id);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = store
        .claim_job("w2", &["reembed"], lease)
        .await
        .unwrap()
        .expect("lease expired");
    assert_eq!((second.id.as_str(), second.attempts), (l.id.as_str(), 2));
    assert!(!store.complete_job(&first, &json!("late")).await.unwrap());
    assert!(store.complete_job(&second, &json!("ok")).await.unwrap());
    assert_eq!(
        store.get_job(&a, &l.id).await.unwrap().unwrap().result,
        Some(json!("ok"))
    );

    let counts = store.count_jobs().await.unwrap();
    let count = |s: JobStatus| counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
    assert_eq!(
        (
            count(JobStatus::Done),
            count(JobStatus::Failed),
            count(JobStatus::Dead)
        ),
        (2, 1, 1)
    );

    // Pruning removes ended jobs only, and only those ended before the time.
    assert_eq!(
        store
            .prune_jobs(Utc::now() - chrono::Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .prune_jobs(Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        3
    );
    assert_eq!(store.get_job(&a, &l.id).await.unwrap(), None);
    assert!(
        store.get_job(&b, &c2.id).await.unwrap().is_some(),
        "a failed job waits for its retry"
    );

    // A deleted tenant's jobs go with it.
    assert!(store.delete_tenant(&b).await.unwrap());
    assert_eq!(store.get_job(&b, &c2.id).await.unwrap(), None);
    let counts = store.count_jobs().await.unwrap();
    assert!(
        counts.iter().all(|(s, _)| *s != JobStatus::Failed),
        "{counts:?}"
    );
}
