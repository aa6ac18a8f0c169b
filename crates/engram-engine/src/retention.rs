//! Retention policies as the API sets them and as `engram maintain
//! retention` applies them (docs/LIFECYCLE.md).

use chrono::{DateTime, Utc};
use engram_core::query::MAX_LIST_LIMIT;
use engram_core::retention::{Policy, Sweep, validate};
use engram_core::{Error, Filter, Result};

use crate::Engine;

impl Engine {
    /// Replaces the tenant's policies (validated first, so a refused list
    /// leaves the old one in force).
    pub async fn set_retention(&self, tenant: &str, policies: &[Policy]) -> Result<()> {
        validate(policies)?;
        self.require_tenant(tenant).await?;
        self.store.set_retention(tenant, policies).await
    }

    pub async fn retention(&self, tenant: &str) -> Result<Vec<Policy>> {
        self.require_tenant(tenant).await?;
        self.store.retention(tenant).await
    }

    /// Drops the tenant's policies: from now on it keeps everything.
    pub async fn delete_retention(&self, tenant: &str) -> Result<()> {
        self.require_tenant(tenant).await?;
        if self.store.delete_retention(tenant).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!(
                "retention policies of tenant {tenant}"
            )))
        }
    }

    /// The ids of the tenant's memories past retention at `now`, newest
    /// first; deleted too unless `dry_run`. Each is deleted as
    /// `DELETE /v1/memories/{id}` deletes it, so rows and indexes agree.
    pub async fn apply_retention(
        &self,
        tenant: &str,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Vec<String>> {
        let policies = self.store.retention(tenant).await?;
        if policies.is_empty() {
            return Ok(Vec::new());
        }
        let mut sweep = Sweep::new(&policies, now);
        let mut expired = Vec::new();
        let mut cursor: Option<String> = None;
        // Decided over the whole listing before anything is deleted, so a
        // page boundary cannot shift under the deletes.
        loop {
            let page = self
                .list(
                    tenant,
                    &Filter::default(),
                    Some(MAX_LIST_LIMIT),
                    cursor.as_deref(),
                )
                .await?;
            expired.extend(
                page.items
                    .iter()
                    .filter(|m| sweep.expired(m))
                    .map(|m| m.id.clone()),
            );
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        if !dry_run {
            for id in &expired {
                // Gone meanwhile (deleted by its user): nothing left to do.
                self.store.delete(tenant, id).await?;
            }
        }
        Ok(expired)
    }
}
