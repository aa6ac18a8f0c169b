//! The embedded store's `retrieve` filters, ranks and builds its results
//! from memory (its catalog and the vectors in its vector index), reading
//! no row.
//! It must agree with `retrieve_separately`, which filters in SQL and ranks
//! every candidate's row as read, under every kind of filter, after updates
//! and deletes, and after a reopen; and it must never cross tenants. A
//! search nobody waits for any more stops.

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use engram_core::cancel::Cancel;
use engram_core::fusion::Fusion;
use engram_core::query::SearchMode;
use engram_core::ranking::Ranking;
use engram_core::{Filter, Kind, Memory, NewMemory};
use engram_embedded::EmbeddedStore;
use engram_store::{Record, Retrieval, Retrieved, Store, retrieve_separately};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod common;

use common::tenant;

const DIM: usize = 8;
/// Memories in the store whose search is cancelled.
const MANY: usize = 50_000;
const WORDS: &[&str] = &[
    "coffee", "tea", "paris", "berlin", "meeting", "deadline", "allergy", "peanut", "dog",
    "garden", "budget", "flight",
];
/// Dense scores come from the index's half-precision vectors on one side
/// and the rows' full-precision ones on the other.
const TOLERANCE: f32 = 0.02;

fn unit(rng: &mut StdRng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
    engram_core::vector::normalize(&mut v);
    v
}

fn record(rng: &mut StdRng, i: usize) -> Record {
    let content = (0..rng.random_range(3..9))
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ");
    let new = NewMemory {
        content,
        user_id: Some(format!("user-{}", i % 4)),
        session_id: i.is_multiple_of(3).then(|| format!("s-{}", i % 5)),
        kind: if i.is_multiple_of(7) {
            Kind::Semantic
        } else {
            Kind::Episodic
        },
        labels: i
            .is_multiple_of(2)
            .then(|| format!("label-{}", i % 3))
            .into_iter()
            .collect(),
        importance: Some(rng.random_range(0.0..1.0)),
        occurred_at: Some(day(i as i64 % 30)),
        ..Default::default()
    };
    Record {
        memory: Memory::from_new(uuid::Uuid::now_v7().to_string(), new, Utc::now()),
        embedding: unit(rng),
    }
}

fn day(d: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(d)
}

fn filter(q: usize) -> Filter {
    match q % 6 {
        0 => Filter::default(),
        1 => Filter {
            user_id: Some(format!("user-{}", q % 4)),
            ..Default::default()
        },
        2 => Filter {
            session_id: Some(format!("s-{}", q % 5)),
            labels: vec![format!("label-{}", q % 3)],
            ..Default::default()
        },
        3 => Filter {
            kind: Some(Kind::Semantic),
            ..Default::default()
        },
        4 => Filter {
            user_id: Some("user-1".into()),
            after: Some(day(5)),
            before: Some(day(20)),
            ..Default::default()
        },
        _ => Filter {
            user_id: Some("nobody".into()),
            ..Default::default()
        },
    }
}

fn ranking(q: usize) -> Ranking {
    Ranking {
        mode: [SearchMode::Hybrid, SearchMode::Vector, SearchMode::Keyword][q % 3],
        fusion: if (q / 3).is_multiple_of(2) {
            Fusion::default()
        } else {
            Fusion::Rrf { k: 60.0 }
        },
        importance_weight: 0.2,
        recency_weight: 0.1,
        recency_half_life_days: 10.0,
        now: day(40),
    }
}

fn ids(r: &Retrieved) -> Vec<&str> {
    r.ranked
        .iter()
        .map(|r| r.record.memory.id.as_str())
        .collect()
}

