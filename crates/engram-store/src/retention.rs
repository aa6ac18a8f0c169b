//! Where each tenant's retention policies are kept (the rules themselves
//! are engram-core's [`retention`](engram_core::retention)).

use async_trait::async_trait;
use engram_core::Result;
use engram_core::retention::Policy;

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Replaces the tenant's policies; the tenant must exist.
    async fn set_retention(&self, tenant_id: &str, policies: &[Policy]) -> Result<()>;
    /// The tenant's policies in their order (none: keep everything).
    async fn retention(&self, tenant_id: &str) -> Result<Vec<Policy>>;
    /// Removes them; false when the tenant had none.
    async fn delete_retention(&self, tenant_id: &str) -> Result<bool>;
}
