//! What every backend's graph must do (behind the `testing` feature), on
//! a hand-made graph: lookups by name key within one user's scope,
//! neighbourhoods through merged entities and bounded by depth, a
//! contradicting relation closing the old one, deletion of an entity with
//! its relations, a user's erasure, and the tenant wall around all of it.

use chrono::{Duration, Utc};
use engram_core::graph::{Entity, EntityQuery, Relation};

use crate::Store;
use crate::graph::{NewEntity, Reached, UserScope};
use crate::jobs_conformance::tenant;

fn unit(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; 4];
    v[i % 4] = 1.0;
    v
}

/// Creates an entity named `name` (key: its lower case) for user `u1`.
async fn entity(
    store: &dyn Store,
    t: &str,
    name: &str,
    merged_into: Option<&str>,
    v: Vec<f32>,
) -> String {
    let now = Utc::now();
    let e = Entity {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.into(),
        kind: "person".into(),
        aliases: Vec::new(),
        summary: None,
        user_id: Some("u1".into()),
        merged_into: merged_into.map(str::to_string),
        merge_reason: merged_into.map(|_| "embedding 0.990".into()),
        created_at: now,
        updated_at: now,
    };
    let found = store
        .create_entity(
            t,
            NewEntity {
                entity: &e,
                keys: &[name.to_lowercase()],
                embedding: &v,
            },
        )
        .await
        .expect("create entity");
    assert!(found.is_empty(), "{name} is new: {found:?}");
    e.id
}

fn relation(s: &str, p: &str, o: &str, from: chrono::DateTime<Utc>) -> Relation {
    Relation {
        id: uuid::Uuid::now_v7().to_string(),
        subject_id: s.into(),
        predicate: p.into(),
        object_id: o.into(),
        valid_from: Some(from),
        valid_to: None,
        sources: vec!["m1".into()],
        user_id: Some("u1".into()),
        created_at: Utc::now(),
    }
}

fn depths(r: &[Reached], names: &[(&str, &String)]) -> Vec<(String, u32)> {
    r.iter()
        .map(|x| {
            let name = names
                .iter()
                .find(|(_, id)| **id == x.id)
                .map_or("?", |(n, _)| n);
            (name.to_string(), x.depth)
        })
        .collect()
}