/// Runs 48 searches both ways; returns how many found anything.
async fn agree(store: &EmbeddedStore, tenant: &str, others: &[String], rng: &mut StdRng) -> usize {
    let mut found = 0;
    for q in 0..48 {
        let ranking = ranking(q);
        let terms: Vec<String> = if ranking.mode == SearchMode::Vector {
            Vec::new()
        } else {
            (0..2)
                .map(|_| WORDS[rng.random_range(0..WORDS.len())].to_string())
                .collect()
        };
        let vector = (ranking.mode != SearchMode::Keyword).then(|| unit(rng));
        let filter = filter(q / 6);
        let cancel = Cancel::new();
        let query = |keep| Retrieval {
            terms: &terms,
            vector: vector.as_deref(),
            filter: &filter,
            limit: 20,
            ranking: &ranking,
            keep,
            cancel: &cancel,
            pinned: &[],
        };
        let all = store.retrieve(tenant, &query(usize::MAX)).await.unwrap();
        let reference = retrieve_separately(store, tenant, &query(usize::MAX))
            .await
            .unwrap();
        let mut a = ids(&all);
        let mut b = ids(&reference);
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "query {q}: different candidates");
        for r in &all.ranked {
            let theirs = reference
                .ranked
                .iter()
                .find(|x| x.record.memory.id == r.record.memory.id)
                .unwrap();
            assert!(
                (r.score - theirs.score).abs() < TOLERANCE,
                "query {q}: {} scored {} and {}",
                r.record.memory.id,
                r.score,
                theirs.score
            );
            assert_eq!(
                r.record.memory, theirs.record.memory,
                "query {q}: the memory returned differs"
            );
            // What `"explain": true` shows: the same signals either way.
            let (mine, ref_) = (r.explain, theirs.explain);
            assert_eq!(
                mine.fused, r.score,
                "query {q}: fused is the first-stage score"
            );
            assert_eq!(
                mine.lexical.is_some(),
                ref_.lexical.is_some(),
                "query {q}: {mine:?} {ref_:?}"
            );
            for (a, b) in [(mine.lexical, ref_.lexical), (mine.vector, ref_.vector)] {
                if let (Some(a), Some(b)) = (a, b) {
                    assert!((a - b).abs() < TOLERANCE, "query {q}: {mine:?} {ref_:?}");
                }
            }
            assert_eq!(
                mine.vector.is_some(),
                ref_.vector.is_some(),
                "query {q}: {mine:?} {ref_:?}"
            );
            let drift = r
                .record
                .embedding
                .iter()
                .zip(&theirs.record.embedding)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(drift < 1e-2, "query {q}: the vector returned differs");
        }
        assert!(all.ranked.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(!all.more);

        // Only the best few are returned, and they are the reference's best.
        let best = store.retrieve(tenant, &query(5)).await.unwrap();
        assert_eq!(
            ids(&best),
            ids(&all)[..all.ranked.len().min(5)],
            "query {q}"
        );
        assert_eq!(best.more, all.ranked.len() > 5, "query {q}");
        if let Some(fifth) = reference.ranked.get(4) {
            assert!(
                best.ranked
                    .iter()
                    .all(|r| r.score > fifth.score - TOLERANCE)
            );
        }

        for r in &all.ranked {
            let m = &r.record.memory;
            assert!(!others.contains(&m.id), "query {q} crossed tenants");
            if let Some(user) = &filter.user_id {
                assert_eq!(m.user_id.as_ref(), Some(user), "query {q}");
            }
        }
        found += usize::from(!all.ranked.is_empty());
    }
    found
}

