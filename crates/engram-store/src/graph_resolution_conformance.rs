//! What every backend's entity creation must do under concurrency (behind
//! the `testing` feature): many jobs resolving the same new name at once,
//! each looking it up and creating it when absent as the engine does, end
//! with one entity; the others are handed the winner. Other tenants and
//! other users still get their own.

use std::sync::Arc;

use chrono::Utc;
use engram_core::graph::Entity;
use tokio::task::JoinSet;

use crate::Store;
use crate::graph::{NewEntity, UserScope};
use crate::jobs_conformance::tenant;

/// Concurrent resolutions of one name.
const RACERS: usize = 16;

fn person(name: &str, user: &str) -> Entity {
    let now = Utc::now();
    Entity {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.into(),
        kind: "person".into(),
        aliases: Vec::new(),
        summary: None,
        user_id: Some(user.into()),
        merged_into: None,
        merge_reason: None,
        created_at: now,
        updated_at: now,
    }
}

/// Looks `name` up in `user`'s scope and creates it when absent; returns
/// the entity id it resolved to and whether this call created it.
async fn resolve(store: &dyn Store, t: &str, user: &str, name: &str) -> (String, bool) {
    let keys = [name.to_lowercase()];
    let scope = UserScope::Exactly(Some(user));
    let found = store.entities_by_keys(t, scope, &keys).await.unwrap();
    if let Some((_, e)) = found.first() {
        return (e.id.clone(), false);
    }
    let e = person(name, user);
    let found = store
        .create_entity(
            t,
            NewEntity {
                entity: &e,
                keys: &keys,
                embedding: &[1.0, 0.0, 0.0, 0.0],
            },
        )
        .await
        .expect("create entity");
    match found.first() {
        Some((_, winner)) => (winner.id.clone(), false),
        None => (e.id, true),
    }
}

/// The whole contract; run it on a multi-threaded runtime.
pub async fn concurrent_resolution_contract(store: Arc<dyn Store>) {
    let (t, other) = (
        tenant(store.as_ref(), "race").await,
        tenant(store.as_ref(), "race-other").await,
    );
    let mut racers = JoinSet::new();
    for _ in 0..RACERS {
        let (store, t) = (store.clone(), t.clone());
        racers.spawn(async move { resolve(store.as_ref(), &t, "u1", "Zoe").await });
    }
    let results = racers.join_all().await;
    let created = results.iter().filter(|(_, c)| *c).count();
    assert_eq!(
        created, 1,
        "one of {RACERS} concurrent resolutions creates Zoe"
    );
    let winner = &results.iter().find(|(_, c)| *c).unwrap().0;
    assert!(
        results.iter().all(|(id, _)| id == winner),
        "every resolution ends at the one entity"
    );
    let keys = ["zoe".to_string()];
    let stored = store
        .entities_by_keys(&t, UserScope::Any, &keys)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "one stored entity has the key: {stored:?}");

    // The same name elsewhere is another entity: the check stays inside
    // its tenant and its user's scope.
    let (in_other_tenant, created) = resolve(store.as_ref(), &other, "u1", "Zoe").await;
    assert!(created && in_other_tenant != *winner);
    let (for_other_user, created) = resolve(store.as_ref(), &t, "u2", "Zoe").await;
    assert!(created && for_other_user != *winner);
    assert_eq!(
        store
            .entities_by_keys(&t, UserScope::Exactly(Some("u1")), &keys)
            .await
            .unwrap()
            .len(),
        1
    );
}
