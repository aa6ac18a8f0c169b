//! Tenants and API keys.
//!
//! Keys are 256-bit random secrets shown once; only their SHA-256 is
//! stored. A slow password hash would add nothing for secrets of this
//! entropy and would cost every request.

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

use engram_core::tenant::{ApiKey, Scope, Tenant};
use engram_core::{Error, Result};

use crate::Engine;

/// Prefix that makes leaked keys easy to recognise (and to scan for).
const KEY_PREFIX: &str = "egk_";
const MAX_NAME_CHARS: usize = 128;

/// Who is calling, as established by the key.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub tenant_id: String,
    pub key_id: String,
    pub scopes: Vec<Scope>,
}

pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

impl Engine {
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant> {
        validate_name(name)?;
        let t = Tenant {
            id: new_id(),
            name: name.trim().to_string(),
            created_at: engram_core::memory::now(),
        };
        self.store.create_tenant(&t).await?;
        Ok(t)
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.store.list_tenants().await
    }

    /// One tenant, for a key to learn whose it is.
    pub async fn tenant(&self, id: &str) -> Result<Option<Tenant>> {
        self.store.get_tenant(id).await
    }

    pub async fn find_tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
        Ok(self
            .store
            .list_tenants()
            .await?
            .into_iter()
            .find(|t| t.name == name))
    }

    pub async fn delete_tenant(&self, id: &str) -> Result<()> {
        if self.store.delete_tenant(id).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!("tenant {id}")))
        }
    }

    /// Creates a key and returns it with its secret, which is not stored
    /// and cannot be shown again.
    pub async fn create_key(
        &self,
        tenant_id: &str,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(ApiKey, String)> {
        validate_name(name)?;
        if scopes.is_empty() {
            return Err(Error::invalid(
                "scopes",
                "give at least one of \"read\", \"write\"",
            ));
        }
        if self.store.get_tenant(tenant_id).await?.is_none() {
            return Err(Error::not_found(format!("tenant {tenant_id}")));
        }
        let mut scopes = scopes.to_vec();
        scopes.sort_by_key(|s| s.as_str());
        scopes.dedup();
        let secret = new_secret();
        let key = ApiKey {
            id: new_id(),
            tenant_id: tenant_id.to_string(),
            name: name.trim().to_string(),
            scopes,
            hash: hash_secret(&secret),
            created_at: engram_core::memory::now(),
        };
        self.store.create_key(&key).await?;
        Ok((key, secret))
    }

    pub async fn list_keys(&self, tenant_id: &str) -> Result<Vec<ApiKey>> {
        if self.store.get_tenant(tenant_id).await?.is_none() {
            return Err(Error::not_found(format!("tenant {tenant_id}")));
        }
        self.store.list_keys(tenant_id).await
    }

    pub async fn delete_key(&self, tenant_id: &str, key_id: &str) -> Result<()> {
        if self.store.delete_key(tenant_id, key_id).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!("key {key_id}")))
        }
    }

    /// The principal a secret stands for; looked up on every request, so a
    /// deleted key stops working at once.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Principal>> {
        if !secret.starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        Ok(self
            .store
            .find_key(&hash_secret(secret))
            .await?
            .map(|k| Principal {
                tenant_id: k.tenant_id,
                key_id: k.id,
                scopes: k.scopes,
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_prefixed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
