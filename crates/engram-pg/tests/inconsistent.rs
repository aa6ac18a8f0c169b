//! Stored rows altered behind engram's back (as an operator's script, a
//! restore from elsewhere or a bug might) read as `inconsistent_storage` errors
//! naming the row: never a panic, never a default served as if stored.
//!
//! Each test gets a fresh database (from `ENGRAM_TEST_DATABASE_URL`, see
//! the binary's test harness, whose PostgreSQL helpers this file shares)
//! and corrupts it with plain SQL.

#[allow(dead_code)]
#[path = "../../engram/tests/common/pg.rs"]
mod pg;

use chrono::{TimeZone, Utc};
use engram_core::cancel::Cancel;
use engram_core::error::Inconsistency;
use engram_core::fusion::Fusion;
use engram_core::query::{Cursor, SearchMode};
use engram_core::ranking::Ranking;
use engram_core::tenant::{ApiKey, Scope, Tenant};
use engram_core::{Code, Filter, Kind, Memory, Result};
use engram_pg::PgStore;
use engram_store::{Idempotency, Listing, Record, Retrieval, Store};

const TENANT: &str = "t1";
const MEMORY: &str = "m-0001";
const KEY: &str = "k-0001";

/// A store over a fresh database holding one tenant, one key and one
/// memory (written with an idempotency key).
struct Fixture {
    db: pg::Database,
    store: PgStore,
}

impl Fixture {
    async fn new() -> Fixture {
        let db = pg::Database::new();
        let store = PgStore::connect(&db.url, 2).await.expect("connecting");
        store.bind_embedding_space("test-model", 3).await.unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        store
            .create_tenant(&Tenant {
                id: TENANT.into(),
                name: "acme".into(),
                created_at: at,
            })
            .await
            .unwrap();
        store
            .create_key(&ApiKey {
                id: KEY.into(),
                tenant_id: TENANT.into(),
                name: "agent".into(),
                scopes: vec![Scope::Read, Scope::Write],
                hash: "hash-of-the-secret".into(),
                created_at: at,
            })
            .await
            .unwrap();
        let idem = Idempotency {
            key: "idem-1".into(),
            fingerprint: "body-hash".into(),
        };
        store
            .insert(TENANT, vec![record()], Some(idem))
            .await
            .unwrap();
        Fixture { db, store }
    }

    /// Runs `sql` inside the tenant, as row-level security requires.
    fn corrupt(&self, sql: &str) {
        pg::psql(&pg::with_session_tenant(&self.db.url, TENANT), sql);
    }
}

fn record() -> Record {
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let mut metadata = serde_json::Map::new();
    metadata.insert("source".into(), "chat".into());
    Record {
        memory: Memory {
            id: MEMORY.into(),
            content: "Marta's dog is called Bruno".into(),
            kind: Kind::Semantic,
            user_id: Some("marta".into()),
            agent_id: None,
            session_id: Some("s1".into()),
            role: None,
            labels: vec!["pets".into()],
            metadata,
            importance: 0.7,
            occurred_at: at,
            created_at: at,
            updated_at: at,
            temporal: Default::default(),
        },
        embedding: vec![1.0, 0.0, 0.0],
    }
}

/// `result` is the inconsistency of `what`, its reason mentioning `reason`.
#[track_caller]
fn assert_inconsistent<T: std::fmt::Debug>(result: Result<T>, what: &str, reason: &str) {
    match result {
        Err(e) if e.code() == Code::InconsistentStorage => {
            let i = e.cause().and_then(|c| c.downcast_ref::<Inconsistency>());
            let (w, r) = i.map(|i| (&i.what, &i.reason)).expect("an Inconsistency");
            assert_eq!(w, what);
            assert!(
                r.contains(reason),
                "reason {r:?} does not mention {reason:?}"
            );
        }
        other => panic!("expected Inconsistent for {what}, got {other:?}"),
    }
}

/// Every read of the memory's row fails the same way.
async fn assert_memory_unreadable(f: &Fixture, reason: &str) {
    let what = format!("memories row {MEMORY}");
    let s = &f.store;
    assert_inconsistent(s.get(TENANT, MEMORY).await, &what, reason);
    assert_inconsistent(
        s.get_records(TENANT, &[MEMORY.to_string()]).await,
        &what,
        reason,
    );
    assert_inconsistent(
        s.list(
            TENANT,
            &Listing {
                filter: &Filter::default(),
                limit: 10,
                after: None,
            },
        )
        .await,
        &what,
        reason,
    );
    assert_inconsistent(s.export_page(TENANT, None, 10).await, &what, reason);
    // Search finds the row (its id and vector are intact), then reads it.
    let ranking = Ranking {
        mode: SearchMode::Hybrid,
        fusion: Fusion::Rrf { k: 60.0 },
        importance_weight: 0.0,
        recency_weight: 0.0,
        recency_half_life_days: 30.0,
        now: Utc::now(),
    };
    let search = Retrieval {
        terms: &["dog".to_string()],
        vector: Some(&[1.0, 0.0, 0.0]),
        filter: &Filter::default(),
        limit: 5,
        ranking: &ranking,
        keep: 5,
        cancel: &Cancel::new(),
        pinned: &[],
    };
    assert_inconsistent(s.retrieve(TENANT, &search).await, &what, reason);
}

