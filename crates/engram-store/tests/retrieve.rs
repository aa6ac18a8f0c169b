//! The embedded store's one-pass `retrieve` must return exactly what the
//! primitives return one by one, and never cross tenants.

use chrono::Utc;
use engram_core::tenant::Tenant;
use engram_core::{Filter, Memory, NewMemory};
use engram_store::{EmbeddedStore, Hit, Record, Retrieval, Retrieved, Store, retrieve_separately};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIM: usize = 8;
const WORDS: &[&str] = &[
    "coffee", "tea", "paris", "berlin", "meeting", "deadline", "allergy", "peanut", "dog",
    "garden", "budget", "flight",
];

fn unit(rng: &mut StdRng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
    engram_core::fusion::normalize(&mut v);
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
        ..Default::default()
    };
    Record {
        memory: Memory::from_new(uuid::Uuid::now_v7().to_string(), new, Utc::now()),
        embedding: unit(rng),
    }
}

async fn tenant(store: &EmbeddedStore, name: &str) -> String {
    let t = Tenant {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.into(),
        created_at: Utc::now(),
    };
    store.create_tenant(&t).await.unwrap();
    t.id
}

fn hit_ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

fn ids(r: &Retrieved) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
    (
        hit_ids(&r.lexical),
        hit_ids(&r.dense),
        r.records.iter().map(|r| r.memory.id.as_str()).collect(),
    )
}

#[tokio::test]
async fn one_pass_retrieve_matches_the_primitives_within_one_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    store.bind_embedding_space("test", DIM).await.unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let (a, b) = (tenant(&store, "a").await, tenant(&store, "b").await);
    let a_records: Vec<Record> = (0..300).map(|i| record(&mut rng, i)).collect();
    let b_records: Vec<Record> = (0..300).map(|i| record(&mut rng, i)).collect();
    let b_ids: Vec<String> = b_records.iter().map(|r| r.memory.id.clone()).collect();
    store.insert(&a, a_records, None).await.unwrap();
    store.insert(&b, b_records, None).await.unwrap();

    let mut checked = 0;
    for q in 0..40 {
        let terms: Vec<String> = if q % 4 == 1 {
            Vec::new()
        } else {
            (0..2)
                .map(|_| WORDS[rng.random_range(0..WORDS.len())].to_string())
                .collect()
        };
        let vector = (q % 4 != 2).then(|| unit(&mut rng));
        let filter = Filter {
            user_id: (q % 3 == 0).then(|| format!("user-{}", q % 4)),
            ..Default::default()
        };
        let query = Retrieval {
            terms: &terms,
            vector: vector.as_deref(),
            filter: &filter,
            limit: 20,
        };
        let one_pass = store.retrieve(&a, &query).await.unwrap();
        let separate = retrieve_separately(&store, &a, &query).await.unwrap();
        assert_eq!(ids(&one_pass), ids(&separate), "query {q}");
        let scores = |r: &Retrieved| -> Vec<f32> {
            r.lexical.iter().chain(&r.dense).map(|h| h.score).collect()
        };
        assert_eq!(scores(&one_pass), scores(&separate), "query {q}");
        assert!(
            one_pass
                .records
                .iter()
                .all(|r| !b_ids.contains(&r.memory.id)),
            "query {q} returned another tenant's memory"
        );
        if let Some(user) = &filter.user_id {
            assert!(
                one_pass
                    .records
                    .iter()
                    .all(|r| r.memory.user_id.as_ref() == Some(user))
            );
        }
        checked += usize::from(!one_pass.records.is_empty());
    }
    assert!(checked > 30, "too few queries found anything: {checked}");

    let missing = store
        .retrieve(
            "no-such-tenant",
            &Retrieval {
                terms: &["coffee".to_string()],
                vector: None,
                filter: &Filter::default(),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(missing.records.is_empty() && missing.lexical.is_empty());
}
