//! Tenants and their API keys.

use rusqlite::{OptionalExtension, params};

use engram_core::tenant::{ApiKey, Scope, Tenant};
use engram_core::{Code, Error, Result};

use crate::rows::{micros, read_back, sql_err, time};
use crate::{Inner, require_tenant, tenant_seq};

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKey> {
    let id: String = r.get(0)?;
    let scopes: String = r.get(3)?;
    let row = format!("api_keys row {id}");
    let scopes = scopes
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            read_back(
                &row,
                "scopes",
                Scope::parse(s).ok_or("an unknown scope".into()),
            )
        })
        .collect::<rusqlite::Result<_>>()?;
    Ok(ApiKey {
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        scopes,
        hash: r.get(4)?,
        created_at: read_back(&row, "created_at", time(r.get(5)?))?,
        id,
    })
}

const TENANT_COLUMNS: &str = "id, name, created_at";

fn tenant_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Tenant> {
    let id: String = r.get(0)?;
    Ok(Tenant {
        name: r.get(1)?,
        created_at: read_back(&format!("tenants row {id}"), "created_at", time(r.get(2)?))?,
        id,
    })
}

const KEY_COLUMNS: &str = "id, tenant_id, name, scopes, hash, created_at";

impl Inner {
    pub(crate) fn create_tenant(&self, t: &Tenant) -> Result<()> {
        self.write(|conn| {
            let tx = conn.transaction().map_err(sql_err)?;
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM tenants WHERE name = ?)",
                    [&t.name],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            if exists {
                return Err(Error::conflict(
                    Code::TenantNameTaken,
                    format!("a tenant named '{}' already exists", t.name),
                ));
            }
            tx.execute(
                "INSERT INTO tenants(id, name, created_at) VALUES (?, ?, ?)",
                params![t.id, t.name, micros(t.created_at)],
            )
            .map_err(sql_err)?;
            let seq = tx.last_insert_rowid();
            tx.commit().map_err(sql_err)?;
            match self.indexes.get() {
                Some(v) => v.add_tenant(seq, &t.id),
                None => Ok(()),
            }
        })
    }

    pub(crate) fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.read(|c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY seq"
                ))
                .map_err(sql_err)?;
            stmt.query_map([], tenant_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }

    pub(crate) fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?"),
                [&id],
                tenant_from_row,
            )
            .optional()
            .map_err(sql_err)
        })
    }

    pub(crate) fn delete_tenant(&self, id: &str) -> Result<bool> {
        self.write(|conn| {
            let Some(seq) = tenant_seq(conn, id)? else {
                return Ok(false);
            };
            let tx = conn.transaction().map_err(sql_err)?;
            tx.execute("DELETE FROM memories WHERE tenant_id = ?", [&id])
                .map_err(sql_err)?;
            tx.execute("DELETE FROM idempotency WHERE tenant_id = ?", [&id])
                .map_err(sql_err)?;
            tx.execute("DELETE FROM conversations WHERE tenant_id = ?", [&id])
                .map_err(sql_err)?;
            tx.execute("DELETE FROM imports WHERE tenant_id = ?", [&id])
                .map_err(sql_err)?;
            tx.execute("DELETE FROM documents WHERE tenant_id = ?", [&id])
                .map_err(sql_err)?;
            crate::graph::delete_tenant_graph(&tx, id)?;
            tx.execute("DELETE FROM api_keys WHERE tenant_id = ?", [&id])
                .map_err(sql_err)?;
            tx.execute("DELETE FROM index_log WHERE tenant_seq = ?", [seq])
                .map_err(sql_err)?;
            tx.execute("DELETE FROM tenants WHERE id = ?", [&id])
                .map_err(sql_err)?;
            tx.commit().map_err(sql_err)?;
            if let Some(v) = self.indexes.get() {
                v.drop_tenant(seq);
            }
            crate::documents::remove_tenant_uploads(&self.dir, seq);
            Ok(true)
        })
    }

    pub(crate) fn create_key(&self, key: &ApiKey) -> Result<()> {
        self.write(|conn| {
            require_tenant(conn, &key.tenant_id)?;
            let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
            conn.execute(
                &format!("INSERT INTO api_keys({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"),
                params![
                    key.id,
                    key.tenant_id,
                    key.name,
                    scopes.join(","),
                    key.hash,
                    micros(key.created_at)
                ],
            )
            .map_err(sql_err)?;
            Ok(())
        })
    }

    pub(crate) fn list_keys(&self, tenant_id: &str) -> Result<Vec<ApiKey>> {
        self.read(|c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at"
                ))
                .map_err(sql_err)?;
            stmt.query_map([&tenant_id], key_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }

    pub(crate) fn delete_key(&self, tenant_id: &str, key_id: &str) -> Result<bool> {
        self.write(|conn| {
            let n = conn
                .execute(
                    "DELETE FROM api_keys WHERE tenant_id = ? AND id = ?",
                    params![tenant_id, key_id],
                )
                .map_err(sql_err)?;
            Ok(n > 0)
        })
    }

    pub(crate) fn find_key(&self, hash: &str) -> Result<Option<ApiKey>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?"),
                [&hash],
                key_from_row,
            )
            .optional()
            .map_err(sql_err)
        })
    }
}
