//! Helpers the store's integration tests share.

use chrono::Utc;
use engram_core::tenant::Tenant;
use engram_embedded::EmbeddedStore;
use engram_store::Store;

/// Creates a tenant named `name`; returns its id.
pub async fn tenant(store: &EmbeddedStore, name: &str) -> String {
    let t = Tenant {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.into(),
        created_at: Utc::now(),
    };
    store.create_tenant(&t).await.unwrap();
    t.id
}