#[tokio::test]
async fn ranking_from_memory_matches_ranking_the_rows_within_one_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let (a, b_ids);
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.bind_embedding_space("test", DIM).await.unwrap();
        a = tenant(&store, "a").await;
        let b = tenant(&store, "b").await;
        let a_records: Vec<Record> = (0..300).map(|i| record(&mut rng, i)).collect();
        let b_records: Vec<Record> = (0..300).map(|i| record(&mut rng, i)).collect();
        b_ids = b_records
            .iter()
            .map(|r| r.memory.id.clone())
            .collect::<Vec<_>>();
        let mut changed: Vec<Memory> = a_records[..40].iter().map(|r| r.memory.clone()).collect();
        store.insert(&a, a_records, None).await.unwrap();
        store.insert(&b, b_records, None).await.unwrap();
        let found = agree(&store, &a, &b_ids, &mut rng).await;
        assert!(found > 30, "too few queries found anything: {found}");

        // Saved, then changed: the next open loads the files and replays
        // these changes from the log.
        store.flush().await.unwrap();
        let saved = std::fs::read_dir(dir.path().join("catalog"))
            .unwrap()
            .count();
        assert_eq!(saved, 2, "one catalog file per tenant");
        let vectors: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path().join("vectors"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(vectors.len(), 2, "one vector index file per tenant");
        assert!(vectors.iter().all(|p| p.extension().unwrap() == "ivf"));
        // A graph file left by a version before the partitioned index.
        std::fs::write(vectors[0].with_extension("usearch"), b"old graph").unwrap();
        for (i, m) in changed.iter_mut().enumerate() {
            if i % 2 == 0 {
                m.user_id = Some("user-1".into());
                m.importance = 1.0;
                m.occurred_at = day(10);
                assert!(store.update(&a, m, None).await.unwrap());
            } else {
                assert!(store.delete(&a, &m.id).await.unwrap());
            }
        }
        agree(&store, &a, &b_ids, &mut rng).await;
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    store.bind_embedding_space("test", DIM).await.unwrap();
    agree(&store, &a, &b_ids, &mut rng).await;
    let old_graphs = std::fs::read_dir(dir.path().join("vectors"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "usearch")
        .count();
    assert_eq!(old_graphs, 0, "an old graph file is deleted on open");

    let missing = store
        .retrieve(
            "no-such-tenant",
            &Retrieval {
                terms: &["coffee".to_string()],
                vector: None,
                filter: &Filter::default(),
                limit: 10,
                ranking: &ranking(2),
                keep: 10,
                cancel: &Cancel::new(),
                pinned: &[],
            },
        )
        .await
        .unwrap();
    assert!(missing.ranked.is_empty());
}

/// Many concurrent searches, while the index is read by all of them at
/// once, must all succeed (usearch's graph once failed some).
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn many_concurrent_searches_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    store.bind_embedding_space("test", DIM).await.unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let a = tenant(&store, "a").await;
    let records: Vec<Record> = (0..20000).map(|i| record(&mut rng, i)).collect();
    store.insert(&a, records, None).await.unwrap();
    let searches = (0..256).map(|_| {
        let (store, a) = (store.clone(), a.clone());
        let (terms, vector) = (vec!["coffee".to_string()], unit(&mut rng));
        tokio::spawn(async move {
            let ranking = ranking(0);
            store
                .retrieve(
                    &a,
                    &Retrieval {
                        terms: &terms,
                        vector: Some(&vector),
                        filter: &Filter::default(),
                        limit: 50,
                        ranking: &ranking,
                        keep: 10,
                        cancel: &Cancel::new(),
                        pinned: &[],
                    },
                )
                .await
        })
    });
    let searches: Vec<_> = searches.collect();
    for s in searches {
        let found = s.await.unwrap().unwrap();
        assert_eq!(found.ranked.len(), 10);
    }
}

/// A vector the index cannot hold (another length, a non-finite value) is
/// refused before anything is committed, on insert and on update, and a
/// query of another length is an error rather than a ranking of zeros.
#[tokio::test]
async fn vectors_the_index_cannot_hold_are_refused_before_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    store.bind_embedding_space("test", DIM).await.unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let a = tenant(&store, "a").await;
    let good = record(&mut rng, 0);
    store.insert(&a, vec![good.clone()], None).await.unwrap();

    let mut short = record(&mut rng, 1);
    short.embedding.pop();
    let mut nan = record(&mut rng, 2);
    nan.embedding[0] = f32::NAN;
    for bad in [short, nan] {
        let id = bad.memory.id.clone();
        let err = store.insert(&a, vec![record(&mut rng, 3), bad], None).await;
        assert!(err.unwrap_err().to_string().contains("dimensional vector"));
        assert!(
            store.get(&a, &id).await.unwrap().is_none(),
            "nothing committed"
        );
    }
    let mut longer = good.embedding.clone();
    longer.push(0.0);
    let err = store.update(&a, &good.memory, Some(longer.clone())).await;
    assert!(err.is_err());
    let (filter, cancel) = (Filter::default(), Cancel::new());
    let ranking = Ranking::plain(SearchMode::Vector);
    let nearest = |vector| Retrieval {
        terms: &[],
        vector: Some(vector),
        filter: &filter,
        limit: 5,
        ranking: &ranking,
        keep: 5,
        cancel: &cancel,
        pinned: &[],
    };
    let err = store.vector_search(&a, &nearest(&longer)).await;
    assert!(err.is_err());
    let hits = store
        .vector_search(&a, &nearest(&good.embedding))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "only the good memory was stored");
}

