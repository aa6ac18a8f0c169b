//! Exact erasure of a user (the right to be forgotten): the store removes
//! everything holding the user's content (see
//! [`ErasureStore`](engram_store::erasure::ErasureStore) for the steps); the
//! receipt says what kinds of things went and how many, never what they
//! said, so it can be returned, logged and kept.

use chrono::Utc;

use engram_core::Result;
use engram_core::erasure::{Erased, Receipt};
use engram_core::memory::validate_id;

use crate::Engine;

impl Engine {
    pub async fn erase_user(&self, tenant: &str, user_id: &str) -> Result<Receipt> {
        validate_id(user_id, "user_id")?;
        // Documents and the graph go first: on the embedded store the
        // store's erasure ends by truncating the write-ahead log, which
        // must come after every write that freed the user's bytes.
        let (documents, chunks) = self.erase_user_documents(tenant, user_id).await?;
        let entities = self.store.delete_user_graph(tenant, user_id).await?;
        let mut erased = Erased {
            documents,
            entities,
            ..self.store.erase_user(tenant, user_id).await?
        };
        erased.memories += chunks;
        let receipt = Receipt {
            tenant_id: tenant.to_string(),
            user_id: user_id.to_string(),
            erased_at: Utc::now(),
            erased,
        };
        tracing::info!(
            tenant,
            user_id,
            erased_at = %receipt.erased_at,
            memories = erased.memories,
            derived = erased.derived,
            conversations = erased.conversations,
            idempotency_records = erased.idempotency_records,
            jobs = erased.jobs,
            documents = erased.documents,
            entities = erased.entities,
            "user erased"
        );
        Ok(receipt)
    }
}
