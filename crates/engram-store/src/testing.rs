//! Checks every backend must pass, for their test suites (behind the
//! `testing` feature, not part of the store API).
//!
//! A filter has one meaning, [`Filter::matches`] over its conditions; each
//! backend translates it (to SQL, to posting lists) and every translation
//! must pick exactly the memories it matches, for every kind of condition
//! and combination of conditions.

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone, Utc};
use engram_core::cancel::Cancel;
use engram_core::query::SearchMode;
use engram_core::ranking::Ranking;
use engram_core::tenant::Tenant;
use engram_core::{Filter, Kind, Memory, NewMemory};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{Listing, Record, Retrieval, Store};

/// The dimension the store under test must accept.
pub const DIM: usize = 4;
const MEMORIES: usize = 240;

fn day(d: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(d)
}

fn pick(rng: &mut StdRng, prefix: &str, n: usize) -> Option<String> {
    let i = rng.random_range(0..=n);
    (i < n).then(|| format!("{prefix}-{i}"))
}

fn labels(rng: &mut StdRng) -> Vec<String> {
    (0..3)
        .filter(|_| rng.random_bool(0.4))
        .map(|i| format!("label-{i}"))
        .collect()
}

fn record(rng: &mut StdRng) -> Record {
    let new = NewMemory {
        content: "a memory to filter".into(),
        user_id: pick(rng, "user", 3),
        agent_id: pick(rng, "agent", 2),
        session_id: pick(rng, "s", 4),
        kind: [Kind::Episodic, Kind::Semantic][rng.random_range(0..2)],
        labels: labels(rng),
        occurred_at: Some(day(rng.random_range(0..20))),
        // Open or bounded on either side, on whole days so that a filter's
        // instant often falls exactly on a bound.
        valid_from: rng.random_bool(0.5).then(|| day(rng.random_range(0..10))),
        valid_to: rng.random_bool(0.5).then(|| day(rng.random_range(10..20))),
        ..Default::default()
    };
    let mut embedding: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
    engram_core::vector::normalize(&mut embedding);
    Record {
        memory: Memory::from_new(uuid::Uuid::now_v7().to_string(), new, Utc::now()),
        embedding,
    }
}

/// A filter with each condition present or not, values sometimes unknown.
fn filter(rng: &mut StdRng) -> Filter {
    let after = rng.random_bool(0.3).then(|| day(rng.random_range(0..10)));
    Filter {
        user_id: pick(rng, "user", 4),
        agent_id: if rng.random_bool(0.3) {
            pick(rng, "agent", 2)
        } else {
            None
        },
        session_id: if rng.random_bool(0.3) {
            pick(rng, "s", 5)
        } else {
            None
        },
        kind: rng
            .random_bool(0.3)
            .then(|| [Kind::Episodic, Kind::Semantic][rng.random_range(0..2)]),
        labels: if rng.random_bool(0.5) {
            labels(rng)
        } else {
            Vec::new()
        },
        after,
        before: rng.random_bool(0.3).then(|| day(rng.random_range(10..21))),
        valid_at: rng.random_bool(0.4).then(|| day(rng.random_range(0..21))),
        sessions: rng.random_bool(0.2).then(|| sessions(rng)),
        excluded_sessions: if rng.random_bool(0.3) {
            sessions(rng)
        } else {
            Vec::new()
        },
    }
}

/// Zero to two session ids, sometimes unknown ones.
fn sessions(rng: &mut StdRng) -> Vec<String> {
    let n = rng.random_range(0..3);
    (0..n).filter_map(|_| pick(rng, "s", 5)).collect()
}

/// Fills a new tenant of `store` (bound to [`DIM`] dimensions) with random
/// memories, then checks 150 random filters: `list` and `retrieve` must
/// each return exactly the memories [`Filter::matches`]. Panics with the
/// filter whose translation disagrees.
pub async fn filters_pick_exactly_what_they_match(store: &dyn Store) {
    store.bind_embedding_space("test", DIM).await.unwrap();
    let tenant = Tenant {
        id: uuid::Uuid::now_v7().to_string(),
        name: "filters".into(),
        created_at: Utc::now(),
    };
    store.create_tenant(&tenant).await.unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let records: Vec<Record> = (0..MEMORIES).map(|_| record(&mut rng)).collect();
    store
        .insert(&tenant.id, records.clone(), None)
        .await
        .unwrap();
    let ranking = Ranking::plain(SearchMode::Vector);
    let query = records[0].embedding.clone();
    let cancel = Cancel::new();
    let mut nonempty = 0;
    for _ in 0..150 {
        let f = filter(&mut rng);
        let want: BTreeSet<&str> = records
            .iter()
            .filter(|r| f.matches(&r.memory))
            .map(|r| r.memory.id.as_str())
            .collect();
        nonempty += usize::from(!want.is_empty());
        let listing = Listing {
            filter: &f,
            limit: MEMORIES,
            after: None,
        };
        let listed = store.list(&tenant.id, &listing).await.unwrap();
        let listed: BTreeSet<&str> = listed.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(listed, want, "list under {f:?}");
        let found = store
            .retrieve(
                &tenant.id,
                &Retrieval {
                    terms: &[],
                    vector: Some(&query),
                    filter: &f,
                    limit: MEMORIES,
                    ranking: &ranking,
                    keep: MEMORIES,
                    cancel: &cancel,
                    pinned: &[],
                },
            )
            .await
            .unwrap();
        let found: BTreeSet<&str> = found
            .ranked
            .iter()
            .map(|r| r.record.memory.id.as_str())
            .collect();
        assert_eq!(found, want, "retrieve under {f:?}");
    }
    assert!(nonempty > 40, "the filters matched too rarely to test much");
}