#[tokio::test]
async fn intact_rows_read_back_as_written_and_updated() {
    let f = Fixture::new().await;
    let mut m = record().memory;
    assert_eq!(f.store.get(TENANT, MEMORY).await.unwrap(), Some(m.clone()));
    m.content = "Marta's dog is called Rex".into();
    m.kind = Kind::Episodic;
    m.labels = vec!["dogs".into()];
    m.metadata.insert("edited".into(), true.into());
    m.importance = 0.2;
    m.user_id = None;
    assert!(f.store.update(TENANT, &m, None).await.unwrap());
    // No new embedding: the stored one is kept.
    let records = f
        .store
        .get_records(TENANT, &[MEMORY.to_string()])
        .await
        .unwrap();
    assert_eq!(
        records,
        vec![Record {
            memory: m,
            embedding: vec![1.0, 0.0, 0.0]
        }]
    );
    assert_eq!(f.store.count_memories().await.unwrap(), 1);
    let idem = f.store.idempotent_result(TENANT, "idem-1").await.unwrap();
    assert_eq!(idem.unwrap().ids, vec![MEMORY.to_string()]);
}

#[tokio::test]
async fn unknown_kind_is_inconsistent_not_the_default_kind() {
    let f = Fixture::new().await;
    f.corrupt("UPDATE memories SET kind = 'bogus'");
    assert_memory_unreadable(&f, "column kind: unknown kind 'bogus'").await;
}

#[tokio::test]
async fn metadata_that_is_not_an_object_is_inconsistent_not_empty() {
    let f = Fixture::new().await;
    f.corrupt("UPDATE memories SET metadata = '[1, 2]'");
    assert_memory_unreadable(&f, "column metadata: metadata is a JSON array").await;
}

#[tokio::test]
async fn a_column_of_another_type_is_inconsistent_not_a_panic() {
    let f = Fixture::new().await;
    f.corrupt("ALTER TABLE memories ALTER COLUMN importance TYPE text USING importance::text");
    assert_memory_unreadable(&f, "column importance: cannot convert").await;
}

#[tokio::test]
async fn null_where_engram_never_writes_one_is_inconsistent() {
    let f = Fixture::new().await;
    f.corrupt(
        "ALTER TABLE memories ALTER COLUMN labels DROP NOT NULL; \
         UPDATE memories SET labels = NULL",
    );
    assert_memory_unreadable(&f, "column labels: a Postgres value was `NULL`").await;
}

#[tokio::test]
async fn unknown_scope_makes_the_key_inconsistent_not_narrower() {
    let f = Fixture::new().await;
    f.corrupt("UPDATE api_keys SET scopes = '{read,admin}'");
    let what = format!("api_keys row {KEY}");
    let reason = "column scopes: unknown scope 'admin'";
    assert_inconsistent(f.store.find_key("hash-of-the-secret").await, &what, reason);
    assert_inconsistent(f.store.list_keys(TENANT).await, &what, reason);
}

#[tokio::test]
async fn a_tenant_without_a_name_is_inconsistent() {
    let f = Fixture::new().await;
    f.corrupt(
        "ALTER TABLE tenants ALTER COLUMN name DROP NOT NULL; UPDATE tenants SET name = NULL",
    );
    let what = format!("tenants row {TENANT}");
    assert_inconsistent(f.store.list_tenants().await, &what, "column name");
    assert_inconsistent(f.store.get_tenant(TENANT).await, &what, "column name");
}

#[tokio::test]
async fn unreadable_idempotency_ids_are_inconsistent() {
    let f = Fixture::new().await;
    f.corrupt("UPDATE idempotency SET ids = '{NULL}'");
    assert_inconsistent(
        f.store.idempotent_result(TENANT, "idem-1").await,
        "idempotency row of key idem-1",
        "column ids",
    );
}

#[tokio::test]
async fn a_negative_document_count_is_inconsistent_not_zero() {
    let f = Fixture::new().await;
    f.corrupt("UPDATE lexical_stats SET docs = -5");
    assert_inconsistent(
        f.store.count_memories().await,
        &format!("lexical_stats row {TENANT}"),
        "negative document count (-5)",
    );
}

#[tokio::test]
async fn an_unparsable_embedding_dimension_is_inconsistent_not_unbound() {
    let f = Fixture::new().await;
    f.corrupt("UPDATE meta SET value = 'three' WHERE key = 'embedding_dimension'");
    let what = "meta row embedding_dimension";
    assert_inconsistent(
        f.store.embedding_space().await,
        what,
        "'three' is not a number",
    );
    // Not read as unbound: binding again must not try a second space.
    assert_inconsistent(
        f.store.bind_embedding_space("test-model", 3).await,
        what,
        "not a number",
    );
    f.corrupt("DELETE FROM meta WHERE key = 'embedding_dimension'");
    assert_inconsistent(
        f.store.embedding_space().await,
        "meta rows embedding_model and embedding_dimension",
        "only one",
    );
}

#[tokio::test]
async fn a_cursor_beyond_representable_time_is_invalid_input() {
    let f = Fixture::new().await;
    let cursor = Cursor {
        occurred_at_us: i64::MAX,
        id: MEMORY.into(),
    };
    let err = f
        .store
        .list(
            TENANT,
            &Listing {
                filter: &Filter::default(),
                limit: 10,
                after: Some(&cursor),
            },
        )
        .await
        .unwrap_err();
    assert!(err.field() == Some("cursor"), "{err:?}");
}
