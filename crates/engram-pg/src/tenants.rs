//! Tenants and their API keys: the control-plane directory, read without a
//! tenant set (see [`crate::schema`]), except for deleting a tenant's data.

use tokio_postgres::Row;

use engram_core::tenant::{ApiKey, Scope, Tenant};
use engram_core::{Code, Error, Result};

use crate::PgStore;
use crate::rows::{Stored, all};
use crate::sql::{conflict_on_unique, db_err, is_foreign_key_violation};

const TENANT_COLUMNS: &str = "id, name, created_at";
const KEY_COLUMNS: &str = "id, tenant_id, name, scopes, hash, created_at";

fn tenant_from_row(r: &Row) -> Result<Tenant> {
    let s = Stored::new(r, "tenants", 0);
    Ok(Tenant {
        id: s.get(0)?,
        name: s.get(1)?,
        created_at: s.get(2)?,
    })
}

/// A key whose scopes this build does not all know is refused whole:
/// dropping the unknown ones could turn a key into one that fails later
/// for no visible reason, and guessing could grant what was never given.
fn key_from_row(r: &Row) -> Result<ApiKey> {
    let s = Stored::new(r, "api_keys", 0);
    Ok(ApiKey {
        id: s.get(0)?,
        tenant_id: s.get(1)?,
        name: s.get(2)?,
        scopes: s.parse(3, |scopes: Vec<&str>| {
            scopes
                .iter()
                .map(|k| Scope::parse(k).ok_or_else(|| format!("unknown scope '{k}'")))
                .collect()
        })?,
        hash: s.get(4)?,
        created_at: s.get(5)?,
    })
}

pub async fn create(store: &PgStore, t: &Tenant) -> Result<()> {
    store
        .client()
        .await?
        .execute(
            &format!("INSERT INTO tenants({TENANT_COLUMNS}) VALUES ($1, $2, $3)"),
            &[&t.id, &t.name, &t.created_at],
        )
        .await
        .map_err(|e| {
            conflict_on_unique(e, Code::TenantNameTaken, db_err, || {
                format!("a tenant named '{}' already exists", t.name)
            })
        })?;
    Ok(())
}

pub async fn list(store: &PgStore) -> Result<Vec<Tenant>> {
    let rows = store
        .client()
        .await?
        .query(
            &format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY seq"),
            &[],
        )
        .await
        .map_err(db_err)?;
    all(&rows, tenant_from_row)
}

pub async fn get(store: &PgStore, id: &str) -> Result<Option<Tenant>> {
    let row = store
        .client()
        .await?
        .query_opt(
            &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(db_err)?;
    row.as_ref().map(tenant_from_row).transpose()
}

pub async fn delete(store: &PgStore, id: &str) -> Result<bool> {
    store
        .with_tenant(id, async |tx| {
            for table in [
                "memories",
                "idempotency",
                "lexical_stats",
                "conversations",
                "imports",
                "documents",
                "entity_keys",
                "entity_mentions",
                "relations",
                "entities",
            ] {
                tx.execute(&format!("DELETE FROM {table} WHERE tenant_id = $1"), &[&id])
                    .await
                    .map_err(db_err)?;
            }
            // Keys go with the tenant row (ON DELETE CASCADE).
            let n = tx
                .execute("DELETE FROM tenants WHERE id = $1", &[&id])
                .await
                .map_err(db_err)?;
            Ok(n > 0)
        })
        .await
}

pub async fn create_key(store: &PgStore, key: &ApiKey) -> Result<()> {
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    store
        .client()
        .await?
        .execute(
            &format!("INSERT INTO api_keys({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[
                &key.id,
                &key.tenant_id,
                &key.name,
                &scopes,
                &key.hash,
                &key.created_at,
            ],
        )
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                Error::not_found(format!("tenant {}", key.tenant_id))
            } else {
                db_err(e)
            }
        })?;
    Ok(())
}

pub async fn list_keys(store: &PgStore, tenant_id: &str) -> Result<Vec<ApiKey>> {
    let rows = store
        .client()
        .await?
        .query(
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id"
            ),
            &[&tenant_id],
        )
        .await
        .map_err(db_err)?;
    all(&rows, key_from_row)
}

pub async fn delete_key(store: &PgStore, tenant_id: &str, key_id: &str) -> Result<bool> {
    let n = store
        .client()
        .await?
        .execute(
            "DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2",
            &[&tenant_id, &key_id],
        )
        .await
        .map_err(db_err)?;
    Ok(n > 0)
}

pub async fn find_key(store: &PgStore, hash: &str) -> Result<Option<ApiKey>> {
    let client = store.client().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1"
        ))
        .await
        .map_err(db_err)?;
    let row = client.query_opt(&stmt, &[&hash]).await.map_err(db_err)?;
    row.as_ref().map(key_from_row).transpose()
}