/// The whole contract.
pub async fn graph_contract(store: &dyn Store) {
    let (t, other) = (tenant(store, "g").await, tenant(store, "h").await);
    let past = Utc::now() - Duration::days(30);
    // ann - bob - cid - dan, and eve merged into bob with eve - fay.
    let ann = entity(store, &t, "Ann", None, unit(0)).await;
    let bob = entity(store, &t, "Bob", None, unit(1)).await;
    let cid = entity(store, &t, "Cid", None, unit(2)).await;
    let dan = entity(store, &t, "Dan", None, unit(3)).await;
    let eve = entity(store, &t, "Eve", Some(&bob), unit(1)).await;
    let fay = entity(store, &t, "Fay", None, unit(0)).await;
    for (s, p, o) in [
        (&ann, "friend_of", &bob),
        (&bob, "friend_of", &cid),
        (&cid, "friend_of", &dan),
        (&fay, "sister_of", &eve),
    ] {
        let added = store
            .add_relation(&t, &relation(s, p, o, past), false)
            .await
            .unwrap();
        assert!(!added.existed && added.closed.is_empty());
    }
    let names = [
        ("ann", &ann),
        ("bob", &bob),
        ("cid", &cid),
        ("dan", &dan),
        ("fay", &fay),
    ];
    let now = Utc::now();
    let at = |d| store.neighbors(&t, &ann, d, now, 100);
    assert_eq!(depths(&at(0).await.unwrap(), &names), [("ann".into(), 0)]);
    assert_eq!(
        depths(&at(1).await.unwrap(), &names),
        [("ann".into(), 0), ("bob".into(), 1)]
    );
    let mut two = depths(&at(2).await.unwrap(), &names);
    two.sort();
    assert_eq!(
        two,
        [
            ("ann".into(), 0),
            ("bob".into(), 1),
            ("cid".into(), 2),
            ("fay".into(), 2)
        ],
        "fay is two hops away through eve, merged into bob; dan is three"
    );
    assert_eq!(
        store.neighbors(&t, &eve, 1, now, 100).await.unwrap()[0].id,
        bob,
        "a walk from a merged entity starts at its canonical one"
    );

    // Lookups by key, in one user's scope; listings show canonical ones.
    let found = store
        .entities_by_keys(&t, UserScope::Exactly(Some("u1")), &["eve".into()])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.merged_into.as_deref(), Some(bob.as_str()));
    for scope in [UserScope::Exactly(Some("u2")), UserScope::Exactly(None)] {
        assert!(
            store
                .entities_by_keys(&t, scope, &["eve".into()])
                .await
                .unwrap()
                .is_empty(),
            "{scope:?}"
        );
    }
    let q = |name: Option<&str>| EntityQuery {
        name: name.map(str::to_string),
        limit: 100,
        ..Default::default()
    };
    let listed = store.list_entities(&t, &q(None)).await.unwrap();
    assert_eq!(listed.len(), 5, "eve is shown through bob");
    let by_alias = store.list_entities(&t, &q(Some("ev"))).await.unwrap();
    assert_eq!(
        by_alias.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&bob],
        "found by the name of an entity merged into it"
    );
    assert_eq!(store.merged_entities(&t, &bob).await.unwrap()[0].id, eve);
    let near = store
        .nearest_entity(&t, Some("u1"), "person", &unit(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((near.0.id.as_str(), near.1), (cid.as_str(), 1.0));

    // A repeated relation gets the sources; a contradicting one of a
    // single-valued predicate closes the old one from its own start.
    let lisbon = entity(store, &t, "Lisbon", None, unit(0)).await;
    let porto = entity(store, &t, "Porto", None, unit(1)).await;
    let first = store
        .add_relation(&t, &relation(&ann, "lives_in", &lisbon, past), true)
        .await
        .unwrap();
    let mut again = relation(&ann, "lives_in", &lisbon, past);
    again.sources = vec!["m2".into()];
    let repeated = store.add_relation(&t, &again, true).await.unwrap();
    assert!(repeated.existed);
    assert_eq!(repeated.id, first.id);
    let moved_at = past + Duration::days(10);
    let moved = store
        .add_relation(&t, &relation(&ann, "lives_in", &porto, moved_at), true)
        .await
        .unwrap();
    assert_eq!(moved.closed, std::slice::from_ref(&first.id));
    let all = store
        .relations_of(&t, std::slice::from_ref(&lisbon))
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    let mut sources = all[0].sources.clone();
    sources.sort();
    assert_eq!(sources, ["m1", "m2"]);
    assert_eq!(
        all[0].valid_to.map(|t| t.timestamp_micros()),
        Some(moved_at.timestamp_micros())
    );
    assert!(all[0].holds_at(past + Duration::days(1)) && !all[0].holds_at(now));
    assert_eq!(
        store
            .neighbors(&t, &lisbon, 1, now, 100)
            .await
            .unwrap()
            .len(),
        1,
        "a closed relation links nothing now"
    );
    assert_eq!(
        store
            .neighbors(&t, &lisbon, 1, past + Duration::days(1), 100)
            .await
            .unwrap()
            .len(),
        2,
        "but did then"
    );

    // Mentions, newest first, merged entities' included.
    store
        .link_mentions(
            &t,
            &[(eve.clone(), "m1".into()), (bob.clone(), "m2".into())],
        )
        .await
        .unwrap();
    let mut m = store
        .mentioning(&t, std::slice::from_ref(&bob), 10)
        .await
        .unwrap();
    m.sort();
    assert_eq!(m, ["m1", "m2"]);

    // The tenant wall: nothing of t is seen from the other tenant.
    assert_eq!(store.get_entity(&other, &ann).await.unwrap(), None);
    assert!(
        store
            .list_entities(&other, &q(None))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .entities_by_keys(&other, UserScope::Any, &["ann".into()])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .relations_of(&other, std::slice::from_ref(&ann))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .mentioning(&other, std::slice::from_ref(&bob), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .nearest_entity(&other, Some("u1"), "person", &unit(0))
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.delete_entity(&other, &ann).await.unwrap());
    assert_eq!(store.delete_user_graph(&other, "u1").await.unwrap(), 0);
    assert!(store.neighbors(&other, &ann, 1, now, 10).await.is_err());

    // Deleting bob takes eve (merged into it) and their relations.
    assert!(store.delete_entity(&t, &bob).await.unwrap());
    assert_eq!(store.get_entity(&t, &eve).await.unwrap(), None);
    assert!(
        store
            .relations_of(&t, std::slice::from_ref(&fay))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .relations_of(&t, std::slice::from_ref(&cid))
            .await
            .unwrap()
            .len(),
        1,
        "cid - dan stays"
    );
    assert!(
        store
            .mentioning(&t, std::slice::from_ref(&bob), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Erasing the user erases the rest.
    assert_eq!(store.delete_user_graph(&t, "u1").await.unwrap(), 6);
    assert!(store.list_entities(&t, &q(None)).await.unwrap().is_empty());
    assert!(
        store
            .relations_of(&t, &[ann, cid, dan])
            .await
            .unwrap()
            .is_empty()
    );
}
