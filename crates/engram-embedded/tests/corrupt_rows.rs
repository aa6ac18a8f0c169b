//! A stored value that does not read back (changed outside engram, or
//! written by a bug) is an `inconsistent_storage` error naming its row on every
//! read, never a default served as if it had been stored.

use std::path::Path;

use chrono::Utc;
use engram_core::error::Inconsistency;
use engram_core::tenant::{ApiKey, Scope, Tenant};
use engram_core::{Code, Filter, Memory, NewMemory};
use engram_embedded::EmbeddedStore;
use engram_store::{Idempotency, Listing, Record, Store};

const DIM: usize = 4;

async fn open(dir: &Path) -> EmbeddedStore {
    let store = EmbeddedStore::open(dir).unwrap();
    store.bind_embedding_space("test", DIM).await.unwrap();
    store
}

/// A store with tenant "t", one memory (returned: tenant id, memory id),
/// an API key "k" and an idempotency key "idem", closed.
async fn stored(dir: &Path) -> (String, String) {
    let store = open(dir).await;
    let t = Tenant {
        id: "tenant-1".into(),
        name: "t".into(),
        created_at: Utc::now(),
    };
    store.create_tenant(&t).await.unwrap();
    let key = ApiKey {
        id: "k".into(),
        tenant_id: t.id.clone(),
        name: "key".into(),
        scopes: vec![Scope::Read],
        hash: "h".into(),
        created_at: Utc::now(),
    };
    store.create_key(&key).await.unwrap();
    let new = NewMemory {
        content: "likes green tea".into(),
        labels: vec!["drinks".into()],
        ..Default::default()
    };
    let memory = Memory::from_new("memory-1".into(), new, Utc::now());
    let idem = Idempotency {
        key: "idem".into(),
        fingerprint: "f".into(),
    };
    let record = Record {
        memory,
        embedding: vec![0.5; DIM],
    };
    store.insert(&t.id, vec![record], Some(idem)).await.unwrap();
    store.flush().await.unwrap();
    (t.id, "memory-1".into())
}

/// Changes the database of the closed store in `dir` with raw SQL.
fn corrupt(dir: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(dir.join("engram.db")).unwrap();
    assert_eq!(conn.execute(sql, []).unwrap(), 1, "{sql}");
}

fn names<T: std::fmt::Debug>(r: engram_core::Result<T>, row: &str) {
    match r {
        Err(e) if e.code() == Code::InconsistentStorage => {
            let i = e.cause().and_then(|c| c.downcast_ref::<Inconsistency>());
            assert_eq!(i.map(|i| i.what.as_str()), Some(row));
        }
        other => panic!("expected inconsistent storage naming {row}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_memory_that_does_not_read_back_is_an_error_naming_it() {
    for set in [
        "kind = 'dream'",
        "labels = 'drinks'",
        "metadata = '{\"a\":'",
        "metadata = '[1]'",
        "occurred_at = 9223372036854775807",
        "created_at = -9223372036854775808",
        "updated_at = 9223372036854775807",
        "embedding = x'000000'",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (t, id) = stored(dir.path()).await;
        corrupt(
            dir.path(),
            &format!("UPDATE memories SET {set} WHERE id = '{id}'"),
        );
        let store = open(dir.path()).await;
        let row = format!("memories row {id}");
        if !set.starts_with("embedding") {
            names(store.get(&t, &id).await, &row);
            let listing = Listing {
                filter: &Filter::default(),
                limit: 10,
                after: None,
            };
            names(store.list(&t, &listing).await, &row);
        }
        names(store.get_records(&t, std::slice::from_ref(&id)).await, &row);
        names(store.export_page(&t, None, 10).await, &row);
        drop(store);

        // Rebuilding the indexes from the rows reads it too: the store
        // does not start on a default in its place.
        for d in ["text", "vectors", "catalog"] {
            std::fs::remove_dir_all(dir.path().join(d)).unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        names(store.bind_embedding_space("test", DIM).await, &row);
    }
}

#[tokio::test]
async fn tenants_keys_idempotency_and_meta_that_do_not_read_back_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _) = stored(dir.path()).await;
    corrupt(dir.path(), "UPDATE api_keys SET scopes = 'read,admin'");
    corrupt(dir.path(), "UPDATE idempotency SET ids = '[\"memory-1\"'");
    corrupt(
        dir.path(),
        "UPDATE meta SET value = 'four' WHERE key = 'embedding_dimension'",
    );
    let store = EmbeddedStore::open(dir.path()).unwrap();
    names(store.list_keys(&t).await, "api_keys row k");
    names(store.find_key("h").await, "api_keys row k");
    names(
        store.idempotent_result(&t, "idem").await,
        &format!("idempotency row idem of tenant {t}"),
    );
    names(
        store.embedding_space().await,
        "meta row embedding_dimension",
    );
    drop(store);

    corrupt(
        dir.path(),
        "UPDATE tenants SET created_at = 9223372036854775807",
    );
    let store = EmbeddedStore::open(dir.path()).unwrap();
    names(store.list_tenants().await, &format!("tenants row {t}"));
    names(store.get_tenant(&t).await, &format!("tenants row {t}"));
}