fn is_cancellation<T>(r: &engram_core::Result<T>) -> bool {
    r.as_ref().is_err_and(engram_core::cancel::is_cancellation)
}

/// A search of every word for as many hits as there are memories: slow
/// enough to be caught running.
async fn search_everything(
    store: Arc<EmbeddedStore>,
    tenant: String,
    vector: Vec<f32>,
    cancel: Cancel,
) -> engram_core::Result<Retrieved> {
    let terms: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
    let (filter, ranking) = (Filter::default(), ranking(0));
    store
        .retrieve(
            &tenant,
            &Retrieval {
                terms: &terms,
                vector: Some(&vector),
                filter: &filter,
                limit: MANY,
                ranking: &ranking,
                keep: 10,
                cancel: &cancel,
                pinned: &[],
            },
        )
        .await
}

/// What the engine does for a request timeout, a client gone or shutdown:
/// the future waiting for a search is dropped with the guard it holds.
/// The search then stops on its blocking thread, which a runtime shut
/// down waits for: the runtime stops long before the search would have
/// ended. The primitives and an already cancelled search return the
/// cancellation error.
#[test]
fn a_dropped_search_stops_its_blocking_work() {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(13);
    let setup = runtime();
    let (store, a) = setup.block_on(async {
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        store.bind_embedding_space("test", DIM).await.unwrap();
        let a = tenant(&store, "a").await;
        for batch in 0..MANY / 10_000 {
            let records = (0..10_000).map(|i| record(&mut rng, batch * 10_000 + i));
            store.insert(&a, records.collect(), None).await.unwrap();
        }
        (store, a)
    });
    let vector = unit(&mut rng);
    let search =
        |cancel: Cancel| search_everything(store.clone(), a.clone(), vector.clone(), cancel);
    // The faster of two complete runs: the time a search would take.
    let full = (0..2)
        .map(|_| {
            let start = Instant::now();
            let found = setup.block_on(search(Cancel::new())).unwrap();
            assert_eq!(found.ranked.len(), 10);
            start.elapsed()
        })
        .min()
        .unwrap();

    let cancelled = Cancel::new();
    cancelled.cancel();
    setup.block_on(async {
        assert!(is_cancellation(&search(cancelled.clone()).await));
        let (terms, filter) = (["coffee".to_string()], Filter::default());
        let ranking = Ranking::plain(SearchMode::Hybrid);
        let q = Retrieval {
            terms: &terms,
            vector: Some(&vector),
            filter: &filter,
            limit: 10,
            ranking: &ranking,
            keep: 10,
            cancel: &cancelled,
            pinned: &[],
        };
        assert!(is_cancellation(&store.lexical_search(&a, &q).await));
        assert!(is_cancellation(&store.vector_search(&a, &q).await));
    });
    drop(setup);

    let serving = runtime();
    let cancel = Cancel::new();
    let request = {
        let (guard, search) = (cancel.on_drop(), search(cancel.clone()));
        serving.spawn(async move {
            let _guard = guard;
            search.await
        })
    };
    std::thread::sleep(full / 10);
    request.abort();
    assert!(serving.block_on(request).unwrap_err().is_cancelled());
    assert!(cancel.is_cancelled(), "dropping the future cancels");
    let stopping = Instant::now();
    serving.shutdown_timeout(full * 4);
    let stopped = stopping.elapsed();
    assert!(
        stopped < full / 3,
        "the blocking search ran on for {stopped:?}; a whole one takes {full:?}"
    );
}
