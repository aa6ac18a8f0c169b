//! The store names each conflict with its own code, so the API can tell a
//! client which one it hit.

use chrono::Utc;
use engram_core::tenant::Tenant;
use engram_core::{Code, Memory, NewMemory};
use engram_embedded::EmbeddedStore;
use engram_store::{Record, Store};

fn tenant(name: &str) -> Tenant {
    Tenant {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.into(),
        created_at: Utc::now(),
    }
}

#[tokio::test]
async fn a_taken_memory_id_and_a_taken_tenant_name_have_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    store.bind_embedding_space("test", 2).await.unwrap();
    let t = tenant("a");
    store.create_tenant(&t).await.unwrap();
    let err = store.create_tenant(&tenant("a")).await.unwrap_err();
    assert_eq!(err.code(), Code::TenantNameTaken, "{err}");

    let new = NewMemory {
        content: "one".into(),
        ..Default::default()
    };
    let record = Record {
        memory: Memory::from_new("m1".into(), new, Utc::now()),
        embedding: vec![1.0, 0.0],
    };
    store
        .insert(&t.id, vec![record.clone()], None)
        .await
        .unwrap();
    let err = store.insert(&t.id, vec![record], None).await.unwrap_err();
    assert_eq!(err.code(), Code::MemoryIdTaken, "{err}");
    assert!(err.to_string().contains("m1"), "{err}");
}
