//! Exact erasure of a user (the right to be forgotten): the store removes
//! everything holding the user's content (see
//! [`ErasureStore`](engram_store::erasure::ErasureStore) for the steps); the
//! receipt says what kinds of things went and how many, never what they
//! said, so it can be returned, logged and kept.

use chrono::Utc;

use engram_core::Result;
use engram_core::erasure::Receipt;
use engram_core::memory::validate_id;

use crate::Engine;

impl Engine {
    pub async fn erase_user(&self, tenant: &str, user_id: &str) -> Result<Receipt> {
        validate_id(user_id, "user_id")?;
        let erased = self.store.erase_user(tenant, user_id).await?;
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
            "user erased"
        );
        Ok(receipt)
    }
}
